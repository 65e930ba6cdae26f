from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0015_liaison')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GridAssignment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(db_index=True)),
                ('enterprise', fields.ForeignKeyField('desk.Enterprise', source_field='enterprise_id', db_constraint=True, to_field='id', related_name='grid_assignments', on_delete=OnDelete.CASCADE)),
                ('added_by', fields.CharField(default='', max_length=128)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'grid_assignment', 'app': 'desk', 'unique_together': (('user_id', 'enterprise_id'),), 'pk_attr': 'id', 'table_description': "One enterprise on one grid worker's list (kept in the admin web)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GridDraft',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(unique=True)),
                ('chat_id', fields.BigIntField()),
                ('step', fields.CharField(default='pick', max_length=8)),
                ('enterprise', fields.ForeignKeyField('desk.Enterprise', source_field='enterprise_id', null=True, db_constraint=True, to_field='id', related_name='grid_drafts', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(default='', unique=False)),
                ('file', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'grid_draft', 'app': 'desk', 'pk_attr': 'id', 'table_description': "A grid worker's ``/submit`` in progress, kept in the database (several workers share it)."},
            bases=['Model'],
        ),
    ]

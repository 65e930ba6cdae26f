from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0014_webchat')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LiaisonReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('department_code', fields.CharField(max_length=16)),
                ('month', fields.CharField(max_length=7)),
                ('status', fields.CharField(default='draft', max_length=16)),
                ('parts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('author_user_id', fields.BigIntField(null=True)),
                ('author_name', fields.CharField(default='', max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'liaison_report', 'app': 'desk', 'unique_together': (('department_code', 'month'),), 'pk_attr': 'id', 'table_description': "One department's report for one month (any of its liaison officers may fill it)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LiaisonSession',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(unique=True)),
                ('chat_id', fields.BigIntField()),
                ('report', fields.ForeignKeyField('desk.LiaisonReport', source_field='report_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('step', fields.SmallIntField(default=1)),
                ('single', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'liaison_session', 'app': 'desk', 'pk_attr': 'id', 'table_description': "A liaison officer filling a report in the private chat (the dialog's state)."},
            bases=['Model'],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0009_guide')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GuideAnswer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('desk.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='guide_answers', on_delete=OnDelete.CASCADE)),
                ('question', fields.TextField(unique=False)),
                ('item_code', fields.CharField(max_length=64)),
                ('score', fields.FloatField(default=0.0)),
                ('state', fields.CharField(default='offered', db_index=True, max_length=16)),
                ('ticket', fields.ForeignKeyField('desk.Ticket', source_field='ticket_id', null=True, db_constraint=True, to_field='id', related_name='guide_answers', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'guide_answer', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A question the service guide answered in the chat before any ticket (answer first).'},
            bases=['Model'],
        ),
    ]

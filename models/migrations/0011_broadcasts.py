from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0010_guide_answers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Broadcast',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('topic', fields.CharField(max_length=16)),
                ('title', fields.CharField(max_length=128)),
                ('text', fields.TextField(unique=False)),
                ('created_by', fields.CharField(max_length=128)),
                ('recipients', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'broadcast', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'One message sent to every enterprise contact that did not opt out of its topic.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TopicOptOut',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('desk.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='topic_opt_outs', on_delete=OnDelete.CASCADE)),
                ('topic', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'topic_opt_out', 'app': 'desk', 'unique_together': (('member', 'topic'),), 'pk_attr': 'id', 'table_description': "A contact who does not want one topic's broadcasts (every contact gets them unless)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='bulk',
            field=fields.BooleanField(default=False),
        ),
    ]

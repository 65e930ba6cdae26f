from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0002_routing_calendar')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExtensionRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('desk.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='extensions', on_delete=OnDelete.CASCADE)),
                ('requested_by_id', fields.BigIntField(null=True)),
                ('requested_by_name', fields.CharField(default='', max_length=128)),
                ('reason', fields.TextField(unique=False)),
                ('old_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('new_due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='pending', max_length=10)),
                ('decided_by_id', fields.BigIntField(null=True)),
                ('decided_by_name', fields.CharField(default='', max_length=128)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'extension_request', 'app': 'desk', 'pk_attr': 'id', 'table_description': "A department's request for a later deadline (申请延期), decided by a manager."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SlaMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('desk.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='sla_marks', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'sla_mark', 'app': 'desk', 'unique_together': (('ticket_id', 'key'),), 'pk_attr': 'id', 'table_description': 'A reminder or escalation step already taken for a ticket (unique: never twice).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SlaPolicy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('type', fields.CharField(max_length=4)),
                ('urgent', fields.BooleanField(default=False)),
                ('department_code', fields.CharField(null=True, max_length=16)),
                ('respond_hours', fields.FloatField()),
                ('respond_clock', fields.BooleanField(default=False)),
                ('resolve_days', fields.IntField()),
                ('resolve_hours', fields.FloatField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sla_policy', 'app': 'desk', 'unique_together': (('type', 'urgent', 'department_code'),), 'pk_attr': 'id', 'table_description': 'Targets for one request type and urgency, optionally for one department only.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Department',
            name='leader_user_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Ticket',
            name='due_estimated',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='paused_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='response_due_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_start_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]

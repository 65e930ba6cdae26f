from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('desk', '0005_message_files')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=96)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'job_run', 'app': 'desk', 'pk_attr': 'key', 'table_description': 'A scheduled job already done for its key (e.g. the daily digest of one group and day).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxFile',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=128)),
                ('mime', fields.CharField(max_length=128)),
                ('data', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'outbox_file', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A file an outbox message sends (a generated report), kept until it was delivered.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportJob',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat_id', fields.BigIntField()),
                ('user_id', fields.BigIntField(null=True)),
                ('kind', fields.CharField(default='briefing', max_length=16)),
                ('period', fields.CharField(max_length=16)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=10)),
                ('attempts', fields.SmallIntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'report_job', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A document someone asked for (the monthly briefing), built by a background worker.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoleGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('role', fields.CharField(max_length=16)),
                ('name', fields.CharField(default='', max_length=128)),
                ('department_code', fields.CharField(null=True, max_length=16)),
                ('granted_by', fields.BigIntField(null=True)),
                ('granted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'role_grant', 'app': 'desk', 'unique_together': (('user_id', 'role'),), 'pk_attr': 'id', 'table_description': 'One user holding one role (a revoked grant is deleted, the log keeps the history).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Ticket',
            name='claim_hours',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='Ticket',
            name='dispatched_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='resolve_hours',
            field=fields.FloatField(null=True),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['created_at', 'department_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['dispatched_at', 'department_id', 'status', 'claimed_at', 'response_due_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['claimed_at', 'department_id', 'claim_hours', 'id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['resolved_at', 'department_id', 'status', 'due_at', 'resolve_hours', 'id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['due_at', 'department_id', 'status', 'resolved_at', 'id']),
        ),
        ops.AddField(
            model_name='TicketEvent',
            name='department_id',
            field=fields.IntField(null=True),
        ),
        ops.AddIndex(
            model_name='TicketEvent',
            index=Index(fields=['ticket_id', 'id']),
        ),
        # The statistics count these events by department, action and note: a partial index
        # holding exactly those columns lets PostgreSQL answer from the index alone. Written by
        # hand: Tortoise's index declarations cannot say WHERE. (SQLite supports it too.)
        ops.RunSQL(
            "CREATE INDEX idx_ticket_event_stats ON ticket_event (at, department_id, action, note, id) "
            "WHERE action IN ('rate', 'reopen', 'return', 'transfer', 'supervise')",
            reverse_sql="DROP INDEX idx_ticket_event_stats",
        ),
    ]

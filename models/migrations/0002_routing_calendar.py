from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.calendar import DayKind, DaySource
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarDay',
            fields=[
                ('day', fields.DateField(primary_key=True, unique=True, db_index=True)),
                ('workday', fields.BooleanField()),
                ('kind', fields.CharEnumField(description='HOLIDAY: holiday\nMAKEUP: makeup\nWORKDAY: workday\nWEEKEND: weekend', enum_type=DayKind, max_length=8)),
                ('name', fields.CharField(default='', max_length=64)),
                ('source', fields.CharEnumField(db_index=True, description='CHINESE_CALENDAR: chinese_calendar\nADMIN: admin', enum_type=DaySource, max_length=16)),
                ('updated_by', fields.CharField(default='', max_length=128)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'calendar_day', 'app': 'desk', 'pk_attr': 'day', 'table_description': 'One day of the working calendar: whether it is worked, what kind of day, and why.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RouterModel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.CharField(max_length=64)),
                ('data', fields.BinaryField()),
                ('trained_on', fields.IntField(default=0)),
                ('metrics', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active', fields.BooleanField(default=False, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'router_model', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A trained text model (serialised by ``nlp``). The active one is what every process uses.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoutingExample',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('text', fields.TextField(unique=False)),
                ('department', fields.CharField(max_length=16)),
                ('type', fields.CharField(null=True, max_length=4)),
                ('urgent', fields.BooleanField(null=True)),
                ('source', fields.CharField(max_length=16)),
                ('predicted', fields.CharField(null=True, max_length=16)),
                ('ticket_id', fields.IntField(null=True, db_index=True)),
                ('actor_id', fields.BigIntField(null=True)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'routing_example', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A labelled message: a triage decision, a transfer or an accepted return, or an import.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoutingRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('spec', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('source', fields.CharField(default='default', max_length=8)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('updated_by', fields.CharField(default='', max_length=128)),
            ],
            options={'table': 'routing_rule', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'The rule spec of one department (terms, weights, negatives), or ``_global`` settings.'},
            bases=['Model'],
        ),
    ]

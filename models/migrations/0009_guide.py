from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0008_audit_log')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ServiceItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('department_code', fields.CharField(db_index=True, max_length=16)),
                ('name', fields.CharField(max_length=128)),
                ('aliases', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('conditions', fields.TextField(default='', unique=False)),
                ('materials', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('steps', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('time_limit', fields.CharField(default='', max_length=255)),
                ('fees', fields.CharField(default='', max_length=255)),
                ('location', fields.TextField(default='', unique=False)),
                ('online_url', fields.CharField(default='', max_length=512)),
                ('contact', fields.CharField(default='', max_length=255)),
                ('sort', fields.IntField(default=0)),
                ('active', fields.BooleanField(default=True)),
                ('source', fields.CharField(default='default', max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'service_item', 'app': 'desk', 'pk_attr': 'id', 'table_description': "One service item (服务事项) of a department's service list."},
            bases=['Model'],
        ),
    ]

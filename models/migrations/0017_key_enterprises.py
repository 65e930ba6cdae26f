from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0016_grid_workers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='KeyAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('enterprise_id', fields.IntField(unique=True)),
                ('kind', fields.CharField(max_length=16)),
                ('project', fields.CharField(default='', max_length=128)),
                ('butler_user_id', fields.BigIntField(db_index=True)),
                ('butler_name', fields.CharField(max_length=128)),
                ('respond_hours', fields.FloatField(null=True)),
                ('resolve_days', fields.IntField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'key_account', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'An enterprise marked key, with its butler and an optional stricter SLA.'},
            bases=['Model'],
        ),
    ]

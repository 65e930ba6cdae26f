from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0011_broadcasts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Listing',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('desk.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='listings', on_delete=OnDelete.CASCADE)),
                ('enterprise_id', fields.IntField(db_index=True)),
                ('kind', fields.CharField(max_length=8)),
                ('text', fields.TextField(unique=False)),
                ('industry', fields.CharField(null=True, max_length=16)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'listing', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A need (``need``, 【泰企需】) or an offer (``offer``, 【泰服企】) one contact posted.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Introduction',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('need', fields.ForeignKeyField('desk.Listing', source_field='need_id', db_constraint=True, to_field='id', related_name='as_need', on_delete=OnDelete.CASCADE)),
                ('offer', fields.ForeignKeyField('desk.Listing', source_field='offer_id', db_constraint=True, to_field='id', related_name='as_offer', on_delete=OnDelete.CASCADE)),
                ('need_agreed', fields.BooleanField(null=True)),
                ('offer_agreed', fields.BooleanField(null=True)),
                ('state', fields.CharField(default='asked', max_length=16)),
                ('created_by', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'introduction', 'app': 'desk', 'unique_together': (('need', 'offer'),), 'pk_attr': 'id', 'table_description': 'The hotline office introduces a need to an offer.'},
            bases=['Model'],
        ),
    ]

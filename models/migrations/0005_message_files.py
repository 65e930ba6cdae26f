from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0004_inbox')]

    initial = False

    operations = [
        ops.AddField(
            model_name='TicketMessage',
            name='file_mime',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='TicketMessage',
            name='file_name',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='TicketMessage',
            name='file_size',
            field=fields.BigIntField(null=True),
        ),
    ]

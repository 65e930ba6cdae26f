from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0012_matching')]

    initial = False

    operations = [
        ops.AddField(
            model_name='GuideAnswer',
            name='draft',
            field=fields.ForeignKeyField('desk.Draft', source_field='draft_id', null=True, db_constraint=True, to_field='id', related_name='guide_answers', on_delete=OnDelete.SET_NULL),
        ),
    ]

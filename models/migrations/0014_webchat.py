from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('desk', '0013_guide_answer_draft')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FileFetch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tg_file_id', fields.CharField(max_length=255)),
                ('name', fields.CharField(max_length=255)),
                ('mime', fields.CharField(max_length=128)),
                ('chat_id', fields.BigIntField()),
                ('ticket_id', fields.IntField(null=True)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('state', fields.CharField(default='pending', db_index=True, max_length=8)),
                ('attempts', fields.SmallIntField(default=0)),
                ('not_before', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'file_fetch', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A file staff sent in Telegram for an enterprise on the web chat, to be fetched.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SignInCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(db_index=True, max_length=20)),
                ('code_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attempts', fields.SmallIntField(default=0)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivered_by', fields.CharField(default='', max_length=32)),
            ],
            options={'table': 'signin_code', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A one-time sign-in code: only its hash is kept, with its expiry and failed tries.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebChatMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat_id', fields.BigIntField(db_index=True)),
                ('direction', fields.CharField(max_length=3)),
                ('html', fields.TextField(unique=False)),
                ('buttons', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('outbox_id', fields.BigIntField(null=True)),
                ('part', fields.SmallIntField(default=0)),
                ('ticket_id', fields.IntField(null=True)),
                ('role', fields.CharField(null=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('file_id', fields.BigIntField(null=True)),
                ('file_name', fields.CharField(null=True, max_length=255)),
                ('seq', fields.BigIntField(db_index=True)),
            ],
            options={'table': 'web_chat_message', 'app': 'desk', 'unique_together': (('outbox_id', 'part'),), 'pk_attr': 'id', 'table_description': "One message of a web chat, in either direction (the page's history)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(unique=True, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_identity', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'A phone number that signed in to the web chat (verified with a one-time code).'},
            bases=['Model'],
        ),
    ]

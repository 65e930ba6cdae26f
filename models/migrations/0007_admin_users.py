from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('desk', '0006_managers_view')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginFailure',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(max_length=64)),
                ('ip', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_login_failure', 'app': 'desk', 'indexes': [Index(fields=['username', 'ip', 'at'])], 'pk_attr': 'id', 'table_description': 'One failed login, keyed by username and client address (the throttle counts them).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebUser',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('role', fields.CharField(max_length=16)),
                ('department_code', fields.CharField(null=True, max_length=16)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_login', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_user', 'app': 'desk', 'pk_attr': 'id', 'table_description': 'One person who logs in to the admin web, with an argon2 password hash.'},
            bases=['Model'],
        ),
    ]

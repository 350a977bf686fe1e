from __future__ import annotations

from django.db import migrations


def create_default_group(apps, schema_editor):
    SecretGroup = apps.get_model("secrets_app", "SecretGroup")
    SecretGroup.objects.get_or_create(
        pk="default",
        defaults={"name": "default", "description": "Default Secret Group", "created_by": "system"},
    )


class Migration(migrations.Migration):
    dependencies = [("secrets_app", "0001_initial")]
    operations = [migrations.RunPython(create_default_group, migrations.RunPython.noop)]

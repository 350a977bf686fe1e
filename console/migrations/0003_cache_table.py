"""Create the database cache's table with `migrate`, so no deployment forgets `createcachetable`.

The throttles count failures in the cache (settings.CACHES); without the table every sign-in would
fail. The command does nothing when the cache is not a database cache (Redis), or the table exists.
"""

from __future__ import annotations

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("console", "0002_wizarddraft")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]

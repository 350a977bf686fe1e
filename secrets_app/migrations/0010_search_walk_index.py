# The Secrets table at scale (issue 13): on SQLite, an index for the page that walks the default
# order testing each row (a search or label filter with many matches), holding every column the
# walk tests and reads, so that it reads no table row (secrets_app/search_index.py).

from django.db import migrations


def install_walk_index(apps, schema_editor):
    from secrets_app import search_index

    search_index.install_walk_index(schema_editor.connection)


def uninstall_walk_index(apps, schema_editor):
    from secrets_app import search_index

    search_index.uninstall_walk_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("secrets_app", "0009_list_indexes_and_search"),
    ]

    operations = [
        migrations.RunPython(install_walk_index, uninstall_walk_index),
    ]

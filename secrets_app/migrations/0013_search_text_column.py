# The Secrets search on PostgreSQL (issue 13): the search text as a stored generated column with
# the trigram index on it (search_index.store_search_text), so that a walk of the default order
# tests one column per row before the search's exact conditions. Nothing on SQLite.

from django.db import migrations


def store_search_text(apps, schema_editor):
    from secrets_app import search_index

    search_index.store_search_text(schema_editor.connection)


def unstore_search_text(apps, schema_editor):
    from secrets_app import search_index

    search_index.unstore_search_text(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("secrets_app", "0012_search_index_without_pending_list"),
    ]

    operations = [migrations.RunPython(store_search_text, unstore_search_text)]

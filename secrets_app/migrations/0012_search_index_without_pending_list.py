# The Secrets search on PostgreSQL (issue 13): the trigram index without GIN's pending list
# (search_index._PG_INDEX_SQL), so that a search no longer reads every recent write's entries.

from django.db import migrations


def turn_off_pending_list(apps, schema_editor):
    from secrets_app import search_index

    search_index.turn_off_pending_list(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("secrets_app", "0011_secret_live_by_id"),
    ]

    # Backwards: the setting stays (an index with a pending list answers the same rows).
    operations = [migrations.RunPython(turn_off_pending_list, migrations.RunPython.noop)]

# The Secrets search on SQLite (issue 13): the FTS5 index made exact (search_index.make_exact):
# the rows the table shows, lower-cased, with a case-sensitive tokenizer, so that a search alone
# counts its matches on the index without reading a secret. Nothing on PostgreSQL.

from django.db import migrations


def make_exact(apps, schema_editor):
    from secrets_app import search_index

    search_index.make_exact(schema_editor.connection)


def make_inexact(apps, schema_editor):
    from secrets_app import search_index

    search_index.make_inexact(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("secrets_app", "0013_search_text_column"),
    ]

    operations = [migrations.RunPython(make_exact, make_inexact)]

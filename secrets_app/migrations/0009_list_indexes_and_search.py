# The Secrets table at scale (issue 13): indexes that match its default order and name order
# over the rows it shows, label rows indexed by name then secret, and the search index
# (secrets_app/search_index.py: SQLite FTS5 trigram, PostgreSQL pg_trgm).

from django.db import migrations, models


def install_search_index(apps, schema_editor):
    from secrets_app import search_index

    search_index.install(schema_editor.connection)


def uninstall_search_index(apps, schema_editor):
    from secrets_app import search_index

    search_index.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('secrets_app', '0008_lock_name_per_version'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='secretlabel',
            name='secrets_app_name_4a96e2_idx',
        ),
        migrations.AddIndex(
            model_name='secretlabel',
            index=models.Index(fields=['name', 'secret'], name='label_name_secret'),
        ),
        migrations.AddIndex(
            model_name='secret',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True), ('probe', False)), fields=['-updated_at', 'id'], name='secret_live_by_updated'),
        ),
        migrations.AddIndex(
            model_name='secret',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True), ('probe', False)), fields=['name', 'id'], name='secret_live_by_name'),
        ),
        migrations.RunPython(install_search_index, uninstall_search_index),
    ]

"""Every console user gets its IamUser row, which the IAM now makes with the user (signals.py)
instead of on the user's first page."""

from django.conf import settings
from django.db import migrations


def make_missing_iam_users(apps, schema_editor):
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    account_model = apps.get_model("iam", "Account")
    iam_user_model = apps.get_model("iam", "IamUser")
    missing = user_model.objects.filter(iam__isnull=True).order_by("pk")
    if not missing.exists():
        return
    account, _ = account_model.objects.get_or_create(
        pk=settings.SM_ACCOUNT_ID, defaults={"name": "Embedded account"}
    )
    iam_user_model.objects.bulk_create(
        # console.identity.iam_id_for_user, as it is written today.
        iam_user_model(iam_id=f"IBMid-{user.pk:010d}", user=user, account=account)
        for user in missing
    )


class Migration(migrations.Migration):
    dependencies = [
        ("iam", "0002_api_key_protected"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(make_missing_iam_users, migrations.RunPython.noop)]

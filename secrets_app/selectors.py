"""Read queries for the console's lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db.models import CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import Combinable, OrderBy
from django.db.models.functions import Cast, Replace
from django.utils import timezone

from secrets_app.models import Secret, SecretGroup, SecretLabel

# Sort keys offered in the table, mapped to ORDER BY columns (id last, for a stable order).
# Secrets that never expire come last in both directions, on SQLite and PostgreSQL alike.
SECRET_SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "id"),
    "secret_type": ("secret_type", "name", "id"),
    "-secret_type": ("-secret_type", "name", "id"),
    "group": ("secret_group__name", "name", "id"),
    "-group": ("-secret_group__name", "name", "id"),
    "state": ("state", "name", "id"),
    "-state": ("-state", "name", "id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "id"),
    "updated_at": ("updated_at", "id"),
    "-updated_at": ("-updated_at", "id"),
    "expiration_date": (F("expiration_date").asc(nulls_last=True), "id"),
    "-expiration_date": (F("expiration_date").desc(nulls_last=True), "id"),
}
# The table's "Expires within" filter: its query-string values and how far ahead each looks.
EXPIRES_WITHIN: dict[str, tuple[str, timedelta]] = {
    "1d": ("1 day", timedelta(days=1)),
    "7d": ("7 days", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
}
DEFAULT_SECRET_SORT = "-updated_at"


def secret_table(
    *,
    search: str = "",
    secret_types: Sequence[str] = (),
    group_ids: Sequence[str] = (),
    states: Sequence[int] = (),
    labels: Sequence[str] = (),
    sort: str = DEFAULT_SECRET_SORT,
    readable_group_ids: set[str] | None = None,
    expires_within: timedelta | None = None,
) -> QuerySet[Secret]:
    """Secrets matching every given filter; `search` looks in name, description, labels, id and type.

    `readable_group_ids` limits the result to the groups the viewer may read (None: all groups).
    `expires_within` keeps the secrets whose expiration date is still ahead, within that time.
    """
    qs = Secret.objects.select_related("secret_group").filter(probe=False)
    if readable_group_ids is not None:
        qs = qs.filter(secret_group_id__in=readable_group_ids)
    if search:
        label_hit = SecretLabel.objects.filter(secret=OuterRef("pk"), name__icontains=search)
        # Q | Exists is a Q at runtime, but django-stubs types it through Combinable.__ror__.
        matches: Q | Combinable = (
            Q(name__icontains=search)
            | Q(description__icontains=search)
            | Q(secret_type__icontains=search)
            | Exists(label_hit)
        )
        hex_part = search.strip().lower().replace("-", "")
        if len(hex_part) >= 2 and all(c in "0123456789abcdef" for c in hex_part):
            # A UUID's text form differs by database (with dashes on PostgreSQL, without in
            # SQLite), so compare both sides without dashes.
            qs = qs.annotate(id_hex=Replace(Cast("id", CharField()), Value("-"), Value("")))
            matches |= Q(id_hex__contains=hex_part)
        qs = qs.filter(matches)
    if secret_types:
        qs = qs.filter(secret_type__in=secret_types)
    if group_ids:
        qs = qs.filter(secret_group_id__in=group_ids)
    if states:
        qs = qs.filter(state__in=states)
    for label in labels:
        qs = qs.filter(Exists(SecretLabel.objects.filter(secret=OuterRef("pk"), name=label)))
    if expires_within is not None:
        now = timezone.now()
        qs = qs.filter(expiration_date__gt=now, expiration_date__lte=now + expires_within)
    return qs.order_by(*SECRET_SORTS.get(sort, SECRET_SORTS[DEFAULT_SECRET_SORT]))


def group_list_with_counts(groups: QuerySet[SecretGroup]) -> QuerySet[SecretGroup]:
    """The given groups (those the viewer may read) with how many secrets each holds.

    Whoever may read a group may read every secret in it, so the count shows nothing hidden.
    """
    return groups.annotate(secret_count=Count("secrets", filter=Q(secrets__probe=False))).order_by(
        "name"
    )

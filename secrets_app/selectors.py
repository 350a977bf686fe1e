"""Read queries for the console's lists.

The Secrets table's rows: `secret_table` (the filters, search and sort, as a queryset, which the
API pages too) and `SecretRow` (a row's cells, formatted here, so the template only prints);
how the table reads one page of them, counted, is secrets_app.table_page's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypedDict
from uuid import UUID

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.expressions import OrderBy, RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from secrets_app import search_index
from secrets_app.models import (
    STATE_DESCRIPTIONS,
    Secret,
    SecretGroup,
    SecretLabel,
    SecretState,
    SecretType,
)

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
# The table counts matches up to this many; beyond, it says "more than" (and pages on).
COUNT_CAP = 200
DESCRIPTION_SHOWN = 80  # characters of the description under a name


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
    many_matches: bool = False,
) -> QuerySet[Secret]:
    """Secrets matching every given filter; `search` looks in name, description, labels, id and type.

    `readable_group_ids` limits the result to the groups the viewer may read (None: all groups).
    `expires_within` keeps the secrets whose expiration date is still ahead, within that time.
    `many_matches` (the same rows either way) suits filters that match many secrets: the
    database then reads rows in the sort order and tests each one, instead of collecting every
    match from the label and search indexes first.
    """
    qs = Secret.objects.select_related("secret_group").filter(probe=False)
    if readable_group_ids is not None:
        qs = qs.filter(secret_group_id__in=readable_group_ids)
    if search:
        qs = _search(qs, search, use_index=not many_matches)
    if secret_types:
        qs = qs.filter(secret_type__in=secret_types)
    if group_ids:
        qs = qs.filter(secret_group_id__in=group_ids)
    if states:
        qs = qs.filter(state__in=states)
    for label in labels:
        if many_matches:
            qs = qs.filter(Exists(SecretLabel.objects.filter(secret=OuterRef("pk"), name=label)))
        else:
            # A join on the label index (one row per secret and name): read lazily, so a capped
            # count stops after as many label rows as it counts.
            qs = qs.filter(label_rows__name=label)
    if expires_within is not None:
        now = timezone.now()
        qs = qs.filter(expiration_date__gt=now, expiration_date__lte=now + expires_within)
    return qs.order_by(*SECRET_SORTS.get(sort, SECRET_SORTS[DEFAULT_SECRET_SORT]))


def _search_terms(search: str) -> tuple[list[str], str]:
    """What the search index is asked for: the term, and its hex digits when it may be (part
    of) an id (else "")."""
    hex_part = search.strip().lower().replace("-", "")
    if len(hex_part) >= 2 and all(c in "0123456789abcdef" for c in hex_part):
        return [search, hex_part], hex_part
    return [search], ""


# A term the labels' JSON text holds verbatim wherever a label holds it: printable ASCII other
# than the quote and backslash that JSON escapes (Django writes JSON with ensure_ascii).
_JSON_VERBATIM = re.compile(r"[ !#-\[\]-~]+")


def _search(qs: QuerySet[Secret], search: str, *, use_index: bool) -> QuerySet[Secret]:
    terms, hex_part = _search_terms(search)
    if use_index or search_index.tests_each_row(connection):
        qs = search_index.narrow(qs, terms)
    return qs.filter(_matches(search, hex_part))


def _matches(search: str, hex_part: str) -> RawSQL:
    """Whether the row's name, description, type or one of its labels holds `search` as
    `icontains` compares (UPPER() on PostgreSQL; SQLite's LIKE, which ignores the case of ASCII
    letters), or its id's hex digits hold `hex_part` (as `contains`); one condition written
    here, in the SQL Django writes for those lookups.

    The same Q objects (three icontains, the labels' and the id's) cost 0.3 ms a page to
    resolve and compile, twice per page (issue 13's profile). The labels are the row's own
    JSON column (which the services write together with the label rows), not a subquery on the
    label table: PostgreSQL's planner ran that subquery as a hashed subplan, one scan of every
    label (22 ms at 100k secrets) before the first row; on SQLite it was an index lookup per
    row tested."""
    pattern = f"%{connection.ops.prep_for_like_query(search)}%"
    table = connection.ops.quote_name(Secret._meta.db_table)
    name, description, kind, labels, key = (
        f"{table}.{connection.ops.quote_name(column)}"
        for column in ("name", "description", "secret_type", "labels", "id")
    )
    if connection.vendor == "postgresql":
        like = "UPPER({}::text) LIKE UPPER(%s)"
        label_hit = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({labels}) AS label(name) "
            "WHERE UPPER(label.name) LIKE UPPER(%s))"
        )
        id_hit = f"REPLACE(({key})::varchar, '-', '') LIKE %s"
    else:
        like = "{} LIKE %s ESCAPE '\\'"
        label_hit = (
            f"EXISTS (SELECT 1 FROM json_each({labels}) AS label "
            "WHERE label.value LIKE %s ESCAPE '\\')"
        )
        id_hit = f"REPLACE(CAST({key} AS text), '-', '') LIKE %s ESCAPE '\\'"
    params = [pattern, pattern, pattern]
    if _JSON_VERBATIM.fullmatch(search):
        # Look for the term in the labels column as text first, so the labels are looked at
        # one by one only in the rows whose labels may hold it.
        label_hit = f"({like.format(labels)} AND {label_hit})"
        params.append(pattern)
    params.append(pattern)
    conditions = [like.format(name), like.format(description), like.format(kind), label_hit]
    if hex_part:
        # A UUID's text form differs by database (with dashes on PostgreSQL, without in
        # SQLite), so compare both sides without dashes.
        conditions.append(id_hit)
        params.append(f"%{connection.ops.prep_for_like_query(hex_part)}%")
    return RawSQL("(" + " OR ".join(conditions) + ")", params, output_field=BooleanField())


# ---------------------------------------------------------------------------------------------
# The Secrets table's page


class SecretRow(TypedDict):
    """One row of the Secrets table, every cell ready to print. A dict, not an object: the
    template engine tries a key before an attribute, so a dict's cells print fastest."""

    id: str
    url: str
    name: str
    description: str
    type_label: str
    group_name: str
    state_label: str
    state_description: str
    labels: list[str]
    expires_iso: str
    expires_text: str
    expires_note: str  # "lease ended" / "expired" once the expiration date has passed
    created_iso: str
    created_text: str
    updated_iso: str
    updated_text: str


@dataclass(frozen=True)
class SecretTablePage:
    """A page of the table: its rows, and how many secrets match (exactly, or more than)."""

    rows: list[SecretRow]
    number: int
    count: int  # exact when count_exact, else the table holds more than this many
    count_exact: bool
    num_pages: int | None  # None: more pages than counted
    page_size: int

    @property
    def count_shown(self) -> str:
        return f"{self.count:,}"

    @property
    def pages_shown(self) -> str:
        """ "4", or "more than 40" when the count stopped at the cap."""
        if self.num_pages is not None:
            return f"{self.num_pages:,}"
        return f"more than {self.count // self.page_size:,}"

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.num_pages is None or self.number < self.num_pages

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next


_ROW_COLUMNS = (
    "id",
    "name",
    "description",
    "secret_type",
    "secret_group__name",
    "state",
    "labels",
    "expiration_date",
    "created_at",
    "updated_at",
)
_TYPE_LABELS = dict(SecretType.choices)
_STATE_LABELS = {int(value): str(label) for value, label in SecretState.choices}
_STATE_DESCRIPTIONS = {int(state): text for state, text in STATE_DESCRIPTIONS.items()}
_URL_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def _rows(values: list[tuple[Any, ...]]) -> list[SecretRow]:
    now = timezone.now()
    zone = timezone.get_current_timezone()
    url = reverse("secrets:detail", args=[_URL_PLACEHOLDER])
    out = []
    for sid, name, description, kind, group, state, labels, expires, created, updated in values:
        key = str(sid) if isinstance(sid, UUID) else str(UUID(str(sid)))
        note = ""
        if expires is not None and expires <= now:
            note = "expired" if state == SecretState.DESTROYED else "lease ended"
        if len(description) > DESCRIPTION_SHOWN:
            description = Truncator(description).chars(DESCRIPTION_SHOWN)
        expires_iso, expires_text = _moment(expires, zone)
        created_iso, created_text = _moment(created, zone)
        updated_iso, updated_text = _moment(updated, zone)
        out.append(
            SecretRow(
                id=key,
                url=url.replace(_URL_PLACEHOLDER, key),
                name=name,
                description=description,
                type_label=str(_TYPE_LABELS.get(kind, kind)),
                group_name=group,
                state_label=_STATE_LABELS.get(state, str(state)),
                state_description=_STATE_DESCRIPTIONS.get(state, ""),
                labels=[str(label) for label in labels or ()],
                expires_iso=expires_iso,
                expires_text=expires_text,
                expires_note=note,
                created_iso=created_iso,
                created_text=created_text,
                updated_iso=updated_iso,
                updated_text=updated_text,
            )
        )
    return out


def _moment(moment: datetime | None, zone: tzinfo) -> tuple[str, str]:
    """A time as the table shows it: ISO 8601 to the second for <time datetime>, and
    "YYYY-MM-DD HH:MM", both in the current time zone (as the `date` filter would print them).
    (Microseconds, random digits, cost the list page about 100 bytes after compression.)"""
    if moment is None:
        return "", ""
    local = moment.astimezone(zone)
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    return local.isoformat(timespec="seconds"), text


def group_list_with_counts(groups: QuerySet[SecretGroup]) -> QuerySet[SecretGroup]:
    """The given groups (those the viewer may read) with how many secrets each holds.

    Whoever may read a group may read every secret in it, so the count shows nothing hidden.
    """
    return groups.annotate(secret_count=Count("secrets", filter=Q(secrets__probe=False))).order_by(
        "name"
    )

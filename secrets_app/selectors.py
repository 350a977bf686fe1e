"""Read queries for the console's lists.

The Secrets table reads at most a page of rows and counts at most `COUNT_CAP` matches (past
that, the table says "more than 200"), so its cost does not grow with the number of secrets:

- its default order and the name order are partial indexes over the rows it shows (live
  secrets that are not configuration probes), so a page is an index range;
- a label filter joins the label index (name, then secret) instead of a correlated EXISTS per
  row;
- the search asks the search index (secrets_app.search_index) for candidates, then keeps the
  candidates that match exactly;
- when the filters match more rows than the cap and the label and search indexes hold many
  candidates, the page walks the sort index instead and tests each row (with many matches a
  page is met after a few rows), rather than collecting and sorting every match; on SQLite
  the default order has an index that holds every column the walk tests and shows
  (search_index.WALK_INDEX), so the walk reads no table row, and the list in that order is
  read the same way; on PostgreSQL a search in the default order counts first and walks when
  the count passes the cap (_counts_first), and looks in each row's own labels column;
- on PostgreSQL, where each query is a round trip, the capped count is a subquery of the
  page's own query (_page_with_count, _search_page);
- the rows come out as `SecretRow`s, their cells formatted here, so the template only prints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypedDict
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import Combinable, OrderBy, RawSQL
from django.db.models.functions import Cast, Replace
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
# A search or label index holding more candidates than this: the page walks the sort order.
WALK_AFTER = 1000
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
    # The row's own labels (its JSON column, which the services write together with the label
    # rows), not a subquery on the label table. PostgreSQL's planner ran that subquery as a
    # hashed subplan, one scan of every label (22 ms at 100k secrets) before the first row;
    # on SQLite it was an index lookup per row tested, and compiling it cost 0.4 ms a query
    # (issue 13's profile).
    label_hit: Q | Combinable = _row_label_contains(search)
    if _JSON_VERBATIM.fullmatch(search):
        # Look for the term in the labels column as text first, so the labels are looked at
        # one by one only in the rows whose labels may hold it.
        label_hit = Q(labels__icontains=search) & label_hit
    # Q | RawSQL is a Q at runtime, but django-stubs types it through Combinable.__ror__.
    matches: Q | Combinable = (
        Q(name__icontains=search)
        | Q(description__icontains=search)
        | Q(secret_type__icontains=search)
        | label_hit
    )
    terms, hex_part = _search_terms(search)
    if hex_part:
        # A UUID's text form differs by database (with dashes on PostgreSQL, without in
        # SQLite), so compare both sides without dashes.
        qs = qs.annotate(id_hex=Replace(Cast("id", CharField()), Value("-"), Value("")))
        matches |= Q(id_hex__contains=hex_part)
    if use_index:
        qs = search_index.narrow(qs, terms)
    return qs.filter(matches)


def _row_label_contains(search: str) -> RawSQL:
    """Whether one of the row's labels holds `search`, as `icontains` compares: UPPER() on
    PostgreSQL, SQLite's LIKE (which ignores the case of ASCII letters) there."""
    pattern = f"%{connection.ops.prep_for_like_query(search)}%"
    if connection.vendor == "postgresql":
        sql = (
            'EXISTS (SELECT 1 FROM jsonb_array_elements_text("secrets_app_secret"."labels") '
            "AS label(name) WHERE UPPER(label.name) LIKE UPPER(%s))"
        )
    else:
        sql = (
            'EXISTS (SELECT 1 FROM json_each("secrets_app_secret"."labels") AS label '
            "WHERE label.value LIKE %s ESCAPE '\\')"
        )
    return RawSQL(sql, [pattern], output_field=BooleanField())


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


def secret_table_page(*, page: int, page_size: int, **filters: Any) -> SecretTablePage:
    """The `page`th page of `secret_table(**filters)` (the last one if it is past the end).

    A count that stops after COUNT_CAP matches (or after the requested page, when it lies
    further) and the page's rows; with a search or label filter, first a look at those indexes
    alone (how many candidates they hold) to choose how the rows are read when there are many.
    Three queries at most, whatever the size and the filters.
    """
    page = max(page, 1)
    limit = max(COUNT_CAP, page * page_size) + 1
    search = filters.get("search") or ""
    labels = filters.get("labels") or ()
    sort = filters.get("sort") or DEFAULT_SECRET_SORT
    # Asked whatever the count, so that a page makes the same queries at any size.
    walk = _walk_sorted(search=search, labels=labels)
    walking: QuerySet[Secret] | None = None
    if walk and not labels:
        # A search alone: the walk's query, asked of the search index, is the count's (the
        # same rows; building and compiling the search's conditions once instead of twice
        # saved 0.3 ms a page, issue 13's profile). A label filter counts on its join instead.
        walking = secret_table(**filters, many_matches=True)
        matching = search_index.narrow(walking, _search_terms(search)[0])
    else:
        matching = secret_table(**filters)
    if connection.vendor == "postgresql":
        if _counts_first(search=search, sort=sort):
            return _search_page(filters, matching, page=page, page_size=page_size, limit=limit)
        return _page_with_count(matching, page=page, page_size=page_size, limit=limit)
    ids: list[str] = []
    in_order = walk or _read_in_order(search=search, labels=labels, sort=sort)
    if in_order:
        # Many candidates, or an order whose index holds the rows: count them on the indexes
        # (stopping at the cap); the page is read below in the sort order, testing each row.
        counted = _capped_count(matching, limit)
    else:
        # One pass over the candidates gives both the (capped) count and the page: their ids
        # in the sort order, up to the cap. Reading each candidate twice (a count, then the
        # sorted rows) cost twice as much (issue 13's profile).
        # As the database's text: turning up to 201 of them into UUIDs cost more than the
        # query (only the page's are turned).
        as_text = matching.annotate(key_text=Cast("pk", CharField()))
        ids = list(as_text.values_list("key_text", flat=True)[:limit])
        counted = len(ids)
    exact = counted < limit
    num_pages: int | None = None
    if exact:
        num_pages = max(1, -(-counted // page_size))
        page = min(page, num_pages)
    else:
        counted = limit - 1
    offset = (page - 1) * page_size
    if in_order:
        if exact or not walk:
            walking = matching
        elif walking is None:
            walking = secret_table(**filters, many_matches=True)
        rows = list(walking.values_list(*_ROW_COLUMNS)[offset : offset + page_size])
    else:
        page_ids = [UUID(key) for key in ids[offset : offset + page_size]]
        by_id = {
            row[0]: row
            for row in Secret.objects.filter(pk__in=page_ids)
            .select_related("secret_group")
            .values_list(*_ROW_COLUMNS)
        }
        rows = [by_id[pk] for pk in page_ids if pk in by_id]
    return SecretTablePage(
        rows=_rows(rows),
        number=page,
        count=counted,
        count_exact=exact,
        num_pages=num_pages,
        page_size=page_size,
    )


def _page_with_count(
    matching: QuerySet[Secret], *, page: int, page_size: int, limit: int
) -> SecretTablePage:
    """PostgreSQL: the page's rows and the capped count in one query, the count an uncorrelated
    subquery in the rows' select list (planned once, as an InitPlan). Without a search, every
    query of a page costs a round trip (about 0.3 ms, a tenth of the floor page's time), and
    the ids pass (the sorted ids up to the cap, then the page's rows by id) cost two (issue
    13's profile). A page past the end returns no row, and so no count: then the count is
    asked alone and the last page read again (three queries, for a stale link only); no row
    on the first page means that nothing matches."""
    try:
        count_sql, count_params = _capped_count_sql(matching, limit)
    except EmptyResultSet:  # a filter that nothing matches, such as no readable group
        return _empty_page(page_size)
    counted_rows = matching.annotate(_matches=RawSQL(count_sql, count_params)).values_list(
        *_ROW_COLUMNS, "_matches"
    )
    offset = (page - 1) * page_size
    fetched = list(counted_rows[offset : offset + page_size])
    if fetched:
        counted = int(fetched[0][-1])
    elif page == 1:
        counted = 0  # no row on the first page: nothing matches
    else:
        counted = _capped_count(matching, limit)
        if counted:
            last = -(-min(counted, limit - 1) // page_size)
            fetched = list(counted_rows[(last - 1) * page_size : last * page_size])
            page = last
    exact = counted < limit
    return SecretTablePage(
        rows=_rows([row[:-1] for row in fetched]),
        number=page if fetched or page == 1 else 1,
        count=counted if exact else limit - 1,
        count_exact=exact,
        num_pages=max(1, -(-counted // page_size)) if exact else None,
        page_size=page_size,
    )


def _search_page(
    filters: dict[str, Any],
    matching: QuerySet[Secret],
    *,
    page: int,
    page_size: int,
    limit: int,
) -> SecretTablePage:
    """PostgreSQL, a search in the default order: the walk of that order's index (testing each
    row, planned without sorts) on the condition that the capped count reaches the cap, in one
    query. The count is an uncorrelated subquery in the WHERE clause, so PostgreSQL computes
    it first (an InitPlan) and, below the cap, does not start the walk at all (a one-time
    filter): then no row comes back, and the page is read from the matches, sorted, with its
    exact count (_page_with_count). So a search with many matches makes one query instead of a
    count and then the walk (a round trip and a query's preparation less, issue 13's profile),
    and one with few makes two, as before. Past the cap the table says "more than"; every page
    up to the cap has rows then, so no row means fewer matches than the cap."""
    try:
        count_sql, count_params = _capped_count_sql(matching, limit)
    except EmptyResultSet:
        return _empty_page(page_size)
    reaches_cap = RawSQL(
        f"({count_sql}) >= %s",
        (*count_params, limit),
        output_field=BooleanField(),
    )
    offset = (page - 1) * page_size
    walk = secret_table(**filters, many_matches=True).filter(reaches_cap)
    rows = _read_without_sorts(walk.values_list(*_ROW_COLUMNS)[offset : offset + page_size])
    if not rows:
        return _page_with_count(matching, page=page, page_size=page_size, limit=limit)
    return SecretTablePage(
        rows=_rows(rows),
        number=page,
        count=limit - 1,
        count_exact=False,
        num_pages=None,
        page_size=page_size,
    )


def _walk_sorted(*, search: str, labels: Sequence[str]) -> bool:
    """Whether to read the page by walking the sort order (testing each row) rather than by
    collecting the search's and labels' candidates from their indexes and sorting them: when
    every one of those indexes holds many candidates (the walk then meets a page of matches
    soon). SQLite only: PostgreSQL plans this itself, from its statistics."""
    if connection.vendor != "sqlite" or not (search or labels):
        return False
    for label in labels:
        if not _label_rows_over(label, WALK_AFTER):
            return False
    return not search or search_index.candidates_over(
        connection, _search_terms(search)[0], WALK_AFTER
    ) in (True, None)


def _label_rows_over(label: str, limit: int) -> bool:
    """Whether more than `limit` secrets carry `label`: a capped count on the label index
    (one row per secret and name), in SQL written once here. The same count through the ORM
    (a sliced queryset's count()) cost 0.5 ms to build and compile, against 0.15 ms for the
    query itself (issue 13's profile of the label filter at 100k secrets)."""
    quote = connection.ops.quote_name
    column = SecretLabel._meta.get_field("name").column
    assert column is not None
    sql = (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {quote(SecretLabel._meta.db_table)} "
        f"WHERE {quote(column)} = %s LIMIT %s) AS capped"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [label, limit + 1])
        (found,) = cursor.fetchone()
    return bool(found > limit)


def _counts_first(*, search: str, sort: str) -> bool:
    """Whether a search on PostgreSQL counts its matches first (on the trigram index, stopping
    at the cap) and then reads its page: sorted from the matches when they are under the cap,
    by walking the default order's index (testing each row) when there are more.

    PostgreSQL's planner cannot estimate a search's matches (it expects one row), so left to
    itself it rechecked and sorted every match: 4,000 rows and 12 ms for "payments" at 100k
    secrets, against 2.6 ms for the capped count and 2 ms for the walk (issue 13's profile).
    The walk meets a page soon when matches are many and spread over time, but reads far when
    they are all old (SQLite's walk, _walk_sorted, shares that). Only in the default order:
    the name order groups similar names, so a walk there read 100k rows for "payments"
    (134 ms), and the other orders have no index to walk."""
    return (
        bool(search)
        and connection.vendor == "postgresql"
        and (sort == DEFAULT_SECRET_SORT or sort not in SECRET_SORTS)
    )


def _read_without_sorts(rows: QuerySet[Secret, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """PostgreSQL: `rows` planned with sorts disabled, so that a search past the cap walks the
    default order's index (testing each row) as _counts_first means it to.

    The planner cannot estimate a search's matches (it expects a few rows, fewer than a page),
    so at 10k secrets it scanned and sorted the whole table for "payments" (22 ms) instead of
    walking the index until a page was met (1.9 ms; at 100k it walked by itself; issue 13's
    profile). The setting and the query go in one message, `SET LOCAL ...; SELECT ...; RESET
    ...`: outside a transaction the message is one implicit transaction, which ends the SET
    LOCAL; inside one, RESET ends it; a query that fails aborts the transaction with the
    setting in it. So no other query is planned without sorts, and the page makes no more
    round trips or queries than before. A cursor that binds on the server (which takes one
    statement per message) reads the rows as they are planned."""
    compiler = rows.query.get_compiler(using=rows.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return []
    with connections[rows.db].cursor() as cursor:
        try:
            from psycopg import ClientCursor
        except ImportError:  # psycopg 2: only the last statement's rows come back
            return list(rows)
        if not isinstance(cursor.cursor, ClientCursor):
            return list(rows)
        cursor.execute(f"SET LOCAL enable_sort = off; {sql}; RESET enable_sort", params)
        cursor.cursor.nextset()  # from the SET's result to the rows
        fetched = cursor.fetchall()
    return list(compiler.results_iter(results=[fetched], tuple_expected=True))


def _capped_count(queryset: QuerySet[Secret], limit: int) -> int:
    """How many rows `queryset` has, counting no further than `limit`. The SQL that
    QuerySet.count() sends for a sliced queryset, without its aggregation machinery (0.12 ms a
    page, issue 13's profile), and as it, 0 for a filter that matches nothing by itself."""
    try:
        sql, params = _capped_count_sql(queryset, limit)
    except EmptyResultSet:  # a filter that nothing matches, such as no readable group
        return 0
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0])


def _capped_count_sql(queryset: QuerySet[Secret], limit: int) -> tuple[str, tuple[Any, ...]]:
    """`SELECT COUNT(*)` of `queryset`'s rows up to `limit`, and its parameters; raises
    EmptyResultSet for a filter that matches nothing by itself."""
    capped = queryset.order_by().values("pk")[:limit]
    sql, params = capped.query.get_compiler(using=capped.db).as_sql()
    return f"SELECT COUNT(*) FROM ({sql}) AS capped", tuple(params)


def _empty_page(page_size: int) -> SecretTablePage:
    return SecretTablePage(
        rows=[], number=1, count=0, count_exact=True, num_pages=1, page_size=page_size
    )


def _read_in_order(*, search: str, labels: Sequence[str], sort: str) -> bool:
    """Whether a page without a search or label filter, in the default order, is read in that
    order: on SQLite the walk's index (search_index.WALK_INDEX) holds every column the rows
    show and the filters test, so reading 25 rows from it beats collecting 201 ids and then
    reading the page's rows by id (issue 13's profile: 0.9 against 1.2 ms a page). Elsewhere,
    and in the other orders, the ids pass stays."""
    return (
        connection.vendor == "sqlite"
        and not search
        and not labels
        and (sort == DEFAULT_SECRET_SORT or sort not in SECRET_SORTS)
    )


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

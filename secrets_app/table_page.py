"""How the Secrets table reads one page (secrets_app.selectors.secret_table's rows, counted).

The table reads at most a page of rows and counts at most `COUNT_CAP` matches (past that, it
says "more than 200"), so its cost does not grow with the number of secrets:

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
  read the same way; on SQLite a search alone counts its matches first and, past the cap,
  walks the first rows of the default order (_sqlite_search_page); on PostgreSQL a search in
  the default order counts first and walks when the count passes the cap (_counts_first),
  testing each row's stored search text (search_index.PG_COLUMN) before its own columns;
- on PostgreSQL, where each query is a round trip, the capped count is a subquery of the
  page's own query (_page_with_count, _search_page).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import BooleanField, CharField, Field, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from secrets_app import search_index
from secrets_app.models import Secret, SecretLabel
from secrets_app.selectors import (
    _ROW_COLUMNS,
    COUNT_CAP,
    DEFAULT_SECRET_SORT,
    SECRET_SORTS,
    SecretTablePage,
    _rows,
    _search_terms,
    secret_table,
)

# The filters besides the search (and the order) that a search alone has none of.
_OTHER_FILTERS = ("secret_types", "group_ids", "states", "labels", "expires_within")
# A search or label index holding more candidates than this: the page walks the sort order.
WALK_AFTER = 1000
# A search past the cap on SQLite first walks this many rows of the default order for each row
# up to the page's last (1 in 100 matching: as dense as WALK_AFTER's candidates at 100k).
WALK_BOUND = 100


def secret_table_page(*, page: int, page_size: int, **filters: Any) -> SecretTablePage:
    """The `page`th page of `secret_table(**filters)` (the last one if it is past the end).

    A count that stops after COUNT_CAP matches (or after the requested page, when it lies
    further) and the page's rows; with a label filter, or a search that the search index
    cannot answer, first a look at those indexes alone (how many candidates they hold) to
    choose how the rows are read when there are many. Three queries at most, whatever the size
    and the filters, but for a search whose matches pass the cap and are sparse among the
    newest secrets (_sqlite_search_page).
    """
    page = max(page, 1)
    limit = max(COUNT_CAP, page * page_size) + 1
    search = filters.get("search") or ""
    labels = filters.get("labels") or ()
    sort = filters.get("sort") or DEFAULT_SECRET_SORT
    if connection.vendor == "postgresql":
        if _counts_first(search=search, sort=sort):
            return _search_page(filters, page=page, page_size=page_size, limit=limit)
        matching = secret_table(**filters)
        return _page_with_count(matching, page=page, page_size=page_size, limit=limit)
    terms = _search_terms(search)[0]
    if search and not labels and search_index.answers(connection, terms):
        return _sqlite_search_page(filters, page=page, page_size=page_size, limit=limit)
    # Asked whatever the count, so that a page makes the same queries at any size.
    walk = _walk_sorted(search=search, labels=labels)
    walking: QuerySet[Secret] | None = None
    if walk and not labels:
        # A search alone (too short a term for the search index): the walk's query is the
        # count's (the same rows; building and compiling the search's conditions once instead
        # of twice saved 0.3 ms a page, issue 13's profile). A label filter counts on its join.
        walking = secret_table(**filters, many_matches=True)
        matching = search_index.narrow(walking, terms)
    else:
        matching = secret_table(**filters)
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
        ids = _sorted_ids(matching, limit)
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
        rows = _rows_by_id(ids[offset : offset + page_size])
    return SecretTablePage(
        rows=_rows(rows),
        number=page,
        count=counted,
        count_exact=exact,
        num_pages=num_pages,
        page_size=page_size,
    )


def _sqlite_search_page(
    filters: dict[str, Any], *, page: int, page_size: int, limit: int
) -> SecretTablePage:
    """SQLite, a search alone that the search index answers: the ids of its matches, read on
    that index and stopping at the cap, then the page. With no other filter and every group
    readable, the count is the exact index's alone (search_index.exact_matches: it holds
    just the rows the table shows); else its candidates joined with the secrets they name, which
    the search's conditions test.

    Below the cap those ids are every match, and the page is read from them in the sort order
    (two queries). Past it, in the default order, the page is looked for by walking that
    order's index (testing each row) within its first WALK_BOUND rows for each row wanted: a
    prefix of the order, so a full page found there is the page (two queries). Only when the
    matches are sparser than that among the newest secrets, or the order is another, does the
    page choose as a label filter does: the walk on when the index holds many candidates, else
    the candidates sorted (four queries at most).

    Counting the index's candidates first (up to WALK_AFTER) to choose between the walk and
    the sorted ids cost more than the count and the page together: 5.4M instructions of
    SQLite's for "payments" at 100k secrets, against 4.5M for the count and 2.8M for the
    bounded walk (issue 13's profile, callgrind).
    """
    sort = filters.get("sort") or DEFAULT_SECRET_SORT
    terms, hex_part = _search_terms(filters["search"])
    walking = secret_table(**filters, many_matches=True)
    exact = None
    every_group = filters.get("readable_group_ids") is None  # an empty set: no group readable
    if every_group and not any(filters.get(name) for name in _OTHER_FILTERS):
        exact = search_index.exact_matches(connection, filters["search"], hex_part, limit)
    ids: list[str] | RawSQL
    if exact is None:
        ids = _capped_ids(search_index.narrow(walking, terms), limit)
        counted = len(ids)
    else:
        ids = search_index.secrets_of(exact)
        counted = len(exact)
    if counted < limit:
        num_pages = max(1, -(-counted // page_size))
        page = min(page, num_pages)
        offset = (page - 1) * page_size
        order = SECRET_SORTS.get(sort, SECRET_SORTS[DEFAULT_SECRET_SORT])
        # The index's rows tested again by the search's conditions: a row number that a write
        # gave to another secret since the count (FTS5 numbers new rows past the largest)
        # cannot bring that secret in.
        shown = Secret.objects.all() if exact is None else walking
        rows = (
            list(
                shown.filter(pk__in=ids)
                .select_related("secret_group")
                .order_by(*order)
                .values_list(*_ROW_COLUMNS)[offset : offset + page_size]
            )
            if counted
            else []
        )
        return SecretTablePage(
            rows=_rows(rows),
            number=page,
            count=counted,
            count_exact=True,
            num_pages=num_pages,
            page_size=page_size,
        )
    offset = (page - 1) * page_size
    rows = []
    if sort == DEFAULT_SECRET_SORT or sort not in SECRET_SORTS:
        within = walking.filter(_within_first(WALK_BOUND * (offset + page_size)))
        rows = list(within.values_list(*_ROW_COLUMNS)[offset : offset + page_size])
    if len(rows) < page_size:
        if search_index.candidates_over(connection, terms, WALK_AFTER) is False:
            walking = search_index.narrow(walking, terms)  # few candidates: sorted
        rows = list(walking.values_list(*_ROW_COLUMNS)[offset : offset + page_size])
    return _past_the_cap(rows, number=page, limit=limit, page_size=page_size)


def _past_the_cap(
    rows: list[tuple[Any, ...]], *, number: int, limit: int, page_size: int
) -> SecretTablePage:
    """A page of a count that stopped at `limit` (the table says "more than")."""
    return SecretTablePage(
        rows=_rows(rows),
        number=number,
        count=limit - 1,
        count_exact=False,
        num_pages=None,
        page_size=page_size,
    )


def _within_first(count: int) -> RawSQL:
    """SQLite: the rows among the first `count` live secrets of the default order, and those
    as recent as the last of them (a prefix of the order, whatever the ties): a range of the
    order's index, which the walk then stops at. All of them when there are fewer."""
    quote = connection.ops.quote_name
    table = quote(Secret._meta.db_table)
    columns = {
        name: quote(_column(Secret, name)) for name in ("updated_at", "deleted_at", "probe", "id")
    }
    sql = (
        f"{table}.{columns['updated_at']} >= COALESCE((SELECT bound.{columns['updated_at']} "
        f"FROM {table} AS bound WHERE bound.{columns['deleted_at']} IS NULL "
        f"AND NOT bound.{columns['probe']} ORDER BY bound.{columns['updated_at']} DESC, "
        f"bound.{columns['id']} LIMIT 1 OFFSET %s), '')"
    )
    return RawSQL(sql, [max(count - 1, 0)], output_field=BooleanField())


def _column(model: type[Model], name: str) -> str:
    """The database column of a model's field."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None
    return field.column


def _capped_ids(queryset: QuerySet[Secret], limit: int) -> list[str]:
    """SQLite: the ids of `queryset`'s rows, in no order and at most `limit` of them, as the
    database holds them (32 hex digits), without the ORM's row machinery."""
    try:
        sql, params = (
            queryset.order_by().values("pk")[:limit].query.get_compiler(using=queryset.db).as_sql()
        )
    except EmptyResultSet:
        return []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return [key for (key,) in cursor.fetchall()]


def _sorted_ids(matching: QuerySet[Secret], limit: int) -> list[str]:
    """The ids of `matching`'s rows in its order, up to `limit`, as the database's text:
    turning up to 201 of them into UUIDs cost more than the query (only the page's are)."""
    as_text = matching.annotate(key_text=Cast("pk", CharField()))
    return list(as_text.values_list("key_text", flat=True)[:limit])


def _rows_by_id(keys: list[str]) -> list[tuple[Any, ...]]:
    """The table's rows of the secrets with these ids (their text), in the ids' order."""
    page_ids = [UUID(key) for key in keys]
    by_id = {
        row[0]: row
        for row in Secret.objects.filter(pk__in=page_ids)
        .select_related("secret_group")
        .values_list(*_ROW_COLUMNS)
    }
    return [by_id[pk] for pk in page_ids if pk in by_id]


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
    filters: dict[str, Any], *, page: int, page_size: int, limit: int
) -> SecretTablePage:
    """PostgreSQL, a search in the default order: the walk of that order's index (testing each
    row, planned without sorts) on the condition that the capped count reaches the cap, in one
    query. The count is an uncorrelated subquery in the WHERE clause, so PostgreSQL computes
    it first (an InitPlan) and, below the cap, does not start the walk at all (a one-time
    filter): then no row comes back, and the page is read from the matches, sorted, with its
    exact count (_page_with_count). So a search with many matches makes one query instead of a
    count and then the walk (a round trip and a query's preparation less, issue 13's profile),
    and one with few makes two, as before. Past the cap the table says "more than"; every page
    up to the cap has rows then, so no row means fewer matches than the cap.

    Without a label filter the count is of the walk's own queryset (the same rows, and with
    the search index's column test, search_index.tests_each_row): built once instead of
    twice, 0.3 ms a page (issue 13's profile); a label filter counts on its join."""
    walking = secret_table(**filters, many_matches=True)
    matching = secret_table(**filters) if filters.get("labels") else walking
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
    walk = walking.filter(reaches_cap)
    rows = _read_without_sorts(walk.values_list(*_ROW_COLUMNS)[offset : offset + page_size])
    if not rows:
        return _page_with_count(matching, page=page, page_size=page_size, limit=limit)
    return _past_the_cap(rows, number=page, limit=limit, page_size=page_size)


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
    column = _column(SecretLabel, "name")
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

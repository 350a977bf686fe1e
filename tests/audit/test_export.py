"""Exports of the current filter to CSV and JSON: the same rows as the page, streamed from the
database in chunks (a streaming response; queries and memory that do not grow with the log),
audited themselves, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import gc
import io
import json
import tracemalloc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console.audit import audit_record
from console.audit_selectors import EXPORT_COLUMNS
from console.identity import Actor
from console.models import AuditEvent

pytestmark = pytest.mark.django_db

ALICE = Actor(iam_id="IBMid-0000000101", name="alice")


def _body(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def _fill(n: int, **fields) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor_id=ALICE.iam_id,
            actor_name=ALICE.name,
            actor_type="user",
            action=fields.get("action", "secret.read_payload"),
            object_type="secret",
            object_id=f"s-{i}",
            object_name=f"secret number {i}",
            channel="api",
            source_ip="192.0.2.1",
            detail={"serial": i, "reason": "bulk"},
        )
        for i in range(n)
    )


def test_csv_export_of_the_current_filter(auditor_client):
    wanted = audit_record(
        actor=ALICE,
        action="secret.read_payload",
        object_type="secret",
        object_id="s-1",
        object_name='db, "primary"',
        detail={"reason": "INC-1"},
    )
    audit_record(actor=ALICE, action="secret.create", object_type="secret", object_id="s-1")
    response = auditor_client.get("/audit/export.csv?action=secret.read_payload")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    assert "no-store" in response["Cache-Control"]
    table = list(csv.DictReader(io.StringIO(_body(response).decode())))
    assert [row["object_id"] for row in table] == ["s-1"]
    [row] = table
    assert tuple(row) == EXPORT_COLUMNS
    assert (row["actor_name"], row["object_name"], row["outcome"]) == (
        "alice",
        'db, "primary"',
        "allowed",
    )
    assert json.loads(row["detail"]) == {"reason": "INC-1"}
    assert row["created_at"] == wanted.created_at.isoformat()


def test_json_export_of_the_current_filter(auditor_client):
    audit_record(actor=ALICE, action="secret.read", object_type="secret", object_id="s-9")
    AuditEvent.objects.filter(object_id="s-9").update(outcome="denied", source_ip="192.0.2.3")
    response = auditor_client.get("/audit/export.json?outcome=denied&actor=alice")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    records = json.loads(_body(response))
    assert [(r["action"], r["object_id"], r["source_ip"]) for r in records] == [
        ("secret.read", "s-9", "192.0.2.3")
    ]
    assert set(records[0]) == set(EXPORT_COLUMNS)


def test_an_export_of_nothing_is_still_valid(auditor_client):
    assert json.loads(_body(auditor_client.get("/audit/export.json?actor=nobody"))) == []
    lines = _body(auditor_client.get("/audit/export.csv?actor=nobody")).decode().splitlines()
    assert lines == [",".join(EXPORT_COLUMNS)]


def test_every_export_is_itself_recorded_with_its_filters(auditor_client):
    _body(auditor_client.get("/audit/export.csv?outcome=denied&date_from=2031-01-01"))
    [event] = AuditEvent.objects.filter(action="audit.export")
    assert (event.actor_name, event.object_type) == ("auditor", "audit_log")
    assert event.detail == {
        "format": "csv",
        "filters": {"outcome": "denied", "date_from": "2031-01-01"},
    }


def test_cells_a_spreadsheet_would_run_as_formulas_are_defused(auditor_client):
    audit_record(
        actor=ALICE,
        action="secret.create",
        object_type="secret",
        object_id="s-x",
        object_name='=HYPERLINK("http://example.com","x")',
    )
    [row] = csv.DictReader(
        io.StringIO(_body(auditor_client.get("/audit/export.csv?object_id=s-x")).decode())
    )
    assert row["object_name"] == '\'=HYPERLINK("http://example.com","x")'


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_exports_stream_in_chunks_with_one_query_whatever_the_size(
    auditor_client, django_assert_num_queries, fmt
):
    _fill(10)
    with CaptureQueriesContext(connection) as answering:
        small = auditor_client.get(f"/audit/export.{fmt}")
    # The response is ready before a single row is read: rows are read as it is sent.
    assert small.streaming
    assert not [q for q in answering.captured_queries if 'FROM "console_auditevent"' in q["sql"]]
    with django_assert_num_queries(1):
        small_chunks = list(small.streaming_content)
    _fill(3000)
    big = auditor_client.get(f"/audit/export.{fmt}")
    with django_assert_num_queries(1):
        big_chunks = list(big.streaming_content)
    assert len(big_chunks) > len(small_chunks) >= 1  # several chunks, not one body
    assert sum(map(len, big_chunks)) > 3000 * 150


def _peak_while_consuming(response) -> tuple[int, int]:
    """(peak traced memory, bytes sent) while the streamed body is consumed and dropped."""
    gc.collect()
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, total


def test_a_large_export_is_not_held_in_memory(auditor_client):
    _fill(2000)
    small_peak, small_total = _peak_while_consuming(auditor_client.get("/audit/export.json"))
    _fill(8000)
    big_peak, big_total = _peak_while_consuming(auditor_client.get("/audit/export.json"))
    assert big_total > 10_000 * 300 and big_total > 4 * small_total
    # Holding the rows (or the body) would grow the peak with them (by more than the body's
    # growth); streaming holds one chunk of rows whatever their number.
    grown = big_peak - small_peak
    assert grown < (big_total - small_total) / 3, (small_peak, big_peak, small_total, big_total)

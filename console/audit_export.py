"""Exports of the audit log, CSV or JSON, as a stream of chunks for a StreamingHttpResponse.

The rows are read in chunks (audit_selectors.export_records), so a large export never sits in
memory. Each export is itself audited (`audit.export`, with its format and filters) before the
first row is produced: no record, no export.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction

from console.audit import AUDIT_LOG, audit_record
from console.audit_selectors import EXPORT_COLUMNS, audit_events, export_records
from console.identity import Actor

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
LINES_PER_CHUNK = 500
# A spreadsheet runs a cell that starts with one of these as a formula; names come from users.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _chunks(lines: Iterable[str]) -> Iterator[bytes]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= LINES_PER_CHUNK:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()


def _csv_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield str(writer.writerow(EXPORT_COLUMNS))
    for record in records:
        yield str(writer.writerow([_cell(record[name]) for name in EXPORT_COLUMNS]))


def _json_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield "["
    separator = "\n"
    for record in records:
        yield separator + json.dumps(record, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


@transaction.atomic
def audit_log_export(*, actor: Actor, fmt: str, filters: dict[str, Any]) -> Iterator[bytes]:
    """Record the export, then return its content, lazily: rows are read as it is consumed."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    audit_record(
        actor=actor,
        action="audit.export",
        object_type=AUDIT_LOG.object_type,
        object_id=AUDIT_LOG.object_id,
        object_name=AUDIT_LOG.object_name,
        detail={"format": fmt, "filters": {k: str(v) for k, v in filters.items()}},
    )
    records = export_records(audit_events(filters))
    return _chunks(_csv_lines(records) if fmt == "csv" else _json_lines(records))

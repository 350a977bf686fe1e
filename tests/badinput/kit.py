"""What the bad-input tables share: the bad values, a snapshot of every row, and the checks.

A refused request must change nothing: `snapshot()` fingerprints every row of every model of the
project (and of django-q2's queue, so that no task was enqueued either), and `unchanged()` names
the models whose rows differ. Sessions are left out: they are the client's, not the data's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps

SNAPSHOT_APPS = frozenset(
    {
        "admin",
        "auth",
        "console",
        "secrets_app",
        "engines_app",
        "iam",
        "code_engine",
        "resource_controller",
        "django_q",
    }
)

# ---------------------------------------------------------------------------------------------
# The bad values. Longer than every max_length of the console and the API: the longest is an
# arbitrary secret's value (1,000,000 characters).
OVERLONG = "a" * 1_000_001
NUL = "bad\x00input"
# A right-to-left override (U+202E): "invoice\u202efdp.exe" shows as "invoiceexe.pdf".
RTL = "invoice\u202efdp.exe"
# A combining acute accent on "e" (two code points), and a base letter under a stack of marks.
COMBINING = "cafe\u0301-" + "a" + "\u0300\u0301\u0302" * 10
# JSON text whose escapes decode to what no database stores, or that is not a JSON object.
JSON_NUL = '{"owner": "a\\u0000b"}'
JSON_SURROGATE = '{"owner": "\\ud800"}'
JSON_NUL_KEY = '{"a\\u0000b": "x"}'
JSON_MALFORMED = '{"owner": }'
JSON_NOT_OBJECT = '["owner", "team-a"]'
BAD_JSON_TEXTS = (JSON_NUL, JSON_SURROGATE, JSON_NUL_KEY, JSON_MALFORMED, JSON_NOT_OBJECT)
# A file name that climbs out of any directory it could be joined to.
TRAVERSAL_NAMES = ("../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/shadow", "..")


# ---------------------------------------------------------------------------------------------
# Snapshots


def _models() -> Iterable[Any]:
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.app_label in SNAPSHOT_APPS and meta.managed and not meta.proxy:
            yield model


def snapshot() -> dict[str, str]:
    """model label -> row count and a digest of every column of every row."""
    found: dict[str, str] = {}
    for model in _models():
        columns = [f.attname for f in model._meta.concrete_fields]
        rows = list(model._base_manager.order_by("pk").values_list(*columns))
        digest = hashlib.sha256(repr(rows).encode("utf-8", "backslashreplace")).hexdigest()
        found[model._meta.label] = f"{len(rows)} rows, {digest[:16]}"
    return found


def unchanged(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The models whose rows changed (empty when nothing did)."""
    return sorted(
        f"{label}: {before.get(label)} -> {after.get(label)}"
        for label in set(before) | set(after)
        if before.get(label) != after.get(label)
    )


# ---------------------------------------------------------------------------------------------
# Responses


def text(response: Any) -> str:
    return str(response.content.decode("utf-8", "replace"))


def flagged(page: str, name: str) -> bool:
    """Whether the page marks the input named `name` invalid (Django's aria-invalid, which every
    form template of the console renders with the field's error)."""
    for tag in re.findall(r"<(?:input|textarea|select)\b[^>]*>", page):
        if f'name="{name}"' in tag and 'aria-invalid="true"' in tag:
            return True
    # A group of radio buttons or checkboxes: the fieldset around inputs of that name.
    return bool(
        re.search(
            rf'aria-invalid="true"[^>]*>(?:(?!</fieldset>).)*name="{re.escape(name)}"', page, re.S
        )
    )


@dataclass(frozen=True)
class Refusal:
    """What a refused console request answered."""

    status: int
    page: str

    @property
    def by_middleware(self) -> bool:
        return 'data-testid="bad-input"' in self.page


def refusal_of(response: Any) -> Refusal:
    return Refusal(status=response.status_code, page=text(response))


def rows_containing(needle: str) -> list[str]:
    """The models with a row in which `needle` appears (in any column)."""
    found = []
    for model in _models():
        columns = [f.attname for f in model._meta.concrete_fields]
        for row in model._base_manager.values_list(*columns):
            if needle in repr(row):
                found.append(model._meta.label)
                break
    return found

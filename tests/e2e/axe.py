"""axe-core in Playwright: inject the vendored axe.min.js and fail on serious or critical
violations, listing each (rule, impact, help, the offending elements) in the failure message.

The console's Content-Security-Policy forbids inline script, and Playwright injects a script tag
with its content inline: pages checked with axe come from a context with `bypass_csp=True`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
AXE_PATH = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


def vendored_axe() -> tuple[str, str]:
    """(the version in the file's licence header, its sha256)."""
    data = AXE_PATH.read_bytes()
    header = data[:200].decode("utf-8", "replace")
    version = header.split("axe v", 1)[1].split()[0] if "axe v" in header else ""
    return version, hashlib.sha256(data).hexdigest()


def violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on the page as it is now."""
    if page.evaluate("typeof window.axe") == "undefined":
        page.add_script_tag(path=str(AXE_PATH))
    result = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {', '.join(node['target'])}: {node.get('failureSummary', '')!r}")
    return "\n".join(lines)


def assert_no_serious_violations(page: Page, where: str) -> None:
    found = violations(page)
    assert not found, f"axe-core {AXE_VERSION}: serious/critical violations on {where}:\n" + (
        describe(found)
    )

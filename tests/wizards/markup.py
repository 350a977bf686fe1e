"""Checks on a page's markup that the Django client can make: every aria-describedby points at
an element that exists, every invalid input says so and points at its message, the error summary
links each invalid field, and exactly one element takes the focus on load."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    fieldsets: list[dict[str, str]] = field(default_factory=list)  # enclosing fieldsets


class _Collector(HTMLParser):
    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "wbr", "col", "area"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.fieldsets: list[dict[str, str]] = []
        self.in_summary = 0
        self.stack: list[str] = []
        self.summary_links: list[str] = []
        self.summary_alert = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.elements.append(Element(tag, values, list(self.fieldsets)))
        if tag == "a" and self.in_summary and values.get("href", "").startswith("#"):
            self.summary_links.append(values["href"][1:])
        if tag in self.VOID:
            return
        self.stack.append(tag)
        if tag == "fieldset":
            self.fieldsets.append(values)
        if "error-summary" in values.get("class", "").split():
            self.in_summary = len(self.stack)
            self.summary_alert = values.get("role") == "alert"

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or tag not in self.stack:
            return
        while self.stack:
            closed = self.stack.pop()
            if closed == "fieldset" and self.fieldsets:
                self.fieldsets.pop()
            if self.in_summary and len(self.stack) < self.in_summary:
                self.in_summary = 0
            if closed == tag:
                break


@dataclass(frozen=True)
class Markup:
    elements: list[Element]
    summary_links: list[str]
    summary_alert: bool

    @property
    def ids(self) -> set[str]:
        return {e.attrs["id"] for e in self.elements if e.attrs.get("id")}

    def by_id(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == element_id), None)

    @property
    def autofocus(self) -> list[Element]:
        return [e for e in self.elements if "autofocus" in e.attrs]

    @property
    def invalid(self) -> list[Element]:
        return [e for e in self.elements if e.attrs.get("aria-invalid") == "true"]


def parse(page: str) -> Markup:
    collector = _Collector()
    collector.feed(page)
    return Markup(collector.elements, collector.summary_links, collector.summary_alert)


def described_by(element: Element) -> list[str]:
    return element.attrs.get("aria-describedby", "").split()


def problems(page: str) -> list[str]:
    """What is wrong with the page's field descriptions and errors (empty: nothing)."""
    markup = parse(page)
    ids = markup.ids
    found: list[str] = []
    for element in markup.elements:
        for ref in described_by(element):
            if ref not in ids:
                found.append(f"<{element.tag} id={element.attrs.get('id')}> describedby {ref}")
    for element in markup.elements:
        if element.tag not in {"input", "select", "textarea"} or not element.attrs.get("id"):
            continue
        own = element.attrs["id"]
        # A field's help is part of its description, with or without an error.
        help_id = f"{own}_helptext"
        if help_id in ids and help_id not in described_by(element):
            found.append(f"{own}: its help {help_id} is not in its description")
        if f"{own}_error" in ids and f"{own}_error" not in described_by(element):
            found.append(f"{own}: its error {own}_error is not in its description")
    for element in markup.invalid:
        refs = described_by(element) + [
            ref
            for fieldset in element.fieldsets
            for ref in fieldset.get("aria-describedby", "").split()
        ]
        if not any(ref.endswith("_error") and ref in ids for ref in refs):
            found.append(f"invalid {element.attrs.get('id')} points at no error message")
        if element.attrs.get("id") and element.attrs["id"] not in markup.summary_links:
            # A radio or checkbox group is linked through its first option.
            group = element.attrs["id"].rsplit("_", 1)[0] + "_0"
            if group not in markup.summary_links:
                found.append(f"invalid {element.attrs['id']} is not linked from the error summary")
    if markup.invalid and not markup.summary_alert:
        found.append("invalid fields but no error summary with role=alert")
    for link in markup.summary_links:
        if link not in ids:
            found.append(f"the error summary links #{link}, which does not exist")
    if len(markup.autofocus) > 1:
        found.append(f"{len(markup.autofocus)} elements have autofocus")
    return found

"""`{% secret_rows page.rows %}`, `{% column_heads columns %}` and `{% select_options choices %}`:
the Secrets table's body, its header and its filters' options, built in Python.

The table is the console's busiest page, and at 25 rows the template engine spent most of its
time there: about 500 variable lookups, each resolved, localised and escaped on its own (issue
13's profile: 3.3 of the 5.8 ms a page took). Django's admin builds its change list's cells in
Python the same way. Every value is escaped with `html.escape`, as Django's autoescaping does
(it calls the same function); the markup is the one the template printed before.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from secrets_app.selectors import SecretRow

register = template.Library()

# Each field is escaped (see _row) before it is put in; nothing else goes in.
_ROW = (
    "<tr>"
    '<td class="name"><a href="{url}">{name}</a>{description}</td>'
    "<td>{type_label}</td>"
    "<td>{group_name}</td>"
    '<td><span class="badge state-{state_description}">{state_label}</span></td>'
    "<td>{labels}</td>"
    '<td class="expires">{expires}</td>'
    '<td><time datetime="{created_iso}">{created_text}</time></td>'
    '<td><time datetime="{updated_iso}">{updated_text}</time></td>'
    "</tr>\n"
)
_NEVER = '<span class="muted">never</span>'


def _row(row: SecretRow) -> str:
    description = row["description"]
    if row["expires_iso"]:
        expires = (
            f'<time datetime="{escape(row["expires_iso"])}">{escape(row["expires_text"])}</time>'
        )
        if row["expires_note"]:
            expires += f' <span class="sub">{escape(row["expires_note"])}</span>'
    else:
        expires = _NEVER
    return _ROW.format(
        url=escape(row["url"]),
        name=escape(row["name"]),
        description=f'<span class="sub">{escape(description)}</span>' if description else "",
        type_label=escape(row["type_label"]),
        group_name=escape(row["group_name"]),
        state_description=escape(row["state_description"]),
        state_label=escape(row["state_label"]),
        labels="".join(f'<span class="chip">{escape(label)}</span>' for label in row["labels"]),
        expires=expires,
        created_iso=escape(row["created_iso"]),
        created_text=escape(row["created_text"]),
        updated_iso=escape(row["updated_iso"]),
        updated_text=escape(row["updated_text"]),
    )


@register.simple_tag
def secret_rows(rows: Iterable[SecretRow]) -> SafeString:
    """The table's <tr> elements, every value escaped."""
    return mark_safe("".join(_row(row) for row in rows))


_ARROWS = {"ascending": " ▲", "descending": " ▼"}
_SORT_LINK = (
    '<a href="{href}" hx-get="{href}" hx-target="#secret-table" hx-swap="outerHTML" '
    'hx-push-url="true">{label}{arrow}</a>'
)


@register.simple_tag
def column_heads(columns: Iterable[dict[str, str | None]]) -> SafeString:
    """The header's <th> elements: each column's sort link (htmx swaps the table; without
    JavaScript it reloads the page) and, on the sorted one, aria-sort and an arrow. Built here
    for the rows' reason: as a template loop they were a quarter of the page's rendering
    (issue 13's profile)."""
    cells = []
    for column in columns:
        label = escape(column["label"] or "")
        sort = column["aria_sort"]
        head = f'<th scope="col" aria-sort="{escape(sort)}">' if sort else '<th scope="col">'
        if column["href"]:
            body = _SORT_LINK.format(
                href=escape(column["href"]), label=label, arrow=_ARROWS.get(sort or "", "")
            )
        else:
            body = label
        cells.append(f"{head}{body}</th>")
    return mark_safe("\n".join(cells))


@register.simple_tag
def select_options(choices: Iterable[tuple[str, str, bool]]) -> SafeString:
    """<option> elements for (value, label, selected) triples, every value escaped."""
    return mark_safe(
        "".join(
            f'<option value="{escape(value)}"{" selected" if selected else ""}>{escape(text)}</option>'
            for value, text, selected in choices
        )
    )

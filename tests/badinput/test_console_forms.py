"""Every console form (forms_table.py) and every wizard step (wizard_table.py), sent bad values:
each answers 422 with the error shown at the field, with and without htmx, and nothing changes.

Per form: a valid submission is accepted (so that a refusal below is the bad field's doing),
a NUL in any field is refused before any view (a 422 naming the field), and every field gets the
bad values of its kind (forms_table.BAD_VALUES).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.badinput.conftest import World
from tests.badinput.forms_table import BAD_VALUES, FORMS, Form
from tests.badinput.kit import NUL, flagged, snapshot, text, unchanged
from tests.badinput.wizard_table import STEPS, Step, reach

HX = {"HX-Request": "true"}
Case = Form | Step
CASES: list[Case] = [*FORMS, *STEPS]


def _target(world: World, case: Case) -> tuple[Client, str, dict[str, Any]]:
    """The client, the URL and a valid submission of the case (wizard steps reached first)."""
    if isinstance(case, Step):
        url = reach(world, case)
        return world.client, url, case.valid(world)
    if case.prepare is not None:
        case.prepare(world)
    client = Client() if case.anonymous else world.client
    return client, case.url(world), case.valid(world)


def _post(client: Client, url: str, data: dict[str, Any], *, htmx: bool) -> Any:
    return client.post(url, data, headers=HX if htmx else {})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_valid_submission_is_accepted(world, case):
    client, url, data = _target(world, case)
    response = _post(client, url, data, htmx=False)
    assert response.status_code in case.accepted, (response.status_code, text(response)[-3000:])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_nul_in_any_field_is_refused_before_the_view(world, case):
    client, url, data = _target(world, case)
    before = snapshot()
    for name in case.fields:
        for htmx in (False, True):
            response = _post(client, url, {**data, name: NUL}, htmx=htmx)
            page = text(response)
            assert response.status_code == 422, (name, htmx, response.status_code)
            assert 'data-testid="bad-input"' in page and f'data-field="{name}"' in page, name
            assert "NUL character" in page
            if htmx:
                assert response["HX-Retarget"] == "#main" and "<html" not in page
    assert not unchanged(before, snapshot())


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if any(BAD_VALUES[kind] for kind in c.fields.values())],
    ids=lambda c: c.id,
)
def test_bad_values_get_a_422_with_the_field_flagged(world, case):
    client, url, data = _target(world, case)
    before = snapshot()
    for name, kind in case.fields.items():
        for value in BAD_VALUES[kind]:
            for htmx in (False, True):
                response = _post(client, url, {**data, name: value}, htmx=htmx)
                page = text(response)
                shown = repr(value[:40])
                assert response.status_code == 422, (name, shown, htmx, response.status_code)
                mark = case.marks.get(name)
                assert (mark in page) if mark else flagged(page, name), (name, shown, htmx)
    assert not unchanged(before, snapshot())

"""Bad input below the forms: oversized and unreadable bodies, NUL characters in paths, queries and
the fields of forms that take none, bad query values on every filtered page, and what the tables
must cover (a new console URL or wizard step without a row fails here).

ConsoleInputMiddleware answers what no form could (413, 400, or a 422 naming the field); the
forms answer the rest (test_console_forms.py); nothing changes in either case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from console import validation
from console.wizards import registered_wizards
from tests.badinput.conftest import World
from tests.badinput.forms_table import FORMS
from tests.badinput.kit import COMBINING, NUL, RTL, snapshot, text, unchanged
from tests.badinput.wizard_table import SHOW_AGAIN, STEPS

HX = {"HX-Request": "true"}

# Console pages that take no form data (GET only; their query values are checked below).
NO_FORM = {
    "home",
    "healthz",
    "audit:log",
    "audit:export",
    "resource_controller:instance-list",
    "resource_controller:instance-detail",
    "cloud:iam-access-groups",
    "cloud:iam-authorizations",
    "cloud:ce-projects",
    "cloud:ce-runs",
    "cloud:ce-run",
    "cloud:ce-project",
    "cloud:ce-job",
    "config_test:detail",
    "config_test:status",
    "engines:index",
    "engines:config-detail",
    "secrets:list",
    "secrets:detail",
    "secrets:status",
    "secrets:versions",
    "secrets:versions-diff",
    "secrets:secret-tasks",
    "secrets:timeline",
    "secrets:tasks",
    "secrets:task-row",
    "secrets:groups",
    # JSON endpoints: tests/badinput/test_api.py
    "iam-token",
    # The admin's sign-in, routed to the console's own (the "login" row).
    "admin-login",
}
# Buttons: a POST whose only data is the CSRF token (and a `next` to go back to).
BUTTONS: dict[str, Callable[[World], str]] = {
    "logout": lambda w: reverse("logout"),
    "wizard-start": lambda w: reverse("wizard-start", args=["arbitrary"]),
    "cloud:iam-api-key-lock": lambda w: reverse("cloud:iam-api-key-lock", args=[w.api_key.pk]),
    "cloud:iam-policy-revoke": lambda w: reverse("cloud:iam-policy-revoke", args=[w.policy.pk]),
    "cloud:ce-project-delete": lambda w: reverse("cloud:ce-project-delete", args=[w.project.pk]),
    "cloud:ce-job-delete": lambda w: reverse(
        "cloud:ce-job-delete", args=[w.project.pk, w.job.name]
    ),
    "engines:iam-authorize": lambda w: reverse("engines:iam-authorize"),
    "engines:iam-configure": lambda w: reverse("engines:iam-configure"),
    "engines:iam-disable": lambda w: reverse("engines:iam-disable"),
    "engines:iam-enable": lambda w: reverse("engines:iam-enable"),
    "engines:config-delete": lambda w: reverse("engines:config-delete", args=[w.config.name]),
    "secrets:version-restore": lambda w: reverse(
        "secrets:version-restore",
        args=[w.iam_secret.pk, w.version(w.iam_secret).pk],
    ),
    "secrets:lock-remove": lambda w: reverse(
        "secrets:lock-remove", args=[w.arbitrary.pk, w.version(w.arbitrary).pk, "held"]
    ),
    "secrets:task-retry": lambda w: reverse("secrets:task-retry", args=[w.failed_task.pk]),
    "secrets:task-cancel": lambda w: reverse("secrets:task-cancel", args=[w.failed_task.pk]),
    "secrets:group-delete": lambda w: reverse("secrets:group-delete", args=[w.group.pk]),
}


def _console_url_names() -> set[str]:
    names: set[str] = set()

    def walk(resolver: URLResolver, namespace: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                if pattern.namespace not in {"admin", "api-v2"}:
                    walk(pattern, inner)
            elif pattern.name and not str(pattern.pattern).startswith("api/"):
                names.add(namespace + pattern.name)

    walk(get_resolver(), "")
    return names


def test_every_console_url_is_in_a_table():
    """A new page or form must say what it takes: a row in forms_table.py, wizard_table.py, or
    here (NO_FORM, BUTTONS). Django's admin and the API (test_api.py) are not console forms."""
    covered = {f.url_name for f in FORMS} | {"wizard-step"} | NO_FORM | set(BUTTONS)
    names = _console_url_names()
    assert names - covered == set(), "URLs without a row"
    assert covered - names == set(), "rows of URLs that no longer exist"


def test_every_wizard_step_and_action_is_in_the_table():
    steps = {(s.kind, s.step) for s in STEPS}
    actions = {(s.kind, s.step, s.action) for s in STEPS if s.action} | set(SHOW_AGAIN)
    for kind, wizard in registered_wizards().items():
        for step in wizard.steps:
            assert (kind, step.name) in steps, f"wizard {kind}: step {step.name} has no row"
            for action in step.actions:
                assert (kind, step.name, action) in actions, f"{kind}/{step.name}: {action}"


# ---------------------------------------------------------------------------------------------
# NUL characters outside form fields


@pytest.mark.parametrize("name", sorted(BUTTONS))
def test_a_button_with_a_nul_in_its_data_is_refused(world, name):
    url = BUTTONS[name](world)
    before = snapshot()
    for htmx in (False, True):
        response = world.client.post(url, {"next": NUL}, headers=HX if htmx else {})
        assert response.status_code == 422, (name, htmx)
        assert 'data-field="next"' in text(response)
    assert not unchanged(before, snapshot())


@pytest.mark.parametrize(
    "path",
    ["/secrets/?q=a%00b", "/tasks/?view=%00", "/groups/%00/edit/", "/cloud/code-engine/a%00b/"],
)
def test_a_nul_in_the_path_or_the_query_is_a_400(world, path):
    before = snapshot()
    response = world.client.get(path)
    assert response.status_code == 400 and "NUL character" in text(response)
    assert "<html" in text(response) and 'data-testid="bad-input"' in text(response)
    htmx = world.client.get(path, headers=HX)
    assert htmx.status_code == 422 and htmx["HX-Retarget"] == "#main"
    assert "<html" not in text(htmx) and "NUL character" in text(htmx)
    assert not unchanged(before, snapshot())


def test_a_nul_in_a_field_name_is_refused_too(world):
    before = snapshot()
    response = world.client.post(reverse("secrets:group-create"), {"name\x00": "x", "name": "ok"})
    assert response.status_code == 422 and "NUL character" in text(response)
    assert not unchanged(before, snapshot())


def test_an_anonymous_post_with_a_nul_is_sent_to_sign_in_first(world):
    """The checks come after sign-in: an anonymous request learns nothing from them."""
    response = Client().post(reverse("secrets:group-create"), {"name": NUL})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# ---------------------------------------------------------------------------------------------
# Sizes and unreadable bodies


def _post_raw(client: Client, url: str, body: bytes, content_type: str, **extra: Any) -> Any:
    return client.generic("POST", url, body, content_type=content_type, **extra)


def test_a_form_larger_than_the_limit_is_a_413(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    url = reverse("secrets:group-create")
    before = snapshot()
    data = {"name": "big-group", "description": "x" * 70 * 1024}
    response = world.client.post(url, data)
    assert response.status_code == 413 and "larger than the console accepts (0.1 MB)" in text(
        response
    )
    htmx = world.client.post(url, data, headers=HX)
    assert htmx.status_code == 422 and htmx["HX-Retarget"] == "#main"
    assert "larger than the console accepts" in text(htmx)
    assert not unchanged(before, snapshot())


def test_the_default_limit_answers_413_not_400(world):
    """4 MB of form data (SM_MAX_REQUEST_BYTES' default), as Django alone would answer 400."""
    before = snapshot()
    response = world.client.post(
        reverse("secrets:rotate", args=[world.arbitrary.pk]), {"payload": "x" * 5_000_000}
    )
    assert response.status_code == 413 and "(4 MB)" in text(response)
    assert not unchanged(before, snapshot())


def test_a_file_larger_than_any_form_takes_is_a_413_before_it_is_read(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    limit = 64 * 1024 + validation.UPLOAD_MAX_BYTES
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = snapshot()
    upload = SimpleUploadedFile("value.txt", b"x" * (limit + 1))
    response = world.client.post(
        reverse("secrets:rotate", args=[world.arbitrary.pk]), {"payload_file": upload}
    )
    assert response.status_code == 413
    assert not unchanged(before, snapshot())


def test_form_data_over_the_limit_beside_a_file_is_a_413(world, settings):
    """Within the total (a file may add UPLOAD_MAX_BYTES) but with too much form data."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = snapshot()
    response = world.client.post(
        reverse("secrets:rotate", args=[world.arbitrary.pk]),
        {"payload_file": SimpleUploadedFile("v.txt", b"new"), "payload": "x" * 100 * 1024},
    )
    assert response.status_code == 413
    assert not unchanged(before, snapshot())


@pytest.mark.parametrize(
    ("body", "content_type", "extra"),
    [
        (b"--x\r\nnot a part", "multipart/form-data", {}),
        (b"--\xe9\r\n", "multipart/form-data; boundary=\xe9", {}),
        (b"name=x", "application/x-www-form-urlencoded", {"CONTENT_LENGTH": "six"}),
        (b"&".join(b"f%d=1" % i for i in range(1001)), "application/x-www-form-urlencoded", {}),
    ],
    ids=["no-boundary", "bad-boundary", "content-length-not-a-number", "too-many-fields"],
)
def test_unreadable_form_data_is_a_400(world, body, content_type, extra):
    before = snapshot()
    url = reverse("secrets:group-create")
    response = _post_raw(world.client, url, body, content_type, **extra)
    assert response.status_code == 400, text(response)[-500:]
    assert 'data-testid="bad-input"' in text(response)
    assert not unchanged(before, snapshot())


def test_too_many_files_is_a_400(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {f"f{i}": SimpleUploadedFile(f"{i}.txt", b"x") for i in range(101)}
    before = snapshot()
    response = world.client.post(reverse("secrets:rotate", args=[world.arbitrary.pk]), files)
    assert response.status_code == 400
    assert not unchanged(before, snapshot())


# ---------------------------------------------------------------------------------------------
# Bad query values: every filtered page answers them without a server error and changes nothing

QUERY_VALUES = ("", RTL, COMBINING, "no-such-choice", "-1", "0", "9" * 5000, "a" * 3000, "%_\\'")


def _pages(w: World) -> dict[str, tuple[str, tuple[str, ...]]]:
    arbitrary, task = w.arbitrary.pk, w.failed_task.pk
    return {
        "secrets": ("/secrets/", ("q", "type", "group", "state", "labels", "expires", "sort", "page")),
        "tasks": ("/tasks/", ("view", "configuration", "code", "type", "trigger", "group", "age", "by", "page")),
        "bulk-retry": ("/tasks/bulk-retry/", ("task", "all", "next", "view", "page")),
        "task-row": (f"/tasks/{task}/row/", ("next",)),
        "task-note": (f"/tasks/{task}/acknowledge/", ("next",)),
        "audit": ("/audit/", ("actor", "action", "object_type", "object_id", "outcome", "date_from", "date_to", "page")),
        "audit-csv": ("/audit/export.csv", ("actor", "outcome", "date_from", "page")),
        "audit-json": ("/audit/export.json", ("action", "date_to")),
        "access": ("/cloud/iam/access/", ("scope", "kind", "assign-subject", "assign-role", "back")),
        "service-ids": ("/cloud/iam/service-ids/", ("service_id", "name", "description")),
        "engines": ("/engines/", ("tab",)),
        "diff": (f"/secrets/{arbitrary}/versions/diff/", ("a", "b")),
        "timeline": (f"/secrets/{arbitrary}/timeline/", ("kind",)),
        "login": ("/login/", ("next",)),
        "reauth": ("/reauth/", ("next",)),
    }  # fmt: skip


@pytest.mark.parametrize(
    "page",
    ["secrets", "tasks", "bulk-retry", "task-row", "task-note", "audit", "audit-csv",
     "audit-json", "access", "service-ids", "engines", "diff", "timeline", "login", "reauth"],
)  # fmt: skip
def test_bad_query_values_never_make_a_server_error(world, page):
    from console.models import AuditEvent

    url, names = _pages(world)[page]
    before, audited = snapshot(), AuditEvent.objects.count()
    for name in names:
        for value in QUERY_VALUES:
            response = world.client.get(url, {name: value})
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            assert response.status_code < 500, (page, name, value[:20], response.status_code)
    changed = unchanged(before, snapshot())
    if page.startswith("audit-"):  # an export is audited: that, and only that, was added
        new = AuditEvent.objects.order_by("pk")[audited:]
        assert {event.action for event in new} <= {"audit.export"}
        changed = [c for c in changed if not c.startswith("console.AuditEvent:")]
    assert not changed

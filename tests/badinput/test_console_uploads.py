"""File inputs, in-context actions that only show a step again, and free text.

Every file input of the console (a secret's value on Rotate and on the arbitrary wizard's Review,
the Details step's two metadata files, a Code Engine job's job_config.json on New job and on the
Environment variables tab) is sent files whose names climb out of any directory
(../../etc/passwd and the like) with contents that it must refuse: 422, the input flagged,
nothing changed. With acceptable contents such a name does not matter: the console reads uploads
in memory and stores what they contain, never a file or its name.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from console.identity import Actor
from console.models import WizardDraft
from secrets_app.models import SecretGroup
from secrets_app.services import secret_version_payload_read
from tests.badinput.conftest import World
from tests.badinput.forms_table import _JOB_ENV, FLAG, HIDDEN, SAMPLE_COMMAND, _env_rows
from tests.badinput.kit import (
    COMBINING,
    OVERLONG,
    RTL,
    TRAVERSAL_NAMES,
    flagged,
    rows_containing,
    snapshot,
    text,
    unchanged,
)
from tests.badinput.wizard_table import SHOW_AGAIN, STEPS, reach
from tests.wizards.conftest import WizardDriver

HX = {"HX-Request": "true"}
READER = Actor(iam_id="IBMid-0000000999", name="bad-input-admin", system=True)

VALUE_FILES = {
    "nul": b"value\x00with a NUL",
    "not-utf-8": b"\xff\xfe\x00v\x00a\x00l",
    "too-large": b"x" * 4_000_004,  # more than 1,000,000 characters could take in UTF-8
}
JSON_FILES = {
    "malformed": b'{"owner": }',
    "not-an-object": b'["owner"]',
    "nul-escape": b'{"owner": "a\\u0000b"}',
    "surrogate-escape": b'{"owner": "\\ud800"}',
    "not-utf-8": b"\xff\xfe{}",
    "too-large": b'{"k": "' + b"v" * 70_000 + b'"}',
}
JOB_CONFIG_FILES = {
    "malformed": b'{"job_env_variables": [',
    "not-utf-8": b"\xff\xfe{}",
    "nul-escape": b'{"job_env_variables": [{"name": "SMIN_A\\u0000", "value": "type:string"}]}',
    "surrogate-escape": b'{"job_env_variables": [{"name": "SMOUT_X", "value": "\\ud800"}]}',
    "no-declarations": b'{"job_env_variables": []}',
    "too-large": b" " * (64 * 1024 + 1),
}
GOOD_JOB_CONFIG = (
    b'{"job_env_variables": [{"name": "SMIN_USER", "value": "type:string, required:true"},'
    b' {"name": "SMOUT_TOKEN", "value": "type:string, required:true"}]}'
)


@dataclass(frozen=True)
class FileInput:
    id: str
    field: str
    target: Callable[[World], str]  # the URL to post to (a wizard step is reached first)
    data: Callable[[World], dict[str, Any]]  # the rest of a valid submission
    contents: dict[str, bytes]


def _step(step_id: str) -> Callable[[World], str]:
    case = next(s for s in STEPS if s.id == step_id)
    return lambda w: reach(w, case)


def _details(w: World) -> dict[str, Any]:
    data = next(s for s in STEPS if s.id == "arbitrary-details").valid(w)
    return {k: v for k, v in data.items() if "metadata" not in k}


FILE_INPUTS = (
    FileInput(
        "rotate",
        "payload_file",
        lambda w: reverse("secrets:rotate", args=[w.arbitrary.pk]),
        lambda w: {},
        VALUE_FILES,
    ),
    FileInput(
        "arbitrary-review", "payload_file", _step("arbitrary-review"), lambda w: {}, VALUE_FILES
    ),
    FileInput(
        "details-metadata", "custom_metadata_file", _step("arbitrary-details"), _details, JSON_FILES
    ),
    FileInput(
        "details-version-metadata",
        "version_custom_metadata_file",
        _step("arbitrary-details"),
        _details,
        JSON_FILES,
    ),
    FileInput(
        "ce-job-create",
        "job_config",
        lambda w: reverse("cloud:ce-job-create", args=[w.project.pk]),
        lambda w: {
            "name": "fresh-job",
            "command": SAMPLE_COMMAND,
            "action": "save",
            **_env_rows(*_JOB_ENV),
        },
        JOB_CONFIG_FILES,
    ),
    FileInput(
        "ce-job-create-import",
        "job_config",
        lambda w: reverse("cloud:ce-job-create", args=[w.project.pk]),
        lambda w: {"name": "fresh-job", "command": SAMPLE_COMMAND, "action": "import"},
        JOB_CONFIG_FILES,
    ),
    FileInput(
        "ce-job-env",
        "job_config",
        lambda w: reverse("cloud:ce-job-env", args=[w.project.pk, w.job.name]),
        lambda w: {"action": "save", **_env_rows()},
        JOB_CONFIG_FILES,
    ),
    FileInput(
        "ce-job-env-import",
        "job_config",
        lambda w: reverse("cloud:ce-job-env", args=[w.project.pk, w.job.name]),
        lambda w: {"action": "import", **_env_rows()},
        JOB_CONFIG_FILES,
    ),
)


PLANTED = ("passwd", "shadow", "win.ini")


def _planted() -> set[str]:
    """Files named as the uploads were, where a careless join of the name would put them: the
    data directory (and its media), the temporary directory, and the paths the names climb to."""
    roots = [Path(settings.DATA_DIR), Path(settings.MEDIA_ROOT or settings.DATA_DIR)]
    found = {
        str(p) for root in roots if root.exists() for p in root.rglob("*") if p.name in PLANTED
    }
    found |= {str(p) for p in Path(tempfile.gettempdir()).glob("*") if p.name in PLANTED}
    return found | {str(p) for p in (Path("/etc/shadow"), Path("/windows/win.ini")) if p.exists()}


def _passwd() -> str:
    path = Path("/etc/passwd")
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


@pytest.mark.parametrize("upload", FILE_INPUTS, ids=lambda u: u.id)
def test_a_refused_file_gets_a_422_whatever_its_name(world, upload):
    url = upload.target(world)
    data = upload.data(world)
    files, passwd, before = _planted(), _passwd(), snapshot()
    for kind, content in upload.contents.items():
        for name in TRAVERSAL_NAMES[:3]:
            for htmx in (False, True):
                posted = {**data, upload.field: SimpleUploadedFile(name, content)}
                response = world.client.post(url, posted, headers=HX if htmx else {})
                assert response.status_code == 422, (kind, name, htmx, response.status_code)
                assert flagged(text(response), upload.field), (kind, name, htmx)
    assert not unchanged(before, snapshot())
    assert _planted() == files and _passwd() == passwd


def test_a_value_file_is_read_not_stored_under_its_name(world):
    """A value uploaded as ../../etc/passwd becomes the new version's value; the name is
    neither a path the console writes to nor anything it keeps."""
    files, passwd = _planted(), _passwd()
    upload = SimpleUploadedFile("../../etc/passwd", b"value-from-a-file")
    response = world.client.post(
        reverse("secrets:rotate", args=[world.arbitrary.pk]), {"payload_file": upload}
    )
    assert response.status_code == 302
    current = world.version(world.arbitrary)
    payload = secret_version_payload_read(actor=READER, version_id=current.pk)
    assert payload == "value-from-a-file"
    assert rows_containing("passwd") == []
    assert _planted() == files and _passwd() == passwd


def test_a_metadata_file_keeps_its_json_not_its_name(world):
    driver = WizardDriver(world.client, "arbitrary")
    upload = SimpleUploadedFile("../../etc/shadow", b'{"owner": "team-a"}')
    data = {**_details(world), "custom_metadata_file": upload}
    assert driver.post("details", data).status_code == 302
    assert driver.draft.data["details"]["custom_metadata"] == ['{"owner": "team-a"}']
    assert rows_containing("shadow") == []


def test_a_job_config_file_is_imported_whatever_its_name(world):
    url = reverse("cloud:ce-job-create", args=[world.project.pk])
    before = snapshot()
    upload = SimpleUploadedFile("..\\..\\windows\\job_config.json", GOOD_JOB_CONFIG)
    response = world.client.post(
        url,
        {"name": "fresh-job", "command": SAMPLE_COMMAND, "action": "import", "job_config": upload},
    )
    assert response.status_code == 200 and "Read 2 declarations" in text(response)
    assert not unchanged(before, snapshot())  # an import only shows the rows


def test_a_file_named_dot_dot_is_no_file_at_all(world):
    """Django drops a part whose file name is "..": the form sees no upload, and says so."""
    before = snapshot()
    # Built by hand: the test client itself refuses such a file name.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="payload_file"; filename=".."\r\n'
        b"Content-Type: text/plain\r\n\r\nvalue\r\n--b--\r\n"
    )
    response = world.client.generic(
        "POST",
        reverse("secrets:rotate", args=[world.arbitrary.pk]),
        body,
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 422 and "Enter or upload the new value" in text(response)
    assert not unchanged(before, snapshot())


# ---------------------------------------------------------------------------------------------
# Actions that show a step again keep what was typed, in the draft only


@pytest.mark.parametrize("key", sorted(SHOW_AGAIN), ids="-".join)
def test_show_again_actions_keep_bad_values_in_the_draft_only(world, key):
    kind, step, action = key
    case = next(s for s in STEPS if s.kind == kind and s.step == step and not s.action)
    url = reach(world, case)
    valid = SHOW_AGAIN[key](world)
    before = snapshot()
    for name, field_kind in case.fields.items():
        if field_kind in (FLAG, HIDDEN):
            continue
        for value in (OVERLONG, RTL, "no-such-choice"):
            data = {**valid, name: value, "wizard_action": action}
            for htmx in (False, True):
                response = world.client.post(url, data, headers=HX if htmx else {})
                # Shown again (200), or refused where the action itself needs the value (422).
                assert response.status_code in (200, 422), (name, htmx, response.status_code)
            # Next, with the same values, is refused: the draft never passes validation so.
            refused = world.client.post(url, {**valid, name: value})
            assert refused.status_code == 422, (name, value[:20])
    changed = unchanged(before, snapshot())
    assert [c.split(":")[0] for c in changed] in ([], ["console.WizardDraft"]), changed


@pytest.mark.parametrize("value", ["twelve", "9" * 5000, "-3", "\u00b2"])
@pytest.mark.parametrize("action", ["more", "import"])
def test_more_rows_with_a_bad_row_count_shows_the_form_again(world, action, value):
    """Add more rows / Import read the posted row count (env-TOTAL_FORMS), and must survive any."""
    url = reverse("cloud:ce-job-create", args=[world.project.pk])
    data = {**_env_rows(("SMIN_USER", "type:string")), "name": "fresh-job", "action": action}
    data["env-TOTAL_FORMS"] = value
    if action == "import":
        data["job_config"] = SimpleUploadedFile("job_config.json", GOOD_JOB_CONFIG)
    before = snapshot()
    response = world.client.post(url, data)
    assert response.status_code in (200, 422), response.status_code
    assert not unchanged(before, snapshot())


def test_a_huge_row_count_does_not_make_the_view_loop(world):
    url = reverse("cloud:ce-job-env", args=[world.project.pk, world.job.name])
    data = {**_env_rows(), "action": "import", "env-TOTAL_FORMS": "999999999"}
    data["job_config"] = SimpleUploadedFile("job_config.json", GOOD_JOB_CONFIG)
    response = world.client.post(url, data)
    assert response.status_code == 200 and "Read 2 declarations" in text(response)


# ---------------------------------------------------------------------------------------------
# Free text is any Unicode but NUL: kept exactly as typed, shown escaped


def test_free_text_keeps_rtl_overrides_and_combining_marks_exactly(world):
    description = f"{RTL} {COMBINING} <b>not bold</b>"
    response = world.client.post(
        reverse("secrets:group-create"), {"name": "unicode-group", "description": description}
    )
    assert response.status_code == 302
    assert SecretGroup.objects.get(name="unicode-group").description == description
    page = text(world.client.get(reverse("secrets:groups")))
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page


def test_sign_in_without_a_username_says_so_at_the_field(world):
    from django.test import Client

    response = Client().post(reverse("login"), {"username": "", "password": ""})
    assert response.status_code == 422
    assert flagged(text(response), "username") and flagged(text(response), "password")
    assert not WizardDraft.objects.filter(owner__username="").exists()

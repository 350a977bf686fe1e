"""Every console form that is not a wizard step, as data: where it posts, a submission that would
be accepted, and the kind of each field (which decides the bad values it is sent).

The wizard steps have their own table (wizard_table.py). test_console_forms.py drives both;
test_console_transport.py checks that every URL of the console is in one of them or is listed
as taking no form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from tests.badinput.conftest import PASSWORD, World
from tests.badinput.kit import BAD_JSON_TEXTS, COMBINING, OVERLONG, RTL

# The bad values sent to a field of each kind (a NUL goes to every field of every kind).
IDENTIFIER, TEXT, JSON, NUMBER, CHOICE, DATE, DURATION, SECRET, FLAG, HIDDEN = (
    "identifier",
    "text",
    "json",
    "number",
    "choice",
    "date",
    "duration",
    "secret",
    "flag",
    "hidden",
)
BAD_VALUES: dict[str, tuple[str, ...]] = {
    # Names with a pattern (secrets, groups, locks, jobs...): nothing outside it, however it looks.
    IDENTIFIER: (OVERLONG, RTL, COMBINING, "-starts-with-a-dash"),
    # Free text (descriptions, notes, labels, display names): any Unicode, within its length.
    TEXT: (OVERLONG,),
    JSON: (OVERLONG, *BAD_JSON_TEXTS),
    # "²" is a digit to str.isdigit() but not to int().
    NUMBER: ("twelve", "1e3", "\u00b2", "9" * 5000, OVERLONG),
    CHOICE: ("no-such-choice", OVERLONG, RTL),
    DATE: ("2031-13-45T25:61", "tomorrow", OVERLONG),
    DURATION: ("10 minutes", "-5m", "5x", OVERLONG),
    SECRET: (OVERLONG,),
    FLAG: (),
    HIDDEN: (),
}


@dataclass(frozen=True)
class Form:
    id: str
    url_name: str
    url: Callable[[World], str]
    valid: Callable[[World], dict[str, Any]]
    fields: Mapping[str, str]
    # What shows the error of a field when the input itself cannot carry aria-invalid.
    marks: Mapping[str, str] = field(default_factory=dict)
    anonymous: bool = False
    # Answers of a valid submission (a redirect, or a page for those that answer in place).
    accepted: tuple[int, ...] = (200, 302)
    # Run before anything is posted, e.g. to remove what would make a valid submission fail.
    prepare: Callable[[World], None] | None = None


def _detail(w: World, name: str, secret: Any) -> str:
    return reverse(f"secrets:{name}", args=[secret.pk])


def _version_url(name: str, alias: str = "current") -> Callable[[World], str]:
    def url(w: World) -> str:
        return reverse(f"secrets:{name}", args=[w.arbitrary.pk, w.version(w.arbitrary, alias).pk])

    return url


def _edit_arbitrary(w: World) -> dict[str, Any]:
    return {
        "name": w.arbitrary.name,
        "description": "edited",
        "secret_group": w.group.pk,
        "labels": "team-a, us-south",
        "custom_metadata": '{"owner": "team-a"}',
        "expiration_date": "2039-01-01T00:00",
    }


def _edit_custom(w: World) -> dict[str, Any]:
    return {
        "name": w.custom.name,
        "description": "edited",
        "secret_group": w.custom.secret_group_id,
        "labels": "demo, inbox",
        "custom_metadata": "",
        "ttl": "30d",
        "auto_rotate": "on",
        "interval": "7",
        "unit": "day",
        "param_user_name": "demo-user",
        "param_scope": "user",
        "param_expires": "600",
    }


def _env_rows(*rows: tuple[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "env-TOTAL_FORMS": str(len(rows)),
        "env-INITIAL_FORMS": "0",
        "env-MIN_NUM_FORMS": "0",
        "env-MAX_NUM_FORMS": "150",
    }
    for i, (name, value) in enumerate(rows):
        data[f"env-{i}-name"], data[f"env-{i}-value"] = name, value
    return data


SAMPLE_COMMAND = "{python} {sample_jobs_dir}/token_provider.py"
_ENV_FIELDS = {
    "env-0-name": IDENTIFIER,
    "env-0-value": TEXT,
    "env-0-remove": FLAG,
    "env-TOTAL_FORMS": NUMBER,
}
# The inbox answers an htmx action with the task's row, which shows the note's error as text.
NOTE_MARKS = {"note": "at most 1024 characters"}
_JOB_ENV = (
    ("SMIN_USER", "type:string, required:true"),
    ("SMOUT_TOKEN", "type:string, required:true"),
)


def _without_iam_engine(w: World) -> None:
    from engines_app.models import ConfigType, Configuration

    Configuration.objects.filter(config_type=ConfigType.IAM_CREDENTIALS).delete()


FORMS: tuple[Form, ...] = (
    Form(
        "login",
        "login",
        lambda w: reverse("login"),
        lambda w: {"username": w.owner.username, "password": PASSWORD},
        {"username": TEXT, "password": TEXT, "next": HIDDEN},
        # Django's sign-in form checks no length: too long is "not a correct username".
        marks={"username": 'class="form-error"', "password": 'class="form-error"'},
        anonymous=True,
    ),
    Form(
        "group-create",
        "secrets:group-create",
        lambda w: reverse("secrets:group-create"),
        lambda w: {"name": "fresh-group", "description": "made by a test"},
        {"name": IDENTIFIER, "description": TEXT},
    ),
    Form(
        "group-edit",
        "secrets:group-edit",
        lambda w: reverse("secrets:group-edit", args=[w.group.pk]),
        lambda w: {"name": "renamed-group", "description": "renamed"},
        {"name": IDENTIFIER, "description": TEXT},
    ),
    Form(
        "secret-add",
        "secrets:add",
        lambda w: reverse("secrets:add"),
        lambda w: {"secret_type": "arbitrary"},
        {"secret_type": CHOICE},
    ),
    Form(
        "reveal",
        "secrets:reveal",
        lambda w: _detail(w, "reveal", w.arbitrary),
        lambda w: {"version": "current", "reason": "checking"},
        {"version": CHOICE, "reason": TEXT},
        marks={"version": 'data-testid="reveal-error"', "reason": 'data-testid="reveal-error"'},
    ),
    Form(
        "rotate",
        "secrets:rotate",
        lambda w: _detail(w, "rotate", w.arbitrary),
        lambda w: {"payload": "third-value", "version_custom_metadata": '{"reason": "test"}'},
        {"payload": SECRET, "version_custom_metadata": JSON},
    ),
    Form(
        "edit-arbitrary",
        "secrets:edit",
        lambda w: _detail(w, "edit", w.arbitrary),
        _edit_arbitrary,
        {
            "name": IDENTIFIER,
            "description": TEXT,
            "secret_group": CHOICE,
            "labels": TEXT,
            "custom_metadata": JSON,
            "expiration_date": DATE,
        },
    ),
    Form(
        "edit-custom-credentials",
        "secrets:edit",
        lambda w: _detail(w, "edit", w.custom),
        _edit_custom,
        {
            "name": IDENTIFIER,
            "ttl": DURATION,
            "auto_rotate": FLAG,
            "interval": NUMBER,
            "unit": CHOICE,
            "param_user_name": TEXT,
            "param_scope": CHOICE,
            "param_expires": NUMBER,
        },
    ),
    Form(
        "delete",
        "secrets:delete",
        lambda w: _detail(w, "delete", w.unlocked),
        lambda w: {"confirm_name": w.unlocked.name},
        {"confirm_name": IDENTIFIER, "force": FLAG, "force_confirmed": FLAG},
    ),
    Form(
        "version-metadata",
        "secrets:version-metadata",
        _version_url("version-metadata"),
        lambda w: {"version_custom_metadata": '{"reason": "reviewed"}'},
        {"version_custom_metadata": JSON},
    ),
    Form(
        "version-metadata-in-place",
        "secrets:version-metadata-in-place",
        _version_url("version-metadata-in-place"),
        lambda w: {"version_custom_metadata": '{"reason": "reviewed"}'},
        {"version_custom_metadata": JSON},
    ),
    Form(
        "lock-add",
        "secrets:lock-add",
        _version_url("lock-add", "previous"),
        lambda w: {"name": "audit-hold", "description": "held", "attributes": '{"app": "x"}'},
        {"name": IDENTIFIER, "description": TEXT, "attributes": JSON, "mode": CHOICE},
    ),
    Form(
        "task-acknowledge",
        "secrets:task-note-action",
        lambda w: reverse("secrets:task-note-action", args=[w.failed_task.pk, "acknowledge"]),
        lambda w: {"note": "known: the user does not exist", "next": "/tasks/"},
        {"note": TEXT, "next": HIDDEN},
        marks=NOTE_MARKS,
    ),
    Form(
        "task-give-up",
        "secrets:task-note-action",
        lambda w: reverse("secrets:task-note-action", args=[w.failed_delete.pk, "give-up"]),
        lambda w: {"note": "nothing to clean up", "next": "/tasks/"},
        {"note": TEXT, "next": HIDDEN},
        marks=NOTE_MARKS,
    ),
    Form(
        "task-bulk-retry",
        "secrets:task-bulk-retry",
        lambda w: reverse("secrets:task-bulk-retry"),
        lambda w: {"previewed": [f"{w.failed_task.pk}:{_stamp(w)}"], "next": "/tasks/"},
        {"previewed": IDENTIFIER, "next": HIDDEN},
        marks={"previewed": "The preview was altered"},
    ),
    Form(
        "config-timeout",
        "engines:config-timeout",
        lambda w: reverse("engines:config-timeout", args=[w.config.name]),
        lambda w: {"task_timeout": "15m"},
        {"task_timeout": DURATION},
    ),
    Form(
        "config-test-start",
        "config_test:start",
        lambda w: reverse("config_test:start", args=[w.config.name]),
        lambda w: {
            "secret_group": w.custom.secret_group_id,
            "param_user_name": "probe-user",
            "param_scope": "user",
            "param_expires": "60",
        },
        {
            "secret_group": CHOICE,
            "param_user_name": TEXT,
            "param_scope": CHOICE,
            "param_expires": NUMBER,
        },
    ),
    Form(
        "iam-configure-api-key",
        "engines:iam-configure-api-key",
        lambda w: reverse("engines:iam-configure-api-key"),
        lambda w: {"new-api_key": _engine_key(w)},
        {"new-api_key": IDENTIFIER},
        prepare=_without_iam_engine,
    ),
    Form(
        "iam-edit",
        "engines:iam-edit",
        lambda w: reverse("engines:iam-edit"),
        lambda w: {"edit-api_key": _engine_key(w)},
        {"edit-api_key": IDENTIFIER},
    ),
    Form(
        "iam-service-ids",
        "cloud:iam-service-ids",
        lambda w: reverse("cloud:iam-service-ids"),
        lambda w: {"name": "fresh-app", "description": "made by a test"},
        {"name": TEXT, "description": TEXT},
    ),
    Form(
        "iam-api-keys",
        "cloud:iam-api-keys",
        lambda w: reverse("cloud:iam-api-keys"),
        lambda w: {"service_id": w.service_id.pk, "name": "fresh-key", "description": "d"},
        {"service_id": CHOICE, "name": TEXT, "description": TEXT},
    ),
    Form(
        "iam-access-assign",
        "cloud:iam-access",
        lambda w: reverse("cloud:iam-access"),
        lambda w: {
            "assign-subject": f"service_id:{w.service_id.pk}",
            "assign-role": "Reader",
            "assign-scope": "instance",
        },
        {"assign-subject": CHOICE, "assign-role": CHOICE, "assign-scope": CHOICE},
    ),
    Form(
        "reauth",
        "reauth",
        lambda w: reverse("reauth"),
        lambda w: {"password": PASSWORD, "next": "/secrets/"},
        # A wrong password is a denial, audited as such: only what no form takes is sent here.
        {"password": HIDDEN, "next": HIDDEN},
    ),
    Form(
        "ce-project-create",
        "cloud:ce-project-create",
        lambda w: reverse("cloud:ce-project-create"),
        lambda w: {"name": "fresh-project", "region": "eu-de"},
        {"name": TEXT, "region": CHOICE},
    ),
    Form(
        "ce-job-create",
        "cloud:ce-job-create",
        lambda w: reverse("cloud:ce-job-create", args=[w.project.pk]),
        lambda w: {
            "name": "fresh-job",
            "command": SAMPLE_COMMAND,
            "action": "save",
            **_env_rows(*_JOB_ENV),
        },
        {"name": IDENTIFIER, "command": TEXT, "action": HIDDEN, **_ENV_FIELDS},
        marks={"env-TOTAL_FORMS": 'id="env-errors"'},
    ),
    Form(
        "ce-job-edit",
        "cloud:ce-job-edit",
        lambda w: reverse("cloud:ce-job-edit", args=[w.project.pk, w.job.name]),
        lambda w: {"command": f"{SAMPLE_COMMAND} --verbose"},
        {"command": TEXT},
    ),
    Form(
        "ce-job-env",
        "cloud:ce-job-env",
        lambda w: reverse("cloud:ce-job-env", args=[w.project.pk, w.job.name]),
        lambda w: {"action": "save", **_env_rows(*_JOB_ENV, ("SMIN_MORE", "type:string"))},
        {
            "action": HIDDEN,
            "env-2-name": IDENTIFIER,
            "env-2-value": TEXT,
            "env-2-remove": FLAG,
        },
    ),
    Form(
        "ce-schema-preview",
        "cloud:ce-schema-preview",
        lambda w: reverse("cloud:ce-schema-preview"),
        lambda w: _env_rows(*_JOB_ENV),
        {"env-0-name": HIDDEN, "env-0-value": HIDDEN},
    ),
)


def _stamp(w: World) -> str:
    from secrets_app.services.inbox_reading import task_stamp

    return task_stamp(w.failed_task)


def _engine_key(w: World) -> str:
    """A fresh API key of the IAM engine's service ID (what iam-edit takes)."""
    from engines_app.providers.embedded.iam import services as iam
    from engines_app.providers.embedded.iam.models import ServiceId
    from secrets_app import seed
    from tests.badinput.conftest import ADMIN

    engine = ServiceId.objects.get(name=seed.ENGINE_SERVICE_ID)
    _, value = iam.api_key_create(actor=ADMIN, name="rotated-engine-key", service_id=engine)
    return value


FORMS_BY_ID = {form.id: form for form in FORMS}

"""How the matrix calls each row (tests/authz/test_matrix.py): the URL's arguments, taken from
the world (tests/authz/world.py), and the body of a POST (a form) or of an API write (JSON).

Bodies are minimal and valid where that is cheap: the matrix asks who gets through, not whether
the form validates, so a 422 after the permission check counts as through. An API body must be
well-formed, though, since the API validates it before any check (a 400 there would hide the
answer). A row's key is its URL name; a name whose argument chooses a different view (a wizard's
kind, a task action) has a row per choice, `name[choice]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from secrets_app.services.inbox_reading import task_stamp
from tests.authz.world import LOCK_NAME, PASSWORD, SPARE_JOB, USERS, World

Args = Callable[[World, str], dict[str, Any]]
Body = Callable[[World, str], dict[str, Any]]


def _none(world: World, persona: str) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Call:
    kwargs: Args = _none
    body: Body = _none  # the POST form, or the API write's JSON
    query: str = ""


def _arbitrary(w: World, p: str) -> dict[str, Any]:
    return {"secret_id": w.arbitrary.pk}


def _previous(w: World, p: str) -> dict[str, Any]:
    return {"secret_id": w.arbitrary.pk, "version_id": w.previous.pk}


def _current(w: World, p: str) -> dict[str, Any]:
    return {"secret_id": w.arbitrary.pk, "version_id": w.current.pk}


def _task(attr: str, **extra: str) -> Args:
    return lambda w, p: {"task_id": getattr(w, attr).pk, **extra}


def _draft(kind: str, step: str, *, foreign: bool = False) -> Args:
    def args(w: World, p: str) -> dict[str, Any]:
        # A persona without a draft of its own (anonymous, the job) asks for another user's.
        mine = w.drafts.get((p, kind))
        draft = w.foreign_drafts[kind] if foreign or mine is None else mine
        return {"kind": kind, "draft_id": draft, "step": step}

    return args


def _password(w: World, p: str) -> dict[str, Any]:
    return {"password": PASSWORD} if p in USERS else {}


def _group(w: World, p: str) -> dict[str, Any]:
    return {"group_id": w.group.pk}


def _details(w: World, p: str) -> dict[str, Any]:
    return {"name": "authz-wizard-new", "description": "", "secret_group": w.group.pk}


def _config_test(w: World, p: str) -> dict[str, Any]:
    return {"test_id": w.config_test.pk}


def _project(w: World, p: str) -> dict[str, Any]:
    return {"project_id": w.project.pk}


def _job(w: World, p: str) -> dict[str, Any]:
    return {"project_id": w.project.pk, "job_name": w.job.name}


def _config(w: World, p: str) -> dict[str, Any]:
    return {"name": w.configuration.name}


def _id(attr: str) -> Args:
    return lambda w, p: {"id": getattr(w, attr).pk}


def _version(alias: str) -> Args:
    return lambda w, p: {"secret_id": w.arbitrary.pk, "id": alias}


def _locked_version(w: World, p: str) -> dict[str, Any]:
    return {"secret_id": w.locked.pk, "id": w.locked_version.pk}


def _task_of(attr: str) -> Args:
    return lambda w, p: {"secret_id": getattr(w, attr).secret_id, "id": getattr(w, attr).pk}


WIZARD_FIRST_STEPS = {
    "arbitrary": "details",
    "custom_credentials": "details",
    "iam_credentials": "details",
    "service_credentials": "details",
    "custom_configuration": "name",
}


def _wizard_calls() -> dict[str, Call]:
    calls: dict[str, Call] = {}
    for kind, step in WIZARD_FIRST_STEPS.items():
        body = _details if step == "details" else (lambda w, p: {"name": "authz-new-config"})
        calls[f"wizard-start[{kind}]"] = Call(lambda w, p, k=kind: {"kind": k})
        calls[f"wizard-step[{kind}]"] = Call(_draft(kind, step), body)
        calls[f"wizard-step[{kind}, another user's draft]"] = Call(
            _draft(kind, step, foreign=True), body
        )
    calls["wizard-step[arbitrary, in a group outside the persona's scope]"] = Call(
        _draft("arbitrary", "details"),
        lambda w, p: {**_details(w, p), "secret_group": w.other_group.pk},
    )
    return calls


CALLS: dict[str, Call] = {
    # --- the kernel: sign-in, health, the Audit page ---------------------------------------
    "home": Call(),
    "healthz": Call(),
    "login": Call(body=lambda w, p: {"username": "authz-nobody", "password": "wrong"}),
    "admin-login": Call(body=lambda w, p: {"username": "authz-nobody", "password": "wrong"}),
    "logout": Call(),
    "reauth": Call(body=_password),
    "admin:login": Call(body=lambda w, p: {"username": "authz-nobody", "password": "wrong"}),
    "admin:logout": Call(),
    "audit:log": Call(),
    "audit:export": Call(lambda w, p: {"fmt": "csv"}),
    "iam-token": Call(body=lambda w, p: {"grant_type": "nonsense", "apikey": "nonsense"}),
    **_wizard_calls(),
    # --- secrets ----------------------------------------------------------------------------
    "secrets:list": Call(),
    "secrets:add": Call(body=lambda w, p: {"secret_type": "arbitrary"}),
    "secrets:detail": Call(_arbitrary),
    "secrets:status": Call(_arbitrary),
    "secrets:reveal": Call(_arbitrary, lambda w, p: {"version": "current"}),
    "secrets:reveal[custom_credentials]": Call(
        lambda w, p: {"secret_id": w.custom.pk}, lambda w, p: {"version": "current"}
    ),
    "secrets:reveal[iam_credentials]": Call(
        lambda w, p: {"secret_id": w.iam_secret.pk}, lambda w, p: {"version": "current"}
    ),
    "secrets:reveal[service_credentials]": Call(
        lambda w, p: {"secret_id": w.service_secret.pk}, lambda w, p: {"version": "current"}
    ),
    "secrets:rotate": Call(_arbitrary, lambda w, p: {"payload": "rotated by the matrix"}),
    "secrets:edit": Call(
        _arbitrary,
        lambda w, p: {
            "name": w.arbitrary.name,
            "description": "edited",
            "secret_group": w.group.pk,
            "labels": "",
        },
    ),
    "secrets:edit[into a group outside the persona's scope]": Call(
        _arbitrary,
        lambda w, p: {
            "name": w.arbitrary.name,
            "description": "",
            "secret_group": w.other_group.pk,
            "labels": "",
        },
    ),
    "secrets:delete": Call(_arbitrary, lambda w, p: {"confirm_name": w.arbitrary.name}),
    "secrets:version-metadata": Call(
        _current, lambda w, p: {"version_custom_metadata": '{"by": "matrix"}'}
    ),
    "secrets:versions": Call(_arbitrary),
    "secrets:versions-diff": Call(_arbitrary),
    "secrets:version-metadata-in-place": Call(
        _current, lambda w, p: {"version_custom_metadata": '{"by": "matrix"}'}
    ),
    "secrets:version-restore": Call(_previous),
    "secrets:lock-add": Call(
        lambda w, p: {"secret_id": w.arbitrary.pk, "version_id": w.current.pk},
        lambda w, p: {"name": "authz-new-lock"},
    ),
    "secrets:lock-remove": Call(
        lambda w, p: {
            "secret_id": w.locked.pk,
            "version_id": w.locked_version.pk,
            "name": LOCK_NAME,
        }
    ),
    "secrets:secret-tasks": Call(lambda w, p: {"secret_id": w.custom.pk}),
    "secrets:timeline": Call(_arbitrary),
    # --- tasks --------------------------------------------------------------------------------
    "secrets:tasks": Call(),
    "secrets:task-bulk-retry": Call(
        body=lambda w, p: {"previewed": f"{w.failed_task.pk}:{task_stamp(w.failed_task)}"}
    ),
    "secrets:task-row": Call(_task("failed_task")),
    "secrets:task-retry": Call(_task("failed_task")),
    "secrets:task-cancel": Call(_task("queued_task")),
    "secrets:task-note-action[acknowledge]": Call(
        _task("failed_task", action="acknowledge"), lambda w, p: {"note": "seen by the matrix"}
    ),
    "secrets:task-note-action[give-up]": Call(_task("failed_task", action="give-up")),
    # --- groups -------------------------------------------------------------------------------
    "secrets:groups": Call(),
    "secrets:group-create": Call(body=lambda w, p: {"name": "authz-new-group"}),
    "secrets:group-edit": Call(_group, lambda w, p: {"name": "team-a", "description": "edited"}),
    "secrets:group-delete": Call(_group),
    # --- configurations, their tests, the IAM credentials engine -----------------------------
    "engines:index": Call(),
    "engines:iam-authorize": Call(),
    "engines:iam-configure": Call(),
    "engines:iam-configure-api-key": Call(),
    "engines:iam-edit": Call(),
    "engines:iam-disable": Call(),
    "engines:iam-enable": Call(),
    "engines:config-detail": Call(_config),
    "engines:config-timeout": Call(_config, lambda w, p: {"task_timeout": "15m"}),
    "engines:config-delete": Call(_config),
    "config_test:start": Call(
        _config, lambda w, p: {"secret_group": w.group.pk, "param_user_name": "probe"}
    ),
    "config_test:start[in a group outside the persona's scope]": Call(
        _config, lambda w, p: {"secret_group": w.other_group.pk, "param_user_name": "probe"}
    ),
    "config_test:detail": Call(_config_test),
    "config_test:status": Call(_config_test),
    # --- the embedded cloud -------------------------------------------------------------------
    "resource_controller:instance-list": Call(),
    "resource_controller:instance-detail": Call(lambda w, p: {"guid": w.instance.guid}),
    "cloud:iam-service-ids": Call(body=lambda w, p: {"name": "authz-new-service-id"}),
    "cloud:iam-access-groups": Call(),
    "cloud:iam-api-keys": Call(),
    "cloud:iam-api-key-lock": Call(lambda w, p: {"key_id": w.api_key.pk}),
    "cloud:iam-authorizations": Call(),
    "cloud:iam-access": Call(),
    "cloud:iam-policy-revoke": Call(lambda w, p: {"policy_id": w.policy.pk}),
    "cloud:ce-projects": Call(),
    "cloud:ce-project-create": Call(),
    "cloud:ce-runs": Call(),
    "cloud:ce-run": Call(lambda w, p: {"run_id": w.run.pk}),
    "cloud:ce-schema-preview": Call(),
    "cloud:ce-project": Call(_project),
    "cloud:ce-project-delete": Call(_project),
    "cloud:ce-job-create": Call(_project),
    "cloud:ce-job": Call(_job),
    "cloud:ce-job-edit": Call(_job),
    "cloud:ce-job-env": Call(_job),
    "cloud:ce-job-delete": Call(_job),
    # --- the API (bearer tokens) --------------------------------------------------------------
    "api-v2:swagger-ui": Call(),
    "api-v2:openapi-json": Call(),
    "api-v2:api-root": Call(),
    "api-v2:create_secret_group": Call(body=lambda w, p: {"name": "authz-api-group"}),
    "api-v2:list_secret_groups": Call(),
    "api-v2:get_secret_group": Call(lambda w, p: {"id": w.group.pk}),
    "api-v2:update_secret_group": Call(
        lambda w, p: {"id": w.group.pk}, lambda w, p: {"description": "patched"}
    ),
    "api-v2:delete_secret_group": Call(lambda w, p: {"id": w.group.pk}),
    "api-v2:create_secret": Call(
        body=lambda w, p: {
            "secret_type": "arbitrary",
            "name": "authz-api-secret",
            "secret_group_id": w.group.pk,
            "payload": "made through the API",
        }
    ),
    "api-v2:list_secrets": Call(),
    "api-v2:get_secret": Call(_id("arbitrary")),
    "api-v2:get_secret[custom_credentials]": Call(_id("custom")),
    "api-v2:get_secret[iam_credentials]": Call(_id("iam_secret")),
    "api-v2:get_secret[service_credentials]": Call(_id("service_secret")),
    "api-v2:delete_secret": Call(_id("arbitrary")),
    "api-v2:get_secret_metadata": Call(_id("arbitrary")),
    "api-v2:update_secret_metadata": Call(
        _id("arbitrary"), lambda w, p: {"description": "patched"}
    ),
    "api-v2:get_secret_by_name_type": Call(
        lambda w, p: {
            "secret_group_name": w.group.name,
            "secret_type": "arbitrary",
            "name": w.arbitrary.name,
        }
    ),
    "api-v2:create_secret_version": Call(
        lambda w, p: {"secret_id": w.arbitrary.pk}, lambda w, p: {"payload": "third value"}
    ),
    "api-v2:list_secret_versions": Call(lambda w, p: {"secret_id": w.arbitrary.pk}),
    "api-v2:get_secret_version": Call(_version("current")),
    "api-v2:get_secret_version_metadata": Call(_version("current")),
    "api-v2:update_secret_version_metadata": Call(
        _version("current"), lambda w, p: {"version_custom_metadata": {"by": "matrix"}}
    ),
    "api-v2:delete_secret_version_data": Call(_version("previous")),
    "api-v2:list_secrets_locks": Call(),
    "api-v2:list_secret_locks": Call(_id("locked")),
    "api-v2:create_secret_locks_bulk": Call(
        _id("arbitrary"), lambda w, p: {"locks": [{"name": "authz-api-lock"}]}
    ),
    "api-v2:delete_secret_locks_bulk": Call(_id("locked"), query=f"name={LOCK_NAME}"),
    "api-v2:list_secret_version_locks": Call(_locked_version),
    "api-v2:create_secret_version_locks_bulk": Call(
        _version("current"), lambda w, p: {"locks": [{"name": "authz-api-lock"}]}
    ),
    "api-v2:delete_secret_version_locks_bulk": Call(_locked_version, query=f"name={LOCK_NAME}"),
    "api-v2:list_secret_tasks": Call(lambda w, p: {"secret_id": w.custom.pk}),
    "api-v2:get_secret_task": Call(_task_of("custom_task")),
    "api-v2:replace_secret_task": Call(
        _task_of("queued_task"),
        lambda w, p: {
            "status": "failed",
            "errors": [{"code": "ERR10001", "description": "reported by the matrix"}],
        },
    ),
    "api-v2:delete_secret_task": Call(_task_of("queued_task")),
    "api-v2:create_configuration": Call(
        body=lambda w, p: {
            "config_type": "custom_credentials_configuration",
            "name": "authz-api-config",
            "api_key_ref": str(w.configuration.api_key_ref_id),
            "code_engine": {
                "project_id": w.project.pk,
                "job_name": SPARE_JOB,
                "region": w.project.region,
            },
        }
    ),
    "api-v2:list_configurations": Call(),
    "api-v2:get_configuration": Call(_config),
    "api-v2:update_configuration": Call(_config, lambda w, p: {"task_timeout": "15m"}),
    "api-v2:delete_configuration": Call(_config),
}

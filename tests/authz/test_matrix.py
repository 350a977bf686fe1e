"""The authorization matrix: every URL pattern of the project × its methods × seven personas.

The rules it holds the project to (issue 14, DESIGN.md "Security model"):

- Roles per secret group or instance-wide, the same for console pages, partials, wizard steps,
  htmx endpoints and the API: Reader reads metadata, SecretsReader values, Writer creates,
  rotates and edits, Manager deletes and manages locks, groups, configurations, engines, IAM and
  Code Engine; SecretTaskUpdater (the job) reports task results and nothing else.
- An object outside the caller's scope (no role at all on its group) is 404, as if it did not
  exist; one in scope that the role does not cover is 403. Instance-wide areas that need a role
  somewhere (the engines, configurations, service instances) or the Manager role (IAM, Code
  Engine, groups) answer 403 to who lacks it, for every name alike, so the 403 tells nothing.
- The console signs in with a session, the API with bearer tokens only: anonymous console
  requests go to the login page, anonymous API requests get 401, and the job's token opens no
  console page. Wrong methods are 405 once signed in.

Each row of MATRIX is a URL name (`namespace:name`, see tests/authz/routes.py for variants and
the admin's shared row), each method a tuple in the PERSONAS order:

    anonymous, Reader on A, SecretsReader on A, Writer on A, Manager, stranger, the job

An entry is a status, LOGIN (302 to the sign-in page), R (302 anywhere else: a POST that
worked, or a signed-in user sent on) or, in one place, a set of statuses (HEALTH: /healthz
reports the worker's health, which no persona changes; nothing else varies). After the
permission check a form's 422 or the API's 400/409 counts as "through": the point is who gets
past the check. How each row is called is in tests/authz/calls.py. XFAIL lists the pairs whose
outcome breaks the rules today (strict: fixing one fails the test until it leaves the list).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import resolve

from tests.authz.calls import CALLS
from tests.authz.routes import (
    ADMIN,
    LOGIN,
    REDIRECT,
    WIZARD_NAMES,
    admin_urls,
    api_operation_methods,
    base_name,
    outcome,
    perform,
    project_routes,
    required_key_of,
    required_keys,
    url_for,
)
from tests.authz.world import ANON, MANAGER, PERSONAS, World

L, R = LOGIN, REDIRECT
Expect = int | str | frozenset[int]
Row = tuple[Expect, ...]  # one per persona (test_every_row_tries_the_methods_of_its_pattern)
HEALTH = frozenset({200, 503})

# Rows that recur. Columns: anonymous, Reader, SecretsReader, Writer, Manager, stranger, job.
NOT_ALLOWED: Row = (L, 405, 405, 405, 405, 405, L)  # a wrong method, once signed in
READ_A: Row = (L, 200, 200, 200, 200, 404, L)  # metadata of group A's objects
ANY_USER: Row = (L, 200, 200, 200, 200, 200, L)  # a page of one's own (lists filter by scope)
ROLE_SOMEWHERE: Row = (L, 200, 200, 200, 200, 403, L)  # engines, configurations, instances
MANAGER_PAGE: Row = (L, 403, 403, 403, 200, 403, L)  # IAM, Code Engine, group creation
WRITE_A: Row = (L, 403, 403, 200, 200, 404, L)  # a Writer's form on group A's object
WRITE_A_POST: Row = (L, 403, 403, R, R, 404, L)
MANAGE_A: Row = (L, 403, 403, 403, 200, 404, L)  # a Manager's form on group A's object
MANAGE_A_POST: Row = (L, 403, 403, 403, R, 404, L)
SIGN_IN: Row = (200, R, R, R, R, R, 200)  # signed-in users are sent on
SIGN_IN_POST: Row = (422, R, R, R, R, R, 422)  # a wrong password; the signed-in sent on
ADD_SECRET: Row = (L, 403, 403, 200, 200, 403, L)  # the add-secret wizards: Writer somewhere
ADD_SECRET_POST: Row = (L, 403, 403, R, R, 403, L)
ADD_CONFIG: Row = (L, 403, 403, 403, 200, 403, L)  # the Add configuration wizard: Manager
ADD_CONFIG_POST: Row = (L, 403, 403, 403, R, 403, L)
FOREIGN: Row = (L, 404, 404, 404, 404, 404, L)  # another user's wizard draft does not exist
# The API (bearer tokens; the first column is a request without one).
API_READ_A: Row = (401, 200, 200, 200, 200, 404, 403)  # the job sees A (its role) but not this
API_VALUE_A: Row = (401, 403, 200, 200, 200, 404, 403)
API_LIST: Row = (401, 200, 200, 200, 200, 200, 200)  # filtered to the caller's scope
API_WRITE_A: Row = (401, 403, 403, 200, 200, 404, 403)
API_CREATE_A: Row = (401, 403, 403, 201, 201, 404, 403)
API_LOCK_A: Row = (401, 403, 403, 403, 201, 404, 403)
API_UNLOCK_A: Row = (401, 403, 403, 403, 200, 404, 403)
API_CONFIG_READ: Row = (401, 200, 200, 200, 200, 403, 403)
API_CONFIG_MANAGE: Row = (401, 403, 403, 403, 200, 403, 403)
PUBLIC: Row = (200, 200, 200, 200, 200, 200, 200)
PUBLIC_NOT_ALLOWED: Row = (405, 405, 405, 405, 405, 405, 405)


def _wizard_rows() -> dict[str, dict[str, Row]]:
    rows: dict[str, dict[str, Row]] = {}
    for kind in ("arbitrary", "custom_credentials", "iam_credentials", "service_credentials"):
        rows[f"wizard-start[{kind}]"] = {"GET": NOT_ALLOWED, "POST": ADD_SECRET_POST}
        rows[f"wizard-step[{kind}]"] = {"GET": ADD_SECRET, "POST": ADD_SECRET_POST}
        rows[f"wizard-step[{kind}, another user's draft]"] = {"GET": FOREIGN, "POST": FOREIGN}
    rows["wizard-start[custom_configuration]"] = {"GET": NOT_ALLOWED, "POST": ADD_CONFIG_POST}
    rows["wizard-step[custom_configuration]"] = {"GET": ADD_CONFIG, "POST": ADD_CONFIG_POST}
    rows["wizard-step[custom_configuration, another user's draft]"] = {
        "GET": FOREIGN,
        "POST": FOREIGN,
    }
    # Group B does not exist for the Writer: a field error, as for a group deleted meanwhile.
    rows["wizard-step[arbitrary, in a group outside the persona's scope]"] = {
        "POST": (L, 403, 403, 422, R, 403, L)
    }
    return rows


MATRIX: dict[str, dict[str, Row]] = {
    # --- the kernel -------------------------------------------------------------------------
    "home": {"GET": (L, R, R, R, R, R, L), "POST": NOT_ALLOWED},
    "healthz": {"GET": (HEALTH,) * 7, "POST": PUBLIC_NOT_ALLOWED},
    "login": {"GET": SIGN_IN, "POST": SIGN_IN_POST},
    "admin-login": {"GET": SIGN_IN, "POST": SIGN_IN_POST},
    "admin:login": {"GET": SIGN_IN, "POST": SIGN_IN_POST},  # the same view (see routes.py)
    # Django's own: a signed-in non-staff user is sent to the admin's index, not signed out.
    "admin:logout": {"GET": (L, R, R, R, R, R, L), "POST": (L, R, R, R, R, R, L)},
    # Every other admin view: the admin's sign-in for all (none of the personas is staff).
    ADMIN: {"GET": (L,) * 7, "POST": (L,) * 7},
    "logout": {"GET": NOT_ALLOWED, "POST": (L,) * 7},  # signed out, to the sign-in page
    "reauth": {"GET": ANY_USER, "POST": (L, R, R, R, R, R, L)},  # the user's own password
    # The Audit page answers 404 to who may not read it (console.audit.require_audit_reader).
    "audit:log": {"GET": (L, 404, 404, 404, 200, 404, L), "POST": NOT_ALLOWED},
    "audit:export": {"GET": (L, 404, 404, 404, 200, 404, L), "POST": NOT_ALLOWED},
    "iam-token": {"GET": PUBLIC_NOT_ALLOWED, "POST": (400,) * 7},  # an API key, not a session
    **_wizard_rows(),
    # --- secrets ----------------------------------------------------------------------------
    "secrets:list": {"GET": ANY_USER, "POST": NOT_ALLOWED},
    "secrets:add": {"GET": ANY_USER, "POST": ADD_SECRET_POST},  # the tiles say who may add
    "secrets:detail": {"GET": READ_A, "POST": NOT_ALLOWED},
    "secrets:status": {"GET": (L, 286, 286, 286, 286, 404, L), "POST": NOT_ALLOWED},
    "secrets:reveal": {"GET": NOT_ALLOWED, "POST": (L, 403, 200, 200, 200, 404, L)},
    "secrets:reveal[custom_credentials]": {"POST": (L, 403, 200, 200, 200, 404, L)},
    "secrets:reveal[iam_credentials]": {"POST": (L, 403, 200, 200, 200, 404, L)},
    "secrets:reveal[service_credentials]": {"POST": (L, 403, 200, 200, 200, 404, L)},
    "secrets:rotate": {"GET": WRITE_A, "POST": WRITE_A_POST},
    "secrets:edit": {"GET": WRITE_A, "POST": WRITE_A_POST},
    "secrets:edit[into a group outside the persona's scope]": {
        "POST": (L, 403, 403, 422, R, 404, L)
    },
    "secrets:delete": {"GET": MANAGE_A, "POST": MANAGE_A_POST},
    "secrets:version-metadata": {"GET": NOT_ALLOWED, "POST": WRITE_A_POST},
    "secrets:versions": {"GET": READ_A, "POST": NOT_ALLOWED},
    "secrets:versions-diff": {"GET": READ_A, "POST": NOT_ALLOWED},
    "secrets:version-metadata-in-place": {"GET": NOT_ALLOWED, "POST": WRITE_A_POST},
    # Restoring is for IAM credentials: an arbitrary secret's Writer gets the page's refusal.
    "secrets:version-restore": {"GET": WRITE_A, "POST": (L, 403, 403, 422, 422, 404, L)},
    "secrets:lock-add": {"GET": MANAGE_A, "POST": MANAGE_A_POST},
    "secrets:lock-remove": {"GET": MANAGE_A, "POST": MANAGE_A_POST},
    "secrets:secret-tasks": {"GET": READ_A, "POST": NOT_ALLOWED},
    "secrets:timeline": {"GET": READ_A, "POST": NOT_ALLOWED},
    # --- tasks ------------------------------------------------------------------------------
    "secrets:tasks": {"GET": ANY_USER, "POST": NOT_ALLOWED},
    # The preview says per task why it will not run; the POST retries only what the caller may
    # (a stranger's previewed task is as good as gone: "the preview changed", 422).
    "secrets:task-bulk-retry": {"GET": ANY_USER, "POST": (L, 403, 403, R, R, 422, L)},
    "secrets:task-row": {"GET": (L, 286, 286, 286, 286, 404, L), "POST": NOT_ALLOWED},
    "secrets:task-retry": {"GET": NOT_ALLOWED, "POST": WRITE_A_POST},
    "secrets:task-cancel": {"GET": NOT_ALLOWED, "POST": WRITE_A_POST},
    "secrets:task-note-action[acknowledge]": {"GET": WRITE_A, "POST": WRITE_A_POST},
    # Giving up is for delete tasks: a create task's Writer gets the form's refusal.
    "secrets:task-note-action[give-up]": {
        "GET": WRITE_A,
        "POST": (L, 403, 403, 422, 422, 404, L),
    },
    # --- groups -----------------------------------------------------------------------------
    "secrets:groups": {"GET": ANY_USER, "POST": NOT_ALLOWED},
    "secrets:group-create": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, R, 403, L)},
    "secrets:group-edit": {"GET": MANAGE_A, "POST": MANAGE_A_POST},
    # Group A holds secrets: the Manager gets the page's refusal.
    "secrets:group-delete": {"GET": MANAGE_A, "POST": (L, 403, 403, 403, 422, 404, L)},
    # --- secrets engines, configurations and their tests ------------------------------------
    "engines:index": {"GET": ROLE_SOMEWHERE, "POST": NOT_ALLOWED},
    "engines:iam-authorize": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, R, 403, L)},
    "engines:iam-configure": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, 422, 403, L)},
    "engines:iam-configure-api-key": {
        "GET": NOT_ALLOWED,
        "POST": (L, 403, 403, 403, 422, 403, L),
    },
    "engines:iam-edit": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, 422, 403, L)},
    "engines:iam-disable": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, R, 403, L)},
    "engines:iam-enable": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, R, 403, L)},
    "engines:config-detail": {"GET": ROLE_SOMEWHERE, "POST": NOT_ALLOWED},
    "engines:config-timeout": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, R, 403, L)},
    # The configuration is in use: the Manager gets the page's refusal.
    "engines:config-delete": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, 422, 403, L)},
    "config_test:start": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, R, R, 403, L)},
    # Group B does not exist for those who hold no role there: the form's field error.
    "config_test:start[in a group outside the persona's scope]": {
        "POST": (L, 422, 422, 422, R, 403, L)
    },
    "config_test:detail": {"GET": READ_A, "POST": NOT_ALLOWED},  # a test run in group A
    "config_test:status": {"GET": READ_A, "POST": NOT_ALLOWED},
    # --- the embedded cloud ---------------------------------------------------------------------
    "resource_controller:instance-list": {"GET": ROLE_SOMEWHERE, "POST": NOT_ALLOWED},
    "resource_controller:instance-detail": {"GET": ROLE_SOMEWHERE, "POST": NOT_ALLOWED},
    "cloud:iam-service-ids": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, R, 403, L)},
    "cloud:iam-access-groups": {"GET": MANAGER_PAGE, "POST": NOT_ALLOWED},
    "cloud:iam-api-keys": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    "cloud:iam-api-key-lock": {"GET": NOT_ALLOWED, "POST": (L, 403, 403, 403, R, 403, L)},
    "cloud:iam-authorizations": {"GET": MANAGER_PAGE, "POST": NOT_ALLOWED},
    "cloud:iam-access": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    "cloud:iam-policy-revoke": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, R, 403, L)},
    "cloud:ce-projects": {"GET": MANAGER_PAGE, "POST": NOT_ALLOWED},
    "cloud:ce-project-create": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    "cloud:ce-runs": {"GET": MANAGER_PAGE, "POST": NOT_ALLOWED},
    "cloud:ce-run": {"GET": MANAGER_PAGE, "POST": NOT_ALLOWED},
    "cloud:ce-schema-preview": {"GET": NOT_ALLOWED, "POST": MANAGER_PAGE},
    "cloud:ce-project": {"GET": MANAGER_PAGE, "POST": NOT_ALLOWED},
    "cloud:ce-project-delete": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    "cloud:ce-job-create": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    "cloud:ce-job": {"GET": MANAGER_PAGE, "POST": NOT_ALLOWED},
    "cloud:ce-job-edit": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    "cloud:ce-job-env": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    "cloud:ce-job-delete": {"GET": MANAGER_PAGE, "POST": (L, 403, 403, 403, 422, 403, L)},
    # --- the API ------------------------------------------------------------------------------
    "api-v2:swagger-ui": {"GET": PUBLIC, "POST": PUBLIC_NOT_ALLOWED},
    "api-v2:openapi-json": {"GET": PUBLIC, "POST": PUBLIC_NOT_ALLOWED},
    # ninja's root answers 404 (it is only reversed for the API's prefix), once authenticated.
    "api-v2:api-root": {"GET": (401, 404, 404, 404, 404, 404, 404), "POST": (401,) + (404,) * 6},
    "api-v2:create_secret_group": {"POST": (401, 403, 403, 403, 201, 403, 403)},
    "api-v2:list_secret_groups": {"GET": API_LIST},
    "api-v2:get_secret_group": {"GET": API_READ_A},
    "api-v2:update_secret_group": {"PATCH": API_UNLOCK_A},
    # Group A holds secrets: the Manager gets the refusal (409).
    "api-v2:delete_secret_group": {"DELETE": (401, 403, 403, 403, 409, 404, 403)},
    "api-v2:create_secret": {"POST": API_CREATE_A},
    "api-v2:list_secrets": {"GET": API_LIST},
    "api-v2:get_secret": {"GET": API_VALUE_A},
    "api-v2:get_secret[custom_credentials]": {"GET": API_VALUE_A},
    "api-v2:get_secret[iam_credentials]": {"GET": API_VALUE_A},
    "api-v2:get_secret[service_credentials]": {"GET": API_VALUE_A},
    "api-v2:delete_secret": {"DELETE": (401, 403, 403, 403, 204, 404, 403)},
    "api-v2:get_secret_metadata": {"GET": API_READ_A},
    "api-v2:update_secret_metadata": {"PATCH": API_WRITE_A},
    "api-v2:get_secret_by_name_type": {"GET": API_VALUE_A},
    "api-v2:create_secret_version": {"POST": API_CREATE_A},
    "api-v2:list_secret_versions": {"GET": API_READ_A},
    "api-v2:get_secret_version": {"GET": API_VALUE_A},
    "api-v2:get_secret_version_metadata": {"GET": API_READ_A},
    "api-v2:update_secret_version_metadata": {"PATCH": API_WRITE_A},
    # Only custom credentials versions' data can be deleted: the Manager gets the refusal (400).
    "api-v2:delete_secret_version_data": {"DELETE": (401, 403, 403, 403, 400, 404, 403)},
    "api-v2:list_secrets_locks": {"GET": API_LIST},
    "api-v2:list_secret_locks": {"GET": API_READ_A},
    "api-v2:create_secret_locks_bulk": {"POST": API_LOCK_A},
    "api-v2:delete_secret_locks_bulk": {"DELETE": API_UNLOCK_A},
    "api-v2:list_secret_version_locks": {"GET": API_READ_A},
    "api-v2:create_secret_version_locks_bulk": {"POST": API_LOCK_A},
    "api-v2:delete_secret_version_locks_bulk": {"DELETE": API_UNLOCK_A},
    "api-v2:list_secret_tasks": {"GET": API_READ_A},
    "api-v2:get_secret_task": {"GET": API_READ_A},
    # The job's own call (SecretTaskUpdater); Managers hold that action too.
    "api-v2:replace_secret_task": {"PUT": (401, 403, 403, 403, 200, 404, 200)},
    "api-v2:delete_secret_task": {"DELETE": (401, 403, 403, 204, 204, 404, 403)},  # cancel
    "api-v2:create_configuration": {"POST": (401, 403, 403, 403, 201, 403, 403)},
    "api-v2:list_configurations": {"GET": API_CONFIG_READ},
    "api-v2:get_configuration": {"GET": API_CONFIG_READ},
    "api-v2:update_configuration": {"PATCH": API_CONFIG_MANAGE},
    # The configuration is in use: the Manager gets the refusal (409).
    "api-v2:delete_configuration": {"DELETE": (401, 403, 403, 403, 409, 403, 403)},
}

# Pairs whose outcome breaks the rules today, each with what it gets instead (none now).
XFAIL: dict[tuple[str, str, str], str] = {}


def _pairs() -> Iterator[object]:
    for key, methods in MATRIX.items():
        if key == ADMIN:
            continue  # test_the_admin_row
        for method in methods:
            for persona in PERSONAS:
                reason = XFAIL.get((key, method, persona))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                pair_id = f"{key} {method} {persona}"
                yield pytest.param(key, method, persona, id=pair_id, marks=marks)


def _allowed(expected: Expect) -> frozenset[int | str]:
    return expected if isinstance(expected, frozenset) else frozenset({expected})


def _check(world: World, key: str, method: str, persona: str, url: str | None = None) -> None:
    expected = MATRIX[key][method][PERSONAS.index(persona)]
    url = url or url_for(world, key, persona)
    response = perform(world, key, method, persona, url=url)
    got = outcome(response)
    where = f" -> {response['Location']}" if response.has_header("Location") else ""
    assert got in _allowed(expected), (
        f"{method} {url} as {persona}: {got}{where}, the table says {expected}"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "method", "persona"), list(_pairs()))
def test_pair(world: World, key: str, method: str, persona: str) -> None:
    _check(world, key, method, persona)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_admin_row(world: World, method: str, persona: str) -> None:
    """The admin's shared row, for every one of its patterns (routes.py says why it is one)."""
    for url in admin_urls():
        _check(world, ADMIN, method, persona, url=url)


def test_every_url_pattern_has_a_row_and_every_row_a_pattern() -> None:
    required = required_keys()
    missing = sorted(required - {required_key_of(k, required) for k in MATRIX})
    extra = sorted(k for k in MATRIX if required_key_of(k, required) is None)
    assert not missing, f"URL patterns without a row in MATRIX: {missing}"
    assert not extra, f"MATRIX rows without a URL pattern: {extra}"
    assert set(CALLS) == set(MATRIX) - {ADMIN}, (
        f"rows without a call: {sorted(set(MATRIX) - {ADMIN} - set(CALLS))}; "
        f"calls without a row: {sorted(set(CALLS) - set(MATRIX))}"
    )


def test_every_row_tries_the_methods_of_its_pattern() -> None:
    """API operations: their own method (django-ninja's registry). Everything else: GET and POST
    on its plain row (variants try what they change)."""
    operations = api_operation_methods()
    for key, methods in MATRIX.items():
        name = base_name(key)
        if name in operations:
            assert set(methods) == {operations[name]}, (key, set(methods), operations[name])
        elif key == name or name in WIZARD_NAMES and "," not in key:
            assert set(methods) == {"GET", "POST"}, (key, set(methods))
        assert all(len(row) == len(PERSONAS) for row in methods.values()), key


def test_every_operation_of_the_api_is_in_the_table() -> None:
    assert set(api_operation_methods()) <= set(MATRIX)


def test_admin_login_is_served_by_the_consoles_throttled_view() -> None:
    """Why admin:login shares the console's sign-in row: its URL reaches the console's view."""
    assert resolve("/admin/login/").url_name == "admin-login"
    assert [r.key for r in project_routes() if r.route == "admin/login/"][0] == "admin-login"


@pytest.mark.django_db
def test_a_console_session_does_not_open_the_api(world: World) -> None:
    """The API takes bearer tokens only: a Manager's session cookie gets 401 everywhere."""
    client = Client()
    client.force_login(world.users[MANAGER])
    for key, method in api_operation_methods().items():
        response = client.generic(method, url_for(world, key, MANAGER))
        assert response.status_code == 401, (key, method, response.status_code)


@pytest.mark.django_db
def test_anonymous_htmx_requests_are_sent_to_the_sign_in_page(world: World) -> None:
    """Where the table sends anonymous callers to the login page, an htmx request is told to go
    there as a whole page (HX-Redirect) rather than swapping the form into a fragment."""
    for key, methods in MATRIX.items():
        for method, row in methods.items():
            if key.startswith("admin:") or row[0] != LOGIN:
                continue  # the admin's own views are not htmx-aware
            url = url_for(world, key, ANON)
            response = Client().generic(method, url, HTTP_HX_REQUEST="true")
            assert response.status_code == 200, (method, url, response.status_code)
            assert response["HX-Redirect"].startswith("/login/?next="), (method, url)

"""schemathesis against the live console: cases generated from /api/v2/openapi.json, sent over
loopback with a Manager's bearer token, each response checked for server errors, for conformance
to the documented response schema and for an undocumented status code.

Bounded and repeatable: a fixed number of examples per operation (derandomised, so the same cases
every run), no example database, and a time limit checked at the end, together with the total
number of cases. Seeded data (a group, an arbitrary secret with two versions and locks, an
active custom credentials secret with its task, the seeded configurations) is put into half of
each operation's path parameters, so the cases reach real objects and not only 404s; DELETE
cases get objects of their own, so that the others still find theirs.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import Case, GenerationMode

from tests.api.conftest import SdkFactory
from tests.cloud_fixtures import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)

# The budget. `make test` keeps these defaults; scripts/schemathesis.sh raises them (its own,
# bounded CI step) through the environment: examples per case source, the least number of cases
# the run must reach, and its time limit in seconds.
EXAMPLES_PER_SOURCE = int(os.environ.get("SM_SCHEMATHESIS_EXAMPLES", "10"))
MIN_CASES = int(os.environ.get("SM_SCHEMATHESIS_MIN_CASES", "500"))
TIME_LIMIT = float(os.environ.get("SM_SCHEMATHESIS_TIME_LIMIT", "150"))
CANARY = "fuzz-canary-payload-4b1d"  # the arbitrary secret's value: only value reads show it
VALUE_OPERATIONS = {"get_secret", "get_secret_version", "get_secret_by_name_type"}


@dataclass
class Run:
    """What the cases share: the token, and counts for the checks at the end."""

    headers: dict[str, str]
    cases: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    reached: set[str] = field(default_factory=set)  # operations that answered 2xx at least once

    def call(self, case: Case) -> None:
        # A request line beyond what HTTP servers take is answered by the server in front of
        # Django (the test server's 414), not by the console: such cases are not generated.
        assume(len(case.formatted_path) + len(json.dumps(case.query, default=str)) < 4000)
        operation = case.operation
        label = f"{operation.method.upper()} {operation.path}"
        self.per_operation[label] = self.per_operation.get(label, 0) + 1
        self.cases += 1
        response = case.call_and_validate(headers=self.headers)
        if 200 <= response.status_code < 300:
            self.reached.add(label)
        if operation.definition.raw.get("operationId") not in VALUE_OPERATIONS:
            assert CANARY not in response.text, f"{label} answered with the secret's value"


def _seed(cloud: dict[str, Any], sdk_as: SdkFactory, monkeypatch) -> dict[str, Any]:
    from django_q.conf import Conf

    manager = sdk_as("Manager")
    group = manager.create_secret_group(name="fuzz-group").get_result()["id"]
    empty_group = manager.create_secret_group(name="fuzz-empty").get_result()["id"]

    def arbitrary(name: str) -> str:
        body = {
            "secret_type": "arbitrary",
            "name": name,
            "payload": CANARY,
            "secret_group_id": group,
            "labels": ["fuzz"],
            "custom_metadata": {"team": "fuzz"},
        }
        return manager.create_secret(secret_prototype=body).get_result()["id"]

    secret = arbitrary("fuzz-arbitrary")
    disposable = arbitrary("fuzz-disposable")
    manager.create_secret_version(
        secret_id=secret, secret_version_prototype={"payload": CANARY + "-2"}
    )
    versions = [
        v["id"] for v in manager.list_secret_versions(secret_id=secret).get_result()["versions"]
    ]
    lock = {"name": "fuzz-lock", "description": "held by the fuzz run", "attributes": {"k": "v"}}
    manager.create_secret_locks_bulk(id=secret, locks=[lock])
    manager.create_secret_version_locks_bulk(secret_id=secret, id="previous", locks=[lock])

    # An active custom credentials secret: its job runs once, now; afterwards tasks stay queued
    # (no worker runs), so the generated cases start no job.
    with monkeypatch.context() as patch:
        patch.setattr(Conf, "SYNC", True)
        custom = manager.create_secret(
            secret_prototype={
                "secret_type": "custom_credentials",
                "name": "fuzz-custom",
                "configuration": "token-provider",
                "parameters": {"user_name": "alice", "scope": "user"},
                "secret_group_id": str(cloud["group"].pk),
            }
        ).get_result()["id"]
        task = wait_for_task(custom)
    assert task.status == "credentials_created", task.errors
    manager.get_http_client().close()
    return {
        "group": group,
        "empty_group": empty_group,
        "secret": secret,
        "disposable": disposable,
        "versions": versions,
        "custom": custom,
        "task": task.pk,
    }


def _real_values(
    seeded: dict[str, Any], document: dict[str, Any]
) -> dict[tuple[str, str, str], list[str]]:
    """(method, path, parameter) -> the seeded values to put there."""
    secrets = [seeded["secret"], seeded["custom"]]
    versions = ["current", "previous", *seeded["versions"]]
    by_parameter: dict[tuple[str, str], list[str]] = {
        ("/api/v2/secret_groups/{id}", "id"): [seeded["group"], "default"],
        ("/api/v2/secrets/{id}", "id"): secrets,
        ("/api/v2/secrets/{id}/metadata", "id"): secrets,
        ("/api/v2/secrets/{id}/locks", "id"): secrets,
        ("/api/v2/secrets/{id}/locks_bulk", "id"): secrets,
        ("/api/v2/secrets/{secret_id}/tasks", "secret_id"): [seeded["custom"]],
        ("/api/v2/secrets/{secret_id}/tasks/{id}", "secret_id"): [seeded["custom"]],
        ("/api/v2/secrets/{secret_id}/tasks/{id}", "id"): [seeded["task"]],
        ("/api/v2/configurations/{name}", "name"): ["token-provider", "certificate-provider"],
        (
            "/api/v2/secret_groups/{secret_group_name}/secret_types/{secret_type}/secrets/{name}",
            "secret_group_name",
        ): ["fuzz-group"],
        (
            "/api/v2/secret_groups/{secret_group_name}/secret_types/{secret_type}/secrets/{name}",
            "secret_type",
        ): ["arbitrary"],
        (
            "/api/v2/secret_groups/{secret_group_name}/secret_types/{secret_type}/secrets/{name}",
            "name",
        ): ["fuzz-arbitrary"],
    }
    for path in document["paths"]:
        if path.startswith("/api/v2/secrets/{secret_id}/versions"):
            by_parameter[(path, "secret_id")] = secrets
            if "{id}" in path:
                by_parameter[(path, "id")] = versions
    # DELETE cases get objects of their own (the custom secret's data may go: it is checked).
    deletes = {
        ("/api/v2/secret_groups/{id}", "id"): [seeded["empty_group"], seeded["group"]],
        ("/api/v2/secrets/{id}", "id"): [seeded["disposable"], seeded["custom"]],
        ("/api/v2/configurations/{name}", "name"): ["token-provider"],  # in use: 409
    }
    real: dict[tuple[str, str, str], list[str]] = {}
    for path, ops in document["paths"].items():
        for method in ops:
            for (p, name), values in by_parameter.items():
                if p == path:
                    chosen = deletes.get((p, name), values) if method == "delete" else values
                    real[(method.upper(), path, name)] = chosen
    return real


def _strategies(
    operation: Any, real: dict[tuple[str, str, str], list[str]]
) -> list[tuple[str, Any]]:
    """The case sources for an operation: generated data (valid and invalid), then valid data
    aimed at each seeded object."""
    sources = [
        ("positive", operation.as_strategy(GenerationMode.POSITIVE)),
        ("negative", operation.as_strategy(GenerationMode.NEGATIVE)),
    ]
    method, path = operation.method.upper(), operation.path
    names = [p.name for p in operation.path_parameters]
    choices = [real.get((method, path, name), []) for name in names]
    if names and all(choices):
        for values in itertools.islice(itertools.product(*choices), 4):
            fixed = dict(zip(names, values, strict=True))
            sources.append((f"seeded {fixed}", operation.as_strategy(path_parameters=fixed)))
    return sources


@pytest.fixture
def api_schema(api_url):
    config = schemathesis.Config.from_dict(
        {
            "base-url": api_url,
            "checks": {
                "enabled": False,
                "not_a_server_error": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "status_code_conformance": {"enabled": True},
            },
        }
    )
    return schemathesis.openapi.from_url(f"{api_url}/api/v2/openapi.json", config=config)


def test_the_api_answers_as_its_document_says(api_schema, cloud, sdk_as, monkeypatch, api_url):
    seeded = _seed(cloud, sdk_as, monkeypatch)
    document = api_schema.raw_schema
    real = _real_values(seeded, document)
    token = sdk_as("Manager").authenticator.token_manager.get_token()
    run = Run(headers={"Authorization": f"Bearer {token}"})
    started = time.monotonic()
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for source, strategy in _strategies(operation, real):

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES_PER_SOURCE,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            def send(case: Case) -> None:
                run.call(case)

            try:
                send()
            except (Exception, BaseExceptionGroup) as exc:  # each is reported below
                report = str(exc)
                if len(report) > 2000:  # a generated value can be huge; the head says enough
                    report = report[:2000] + " [...]"
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({source}):\n{report}"
                )
    elapsed = time.monotonic() - started

    summary = f"{run.cases} cases in {elapsed:.0f}s, {len(failures)} failing sources"
    print(f"schemathesis: {summary}")  # shown with -s (the closing note's figure)
    assert not failures, summary + ":\n\n" + "\n\n".join(failures)
    labels = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert set(run.per_operation) == labels, "every operation was exercised"
    assert run.cases >= MIN_CASES, f"only {run.cases} cases for {len(labels)} operations"
    assert elapsed < TIME_LIMIT, f"{run.cases} cases took {elapsed:.0f}s"
    # The seeded objects were reached: most operations answered 2xx at least once.
    missed = sorted(labels - run.reached)
    assert len(missed) <= len(labels) // 3, missed


def test_the_seeded_values_cover_every_path_parameter(cloud, api_url):
    """Every path parameter in the document has seeded values (a new endpoint needs some)."""
    import requests

    document = requests.get(f"{api_url}/api/v2/openapi.json", timeout=10).json()
    fake = dict.fromkeys(["group", "empty_group", "secret", "disposable", "custom", "task"], "x")
    real = _real_values({**fake, "versions": ["v"]}, document)
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    key = (method.upper(), path, parameter["name"])
                    assert real.get(key), key

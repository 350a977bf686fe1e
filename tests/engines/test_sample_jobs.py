"""The sample credentials provider jobs, run as real subprocesses against a fake SM + IAM server.

The fake implements ``POST /identity/token`` (checking the form body) and records every
``PUT /api/v2/secrets/{id}/tasks/{task}``; each test chooses the PUT status codes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

JOBS = Path(__file__).resolve().parents[2] / "engines_app" / "sample_jobs"
CERTIFICATE_JOB = JOBS / "certificate_provider.py"
TOKEN_JOB = JOBS / "token_provider.py"
TOKEN_SERVICE = JOBS / "token_service.py"

API_KEY = "test-apikey-Zq9v7XwB3nR1sT5uY8kP0oLm"
ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiJ9.fake-access-token-8c1d3e5f.signature"
SECRET_ID = "4f2b6c1e-9a7d-4e3b-8c5f-0d1a2b3c4d5e"
TASK_ID = "sm-task-7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
VERSION_ID = "b49ad24d-81d4-5ebc-b9b9-b0937d1c84d5"
TASK_PATH = f"/api/v2/secrets/{SECRET_ID}/tasks/{TASK_ID}"
JOB_TIMEOUT = 60


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeSM:
    """What the fake server answers and what it has seen."""

    url: str = ""
    token_statuses: list[int] = field(default_factory=list)
    put_statuses: list[int] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, entry: Recorded) -> None:
        with self.lock:
            self.requests.append(entry)

    def next_status(self, queue: list[int]) -> int:
        with self.lock:
            return queue.pop(0) if queue else 200

    @property
    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/identity/token")]

    @property
    def puts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PUT"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSM


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep the test output quiet."""

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self._body()
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        fake.record(Recorded("POST", self.path, dict(self.headers), form))
        if not self.path.endswith("/identity/token"):
            self._answer(404, {"error": "not found"})
            return
        well_formed = (
            self.headers.get("Content-Type") == "application/x-www-form-urlencoded"
            and self.headers.get("Accept") == "application/json"
            and form
            == {
                "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
                "apikey": API_KEY,
                "response_type": "cloud_iam",
            }
        )
        status = fake.next_status(fake.token_statuses)
        if 300 <= status < 400:  # to this server, where a job that followed it would be seen
            self.send_response(status)
            self.send_header("Location", f"{fake.url}/elsewhere/identity/token")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif not well_formed:
            self._answer(400, {"errorCode": "BXNIM0109E"})
        elif status != 200:
            self._answer(status, {"errorCode": "BXNIM0415E"})
        else:
            self._answer(
                200,
                {
                    "access_token": ACCESS_TOKEN,
                    "refresh_token": "not-used",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "expiration": 4102444800,
                },
            )

    def do_PUT(self) -> None:
        fake = self.server.fake
        body = json.loads(self._body() or b"null")
        fake.record(Recorded("PUT", self.path, dict(self.headers), body))
        status = fake.next_status(fake.put_statuses)
        status_field = body.get("status") if isinstance(body, dict) else None
        self._answer(
            status,
            {
                "id": TASK_ID,
                "secret_id": SECRET_ID,
                "status": status_field,
                "updated_by": "iam-ServiceId-test",
            },
        )


@pytest.fixture
def fake_sm() -> Iterator[FakeSM]:
    fake = FakeSM()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    host, port = server.server_address[:2]
    fake.url = f"http://{host}:{port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-sm", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def job_env(fake: FakeSM, action: str = "create_credentials", **params: str) -> dict[str, str]:
    """A complete job environment; ``params`` become ``SM_<NAME>_VALUE``."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "SM_ACTION": action,
        "SM_TRIGGER": "secret_creation"
        if action == "create_credentials"
        else "secret_version_data_deletion",
        "SM_INSTANCE_URL": fake.url,
        "SM_SECRET_TASK_ID": TASK_ID,
        "SM_SECRET_ID": SECRET_ID,
        "SM_SECRET_NAME": "my-credentials",
        "SM_SECRET_GROUP_ID": "default",
        "SM_ACCESS_APIKEY": API_KEY,
    }
    env.update({f"SM_{name.upper()}_VALUE": value for name, value in params.items()})
    return env


def _secrets_seen(fake: FakeSM) -> list[str]:
    """Every secret the run handled: the API key, the access token and each reported value."""
    found = [API_KEY, ACCESS_TOKEN]
    for put in fake.puts:
        payload = (put.body.get("credentials") or {}).get("payload") or {}
        for name, value in payload.items():
            found.append(str(value))
            if name.endswith("_base64"):
                pem = base64.b64decode(value).decode()
                found.append(pem)
                if "PRIVATE KEY" in pem:
                    found.append(pem.splitlines()[1])  # any fragment of the key body
    return found


def run_job(script: Path, env: dict[str, str], fake: FakeSM) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    for secret in _secrets_seen(fake):
        assert secret not in output, "a secret value was written to the job's output"
    return result


def only_put(fake: FakeSM) -> dict[str, Any]:
    assert len(fake.puts) == 1, fake.puts
    put = fake.puts[0]
    assert put.path == TASK_PATH
    assert put.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert put.headers["Content-Type"] == "application/json"
    assert put.headers["Accept"] == "application/json"
    return put.body


def assert_failed(body: dict[str, Any], code: str) -> str:
    assert body["status"] == "failed"
    assert len(body["errors"]) == 1
    assert body["errors"][0]["code"] == code
    return body["errors"][0]["description"]


# --- certificate_provider.py ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "key_type", "days"),
    [
        ({"common_name": "api.example.com", "expiration_days": "30"}, rsa.RSAPublicKey, 30),
        ({"common_name": "api.example.com", "key_algo": "ECDSA"}, ec.EllipticCurvePublicKey, 90),
        (
            {"common_name": "api.example.com", "key_algo": "RSA", "expiration_days": "825"},
            rsa.RSAPublicKey,
            825,
        ),
    ],
)
def test_certificate_create(
    fake_sm: FakeSM, params: dict[str, str], key_type: type, days: int
) -> None:
    result = run_job(CERTIFICATE_JOB, job_env(fake_sm, **params), fake_sm)

    assert result.returncode == 0, result.stderr
    assert len(fake_sm.token_requests) == 1
    body = only_put(fake_sm)
    assert body["status"] == "credentials_created"
    credentials = body["credentials"]
    assert set(credentials["payload"]) == {"certificate_base64", "private_key_base64"}
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(credentials["payload"]["certificate_base64"])
    )
    key_pem = base64.b64decode(credentials["payload"]["private_key_base64"])
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8
    key = serialization.load_pem_private_key(key_pem, password=None)

    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "api.example.com"
    assert cert.issuer == cert.subject
    assert isinstance(cert.public_key(), key_type)
    if isinstance(key, rsa.RSAPrivateKey):
        assert key.key_size == 2048
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.name == "secp256r1"
    assert cert.public_key() == key.public_key()
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() == days * 86400
    assert credentials["id"] == format(cert.serial_number, "x")
    assert credentials["id"] == credentials["id"].lower()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.example.com"]
    assert credentials["id"] in result.stdout  # progress names the credentials id


def test_certificate_without_host_name_has_no_san(fake_sm: FakeSM) -> None:
    result = run_job(CERTIFICATE_JOB, job_env(fake_sm, common_name="Payments Service"), fake_sm)

    assert result.returncode == 0, result.stderr
    payload = only_put(fake_sm)["credentials"]["payload"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(payload["certificate_base64"]))
    assert cert.subject.rfc4514_string() == "CN=Payments Service"
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


@pytest.mark.parametrize("days", ["0", "826", "-5", "ninety", "1.5"])
def test_certificate_invalid_expiration_days(fake_sm: FakeSM, days: str) -> None:
    env = job_env(fake_sm, common_name="api.example.com", expiration_days=days)
    result = run_job(CERTIFICATE_JOB, env, fake_sm)

    assert result.returncode == 0, result.stderr
    description = assert_failed(only_put(fake_sm), "Err10002")
    assert description == "expiration_days must be a whole number between 1 and 825"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "common_name is required"),
        ({"common_name": "api.example.com", "key_algo": "DSA"}, "key_algo must be RSA or ECDSA"),
        ({"common_name": "x" * 65}, "common_name must be at most 64 characters"),
    ],
)
def test_certificate_invalid_input(fake_sm: FakeSM, params: dict[str, str], message: str) -> None:
    result = run_job(CERTIFICATE_JOB, job_env(fake_sm, **params), fake_sm)

    assert result.returncode == 0, result.stderr
    assert assert_failed(only_put(fake_sm), "Err10002") == message


def test_certificate_delete_reports_deleted(fake_sm: FakeSM) -> None:
    env = job_env(fake_sm, "delete_credentials", common_name="api.example.com")
    env.update(SM_CREDENTIALS_ID="5a3c0ffee", SM_SECRET_VERSION_ID=VERSION_ID)
    result = run_job(CERTIFICATE_JOB, env, fake_sm)

    assert result.returncode == 0, result.stderr
    assert only_put(fake_sm) == {"status": "credentials_deleted"}


def test_certificate_callback_refused_exits_1(fake_sm: FakeSM) -> None:
    fake_sm.put_statuses[:] = [404]
    result = run_job(CERTIFICATE_JOB, job_env(fake_sm, common_name="api.example.com"), fake_sm)

    assert result.returncode == 1
    assert only_put(fake_sm)["status"] == "credentials_created"
    assert "HTTP 404" in result.stderr


def test_iam_url_is_configurable(fake_sm: FakeSM) -> None:
    env = job_env(fake_sm, common_name="api.example.com", key_algo="ECDSA")
    env["SM_IAM_URL"] = f"{fake_sm.url}/iam/"
    result = run_job(CERTIFICATE_JOB, env, fake_sm)

    assert result.returncode == 0, result.stderr
    assert [r.path for r in fake_sm.token_requests] == ["/iam/identity/token"]


# --- both jobs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "code"), [(CERTIFICATE_JOB, "Err10001"), (TOKEN_JOB, "ERR10000")]
)
def test_unknown_action_is_reported(fake_sm: FakeSM, script: Path, code: str) -> None:
    result = run_job(script, job_env(fake_sm, "rotate_credentials"), fake_sm)

    assert result.returncode == 0, result.stderr
    description = assert_failed(only_put(fake_sm), code)
    assert "unknown action 'rotate_credentials'" in description


@pytest.mark.parametrize("script", [CERTIFICATE_JOB, TOKEN_JOB])
@pytest.mark.parametrize("value", [None, ""])
def test_missing_task_id_exits_without_http(
    fake_sm: FakeSM, script: Path, value: str | None
) -> None:
    env = job_env(fake_sm, common_name="api.example.com", user_name="alice")
    if value is None:
        del env["SM_SECRET_TASK_ID"]
    else:
        env["SM_SECRET_TASK_ID"] = value
    result = run_job(script, env, fake_sm)

    assert result.returncode == 1
    assert "SM_SECRET_TASK_ID" in result.stderr
    assert fake_sm.requests == []


@pytest.mark.parametrize("script", [CERTIFICATE_JOB, TOKEN_JOB])
def test_rejected_api_key_exits_1_without_update(
    fake_sm: FakeSM, script: Path, tmp_path: Path
) -> None:
    fake_sm.token_statuses[:] = [401]
    env = job_env(fake_sm, common_name="api.example.com", user_name="alice")
    env["TOKEN_SERVICE_DB"] = str(tmp_path / "tokens.db")
    result = run_job(script, env, fake_sm)

    assert result.returncode == 1
    assert len(fake_sm.token_requests) == 1  # 401 is final
    assert fake_sm.puts == []
    assert not (tmp_path / "tokens.db").exists()


# --- token_service.py and token_provider.py ---------------------------------------------------


def token_service(db: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(TOKEN_SERVICE), "--db", str(db), *args],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT,
        check=True,
    )
    return result.stdout


def stored_tokens(db: Path) -> list[dict[str, Any]]:
    return json.loads(token_service(db, "list"))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "tokens.db"
    token_service(db, "init", "alice", "bob")
    return db


def token_env(
    fake: FakeSM, db: Path, action: str = "create_credentials", **params: str
) -> dict[str, str]:
    env = job_env(fake, action, **params)
    env["TOKEN_SERVICE_DB"] = str(db)
    return env


def create_token(fake: FakeSM, db: Path) -> dict[str, Any]:
    result = run_job(
        TOKEN_JOB, token_env(fake, db, user_name="alice", scope="admin", expires="600"), fake
    )
    assert result.returncode == 0, result.stderr
    return fake.puts[-1].body


def test_token_service_init_is_idempotent(store: Path) -> None:
    token_service(store, "init", "bob", "carol")

    assert json.loads(token_service(store, "users")) == ["alice", "bob", "carol"]
    assert stored_tokens(store) == []


def test_token_create(fake_sm: FakeSM, store: Path) -> None:
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, user_name="alice"), fake_sm)

    assert result.returncode == 0, result.stderr
    body = only_put(fake_sm)
    assert body["status"] == "credentials_created"
    assert set(body["credentials"]["payload"]) == {"token"}
    token_value = body["credentials"]["payload"]["token"]
    # 32 random bytes, URL-safe base64 without padding (as secrets.token_urlsafe(32) gives).
    assert re.fullmatch(r"tks_[A-Za-z0-9_-]{43}", token_value), token_value
    [row] = stored_tokens(store)
    assert row["id"] == body["credentials"]["id"]
    assert row["user_name"] == "alice"
    assert row["scope"] == "user"  # the default
    assert row["token_sha256"] == hashlib.sha256(token_value.encode()).hexdigest()
    assert f"token {row['id']} created for user alice" in result.stdout
    # The store keeps the hash only: the value is in none of the SQLite files.
    for path in store.parent.glob("tokens.db*"):
        assert token_value.encode() not in path.read_bytes()


def test_token_create_honours_scope_and_expiry(fake_sm: FakeSM, store: Path) -> None:
    body = create_token(fake_sm, store)

    [row] = stored_tokens(store)
    assert row["id"] == body["credentials"]["id"]
    assert row["scope"] == "admin"
    assert row["created_at"] < row["expires_at"]


def test_token_unknown_user(fake_sm: FakeSM, store: Path) -> None:
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, user_name="zed"), fake_sm)

    assert result.returncode == 0, result.stderr
    description = assert_failed(only_put(fake_sm), "ERR10001")
    assert description == "user 'zed' is not known to the token service"
    assert stored_tokens(store) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"scope": "root"}, "scope must be admin or user"),
        ({"expires": "59"}, "expires must be a whole number between 60 and 31536000"),
        ({"expires": "31536001"}, "expires must be a whole number between 60 and 31536000"),
        ({"expires": "1h"}, "expires must be a whole number between 60 and 31536000"),
        ({"user_name": ""}, "user_name is required"),
    ],
)
def test_token_invalid_input(
    fake_sm: FakeSM, store: Path, params: dict[str, str], message: str
) -> None:
    env = token_env(fake_sm, store, **{"user_name": "alice", **params})
    result = run_job(TOKEN_JOB, env, fake_sm)

    assert result.returncode == 0, result.stderr
    assert assert_failed(only_put(fake_sm), "ERR10002") == message
    assert stored_tokens(store) == []


def test_token_missing_store(fake_sm: FakeSM, tmp_path: Path) -> None:
    missing = tmp_path / "absent.db"
    result = run_job(TOKEN_JOB, token_env(fake_sm, missing, user_name="alice"), fake_sm)

    assert result.returncode == 0, result.stderr
    assert_failed(only_put(fake_sm), "ERR10003")
    assert not missing.exists()


def test_token_store_not_configured(fake_sm: FakeSM) -> None:
    result = run_job(TOKEN_JOB, job_env(fake_sm, user_name="alice"), fake_sm)

    assert result.returncode == 0, result.stderr
    assert "TOKEN_SERVICE_DB" in assert_failed(only_put(fake_sm), "ERR10003")


def test_token_delete_is_idempotent(fake_sm: FakeSM, store: Path) -> None:
    token_id = create_token(fake_sm, store)["credentials"]["id"]
    env = token_env(fake_sm, store, "delete_credentials", user_name="alice")
    env.update(SM_CREDENTIALS_ID=token_id, SM_SECRET_VERSION_ID=VERSION_ID)

    first = run_job(TOKEN_JOB, env, fake_sm)
    assert first.returncode == 0, first.stderr
    assert fake_sm.puts[-1].body == {"status": "credentials_deleted"}
    assert stored_tokens(store) == []
    assert f"token {token_id} deleted" in first.stdout

    again = run_job(TOKEN_JOB, env, fake_sm)
    assert again.returncode == 0, again.stderr
    assert fake_sm.puts[-1].body == {"status": "credentials_deleted"}
    assert len(fake_sm.puts) == 3


def test_token_delete_without_credentials_id(fake_sm: FakeSM, store: Path) -> None:
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, "delete_credentials"), fake_sm)

    assert result.returncode == 0, result.stderr
    assert_failed(only_put(fake_sm), "ERR10004")


@pytest.mark.parametrize("status", [400, 403, 404])
def test_refused_callback_deletes_the_token(fake_sm: FakeSM, store: Path, status: int) -> None:
    fake_sm.put_statuses[:] = [status]
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, user_name="alice"), fake_sm)

    assert result.returncode == 1
    body = only_put(fake_sm)  # final: no retry
    assert body["status"] == "credentials_created"
    assert stored_tokens(store) == []
    assert f"compensation done: credentials {body['credentials']['id']} deleted" in result.stderr


def test_callback_5xx_is_retried_three_times_then_compensated(fake_sm: FakeSM, store: Path) -> None:
    fake_sm.put_statuses[:] = [500, 500, 500]
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, user_name="alice"), fake_sm)

    assert result.returncode == 1
    assert len(fake_sm.puts) == 3
    assert len({json.dumps(put.body, sort_keys=True) for put in fake_sm.puts}) == 1
    assert stored_tokens(store) == []
    assert "attempt 2/3" in result.stderr


def test_transient_errors_recover(fake_sm: FakeSM, store: Path) -> None:
    fake_sm.token_statuses[:] = [503]
    fake_sm.put_statuses[:] = [429]
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, user_name="alice"), fake_sm)

    assert result.returncode == 0, result.stderr
    assert len(fake_sm.token_requests) == 2
    assert len(fake_sm.puts) == 2
    [row] = stored_tokens(store)
    assert row["id"] == fake_sm.puts[-1].body["credentials"]["id"]


def test_undeliverable_failure_report_exits_1(fake_sm: FakeSM, store: Path) -> None:
    fake_sm.put_statuses[:] = [404]
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, user_name="zed"), fake_sm)

    assert result.returncode == 1
    assert_failed(only_put(fake_sm), "ERR10001")
    assert "could not deliver the failure report" in result.stderr


def test_unreachable_instance_exits_1(store: Path, fake_sm: FakeSM) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    env = token_env(fake_sm, store, user_name="alice")
    env["SM_INSTANCE_URL"] = f"http://127.0.0.1:{closed_port}"
    result = run_job(TOKEN_JOB, env, fake_sm)

    assert result.returncode == 1
    assert "connection error" in result.stderr
    assert stored_tokens(store) == []


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_not_followed(fake_sm: FakeSM, store: Path, status: int) -> None:
    """Following it would send the API key to wherever the redirect points."""
    fake_sm.token_statuses[:] = [status]
    result = run_job(TOKEN_JOB, token_env(fake_sm, store, user_name="alice"), fake_sm)

    assert result.returncode == 1
    assert [r.path for r in fake_sm.requests] == ["/identity/token"]
    assert f"IAM token request: HTTP {status}" in result.stderr
    assert stored_tokens(store) == []


@pytest.mark.parametrize("port", ["http", "70000"])
def test_an_instance_url_with_a_bad_port_exits_without_http(
    fake_sm: FakeSM, store: Path, port: str
) -> None:
    env = token_env(fake_sm, store, user_name="alice")
    env["SM_INSTANCE_URL"] = f"http://127.0.0.1:{port}"
    result = run_job(TOKEN_JOB, env, fake_sm)

    assert result.returncode == 1
    assert "SM_INSTANCE_URL has a port that is not a number from 0 to 65535" in result.stderr
    assert fake_sm.requests == []

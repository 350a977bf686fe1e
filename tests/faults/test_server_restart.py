"""The web server killed and restarted in the middle of a wizard: the draft survives.

A real gunicorn (as the README's production setup and the benchmark serve the console) on the
test database. A browser, with JavaScript and without, walks Add secret → Arbitrary through
Details and Expiration; then gunicorn is killed with SIGKILL and started again on the same port.
The draft lives in the database, keyed by its id in the URL, and the session too, so the Review
step reloads with what was entered before the crash, and Add creates the secret once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from console.models import WizardDraft
from secrets_app.models import Secret, SecretState
from secrets_app.services import secret_version_payload_read
from tests.cloud_fixtures import wait_until
from tests.e2e.conftest import (  # noqa: F401  (browser_type_launch_args, js_enabled: fixtures)
    browser_type_launch_args,
    choose_secret_type,
    js_enabled,
    screenshot,
)
from tests.factories import create_user, factory_actor
from tests.faults.consistency import assert_consistent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebServer:
    """gunicorn with two sync workers, each start in a process group of its own."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _status(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.url}/login/", timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code)
        except OSError:
            return 0

    def start(self) -> None:
        env = {**os.environ, "SM_DB_NAME": str(connection.settings_dict["NAME"]), "Q_SYNC": "0"}
        argv = [
            sys.executable, "-m", "gunicorn", "console.wsgi:application",
            "--workers", "2", "--worker-class", "sync", "--bind", f"127.0.0.1:{self.port}",
            "--timeout", "120", "--log-level", "warning",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            return self._status() == 200

        wait_until(up, timeout=90, what="gunicorn to answer")

    def kill(self) -> None:
        """SIGKILL the master and its workers at once: no graceful anything."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        wait_until(lambda: self._status() == 0, what="the port to stop answering")

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def web_server(tmp_path) -> Iterator[WebServer]:
    server = WebServer(tmp_path / "gunicorn.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def context(browser: Browser, js_enabled: bool, web_server: WebServer) -> Iterator[BrowserContext]:  # noqa: F811
    ctx = browser.new_context(java_script_enabled=js_enabled, base_url=web_server.url)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert errors == [], errors


def sign_in(context: BrowserContext, server: WebServer) -> None:
    client = Client()
    client.force_login(create_user(username="owner", manage_groups=True))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": server.url}]
    )


def test_a_wizard_draft_survives_a_killed_and_restarted_web_server(
    page: Page,
    context: BrowserContext,
    js_enabled: bool,  # noqa: F811
    web_server: WebServer,
):
    mode = "js" if js_enabled else "nojs"
    name = f"survivor-{mode}"
    sign_in(context, web_server)
    page.goto("/secrets/")
    page.get_by_role("link", name="Add", exact=True).click()
    choose_secret_type(page, "arbitrary")
    expect(page.get_by_role("heading", name="Details")).to_be_visible()
    page.locator("#id_name").fill(name)
    page.locator("#id_description").fill("Typed before the crash")
    page.get_by_label("Secret group").select_option(label="default")
    page.get_by_label("Labels").fill("before, crash")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Expiration")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    found = re.search(r"/wizards/arbitrary/([0-9a-f-]{36})/review/", page.url)
    assert found, page.url
    draft = WizardDraft.objects.get(pk=found[1])
    assert set(draft.data) >= {"details", "expiration"} and draft.finished_at is None

    web_server.kill()
    web_server.start()

    # A fresh request to the new server: the step comes back with what was entered before.
    page.reload()
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    expect(page.locator(".review")).to_contain_text(name)
    expect(page.locator(".review")).to_contain_text("Typed before the crash")
    page.locator("#id_payload").fill("entered-after-the-restart")
    screenshot(page, f"fault-wizard-after-restart-{mode}")
    page.emulate_media(color_scheme="dark")
    screenshot(page, f"fault-wizard-after-restart-{mode}-dark")
    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Add").click()

    expect(page).to_have_url(re.compile(r"/secrets/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("secret-state")).to_have_text("Active")
    screenshot(page, f"fault-wizard-added-{mode}")
    secret = Secret.objects.get(name=name)
    assert secret.labels == ["before", "crash"] and secret.description == "Typed before the crash"
    draft.refresh_from_db()
    assert draft.finished_at is not None and draft.result_url.endswith(f"/secrets/{secret.pk}/")
    state = assert_consistent(secret)
    assert state.secret.state == SecretState.ACTIVE and len(state.versions) == 1
    value = secret_version_payload_read(actor=factory_actor(), version_id=state.versions[0].pk)
    assert value == "entered-after-the-restart"

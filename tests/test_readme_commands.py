"""Every shell command the README shows works as written, in a second shell, against `make run`.

The README is parsed, so this test follows it when it changes:

- Each fenced ```bash (or sh, shell) block runs, in README order and in one shell, because later
  blocks use the variables that earlier ones set (KEY, SECRET_ID, TOKEN).
- A block is skipped only when the line just before its fence is the marker
  `<!-- readme-test: skip (reason) -->`, with a reason (`make run` itself, `make test`).
- The server is started by scripts/run.sh, exactly as `make run` starts it, in a temporary data
  directory on a free port.
- The blocks run in "a second shell": a clean environment holding only PATH, HOME, LANG and
  SM_DATA_DIR, so every other setting (DEBUG, the SECRET_KEY file, the port) must come from the
  instance settings file that run.sh wrote.
- The README addresses the default instance, http://127.0.0.1:8000. That address is the one thing
  rewritten, to the test server's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from engines_app.providers.embedded.code_engine.models import FINISHED_RUN_STATUSES, JobRun
from tests.cloud_fixtures import wait_until

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEFAULT_URL = "http://127.0.0.1:8000"
SHELLS = {"bash", "sh", "shell"}
MARKER = re.compile(r"<!--\s*readme-test:(?P<rest>.*?)-->")
SKIP = re.compile(r"^\s*skip\s*\((?P<reason>.+)\)\s*$")
FENCE = re.compile(r"^\s*```(?P<lang>[\w-]*)")


@dataclass(frozen=True)
class Block:
    line: int  # the README line of the opening fence
    lang: str
    code: str
    skip: str | None  # the reason, for a skipped block


def shell_blocks(text: str) -> list[Block]:
    """The README's shell blocks. A marker must say `skip (reason)` and sit right before a fence."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: tuple[int, str] | None = None  # a skip marker waiting for its block
    index = 0
    while index < len(lines):
        line = lines[index]
        if marker := MARKER.search(line):
            skip = SKIP.match(marker.group("rest"))
            if skip is None:
                raise ValueError(f"README line {index + 1}: write `readme-test: skip (reason)`")
            pending = (index + 1, skip.group("reason").strip())
        elif fence := FENCE.match(line):
            start = index
            index += 1
            while index < len(lines) and not lines[index].strip().startswith("```"):
                index += 1
            lang = fence.group("lang").lower()
            if lang in SHELLS:
                code = "\n".join(lines[start + 1 : index])
                blocks.append(Block(start + 1, lang, code, pending[1] if pending else None))
            elif pending:
                raise ValueError(
                    f"README line {pending[0]}: the marker is not before a shell block"
                )
            pending = None
        elif line.strip() and pending:
            raise ValueError(f"README line {pending[0]}: the marker must be right before a block")
        index += 1
    return blocks


def test_the_parser_runs_every_shell_block_unless_it_is_marked_with_a_reason():
    text = "\n".join(
        [
            "<!-- readme-test: skip (serves until Ctrl-C) -->",
            "```bash",
            "make run",
            "```",
            "```bash",
            "A=1",
            "echo $A",
            "```",
            "```python",
            "print('not a shell block')",
            "```",
            "```",
            "plain text",
            "```",
            "```sh",
            "true",
            "```",
        ]
    )
    assert shell_blocks(text) == [
        Block(2, "bash", "make run", "serves until Ctrl-C"),
        Block(5, "bash", "A=1\necho $A", None),
        Block(15, "sh", "true", None),
    ]
    for bad in (
        "<!-- readme-test: skip -->\n```bash\nx\n```",  # no reason
        "<!-- readme-test: skip () -->\n```bash\nx\n```",
        "<!-- readme-test: skip (why) -->\nsome prose\n```bash\nx\n```",  # not right before
        "<!-- readme-test: skip (why) -->\n```python\nx\n```",  # not a shell block
    ):
        with pytest.raises(ValueError, match="README line 1"):
            shell_blocks(bad)


def test_the_readme_shows_commands_for_the_served_instance():
    blocks = shell_blocks(README.read_text())
    runnable = [b for b in blocks if b.skip is None]
    # The blocks the issue names: manage.py commands, curl against the console, the SDK.
    assert any("manage.py" in b.code for b in runnable)
    assert any("curl" in b.code and DEFAULT_URL in b.code for b in runnable)
    assert any("SecretsManagerV2" in b.code for b in runnable)
    # `make run` itself cannot run in a test; the test starts its script instead.
    assert blocks[0].skip and blocks[0].code.split()[:2] == ["make", "run"]


# --- against a served instance -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _second_shell(data_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "SM_DATA_DIR": str(data_dir),
    }


def _script(blocks: list[Block], port: int) -> str:
    lines = ["set -euo pipefail"]
    for block in blocks:
        lines.append(f"echo 'readme-test: block at README line {block.line}' >&2")
        lines.append(block.code.replace(DEFAULT_URL, f"http://127.0.0.1:{port}"))
    lines.append("echo 'readme-test: every block ran' >&2")
    return "\n".join(lines) + "\n"


class MakeRun:
    """`bash scripts/run.sh` in its own session (run.sh execs `manage.py serve`)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                ["bash", "scripts/run.sh"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text()

    def wait_served(self, port: int) -> None:
        def healthy() -> bool:
            assert self.proc.poll() is None, f"make run exited:\n{self.text()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    return bool(r.status == 200 and json.loads(r.read())["status"] == "ok")
            except (urllib.error.URLError, OSError):
                return False

        wait_until(healthy, timeout=180, what=f"make run to serve /healthz on port {port}")

    def children(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    found.append(int(entry.name))
        return found

    def ctrl_c(self) -> int:
        """Ctrl-C in make run's terminal: SIGINT to its process group."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        clusters = self.children()  # the worker runs in its own session
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                for group in [self.proc.pid, *clusters]:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(group, signal.SIGKILL)
                self.proc.wait()


def _job_runs_finished(data_dir: Path) -> bool:
    """No job run of the served instance is still going (each runs under its own supervisor)."""
    with contextlib.closing(sqlite3.connect(data_dir / "console.sqlite3", timeout=20)) as db:
        statuses = [row[0] for row in db.execute(f"SELECT status FROM {JobRun._meta.db_table}")]
    return all(status in FINISHED_RUN_STATUSES for status in statuses)


def _secret_values(data_dir: Path) -> list[str]:
    values = [(data_dir / "secret.key").read_text().strip()]
    root = json.loads((data_dir / "root.key").read_text())
    return values + list(root["keys"].values())


@pytest.mark.e2e
def test_readme_commands_work_in_a_second_shell_against_make_run(tmp_path):
    data_dir = tmp_path / "data"
    port = _free_port()
    shell = _second_shell(data_dir)
    blocks = [b for b in shell_blocks(README.read_text()) if b.skip is None]
    server = MakeRun({**shell, "PORT": str(port)}, tmp_path / "make-run.log")
    try:
        server.wait_served(port)
        settings_file = data_dir / "instance.env"
        assert settings_file.stat().st_mode & 0o777 == 0o600

        result = subprocess.run(
            ["bash", "-c", _script(blocks, port)],
            cwd=ROOT,
            env=shell,
            capture_output=True,
            text=True,
            timeout=300,
        )
        markers = re.findall(r"readme-test: (.*)", result.stderr)
        assert result.returncode == 0 and markers[-1:] == ["every block ran"], (
            f"the README {markers[-1] if markers else 'script'} failed "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
        assert "Traceback" not in result.stderr

        # A second `make run` of this data directory finds it served, and says so in one line.
        again = subprocess.run(
            ["bash", "scripts/run.sh"], cwd=ROOT, env=shell, capture_output=True, text=True
        )
        assert again.returncode == 2
        assert again.stderr.strip().splitlines()[-1] == (
            f"The instance in {data_dir} is already served by another `make run` (port {port}); "
            "stop that one first, or give this one its own SM_DATA_DIR and PORT."
        )
        wait_until(lambda: _job_runs_finished(data_dir), timeout=60, what="the job runs to end")
    finally:
        stopped = server.ctrl_c()
    assert stopped == 0, server.text()
    assert "Stopped the web server and the worker." in server.text()

    # `make run` again, without PORT: the same instance, on the port it was first given.
    restarted = MakeRun(shell, tmp_path / "make-run-again.log")
    try:
        restarted.wait_served(port)
        assert "Admin login: admin / the password printed when it was created" in restarted.text()
    finally:
        stopped = restarted.ctrl_c()
    assert stopped == 0, restarted.text()

    # No secret value reached a terminal or the settings file.
    seen = server.text() + restarted.text() + result.stdout + result.stderr
    seen += settings_file.read_text()
    for value in _secret_values(data_dir):
        assert value not in seen

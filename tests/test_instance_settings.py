"""The instance settings file (console/instance.py) and one-line configuration errors.

`make run` records what it serves with in $SM_DATA_DIR/instance.env; manage.py in a second shell
reads it. A configuration error is one line on stderr and exit status 2, for manage.py and for
`make run`, and never shows a secret.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from console import instance, startup

ROOT = Path(__file__).resolve().parents[1]
ROOT_KEY = "dGVzdC1yb290LWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE="


def _shell(data_dir: Path, **extra: str) -> dict[str, str]:
    """A second shell: a clean environment, so that nothing of the test's own settings leaks in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "SM_DATA_DIR": str(data_dir),
        **extra,
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "manage.py", *args], env)


def _prepare(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "console.instance", "prepare"], env)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the file ------------------------------------------------------------------------------------


def test_the_file_is_written_with_mode_0600_and_reads_back_what_was_written(tmp_path):
    path = tmp_path / instance.FILE_NAME
    values = {"PORT": "8123", "ALLOWED_HOSTS": "a.example, b.example", "SM_REGION": "it's $HOME"}
    instance.write(path, values)
    assert path.stat().st_mode & 0o777 == 0o600
    assert instance.read(path) == values
    instance.write(path, {"PORT": "9000"})  # replaced as a whole
    assert instance.read(path) == {"PORT": "9000"}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_a_missing_file_records_nothing(tmp_path):
    assert instance.read(tmp_path / instance.FILE_NAME) == {}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("LOG_LEVEL=DEBUG\n", "line 1: expected NAME=value with NAME one of DEBUG, PORT"),
        ("# comment\n\nPORT\n", "line 3: expected NAME=value"),
        ("SM_REGION=two words\n", "line 1: quote a value that holds spaces"),
        ("SM_REGION='open\n", "line 1: No closing quotation"),
    ],
)
def test_a_malformed_file_is_refused_with_its_line(tmp_path, text, error):
    path = tmp_path / instance.FILE_NAME
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ImproperlyConfigured, match=error):
        instance.read(path)


def test_a_file_that_others_can_read_is_refused(tmp_path):
    path = tmp_path / instance.FILE_NAME
    instance.write(path, {"PORT": "8000"})
    path.chmod(0o640)
    with pytest.raises(ImproperlyConfigured, match="accessible by other users .*chmod 600"):
        instance.read(path)


def test_the_environment_wins_over_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(instance, "_loaded", {})
    instance.write(instance.instance_file(tmp_path), {"PORT": "8123", "DEBUG": "1"})
    environ = {"PORT": "9000"}
    assert instance.load_into_environ(tmp_path, environ) == {"DEBUG": "1"}
    assert environ == {"PORT": "9000", "DEBUG": "1"}
    assert instance.loaded_from_file() == {"DEBUG": instance.instance_file(tmp_path)}


# --- what make run records -----------------------------------------------------------------------


def test_make_run_settings_are_the_environment_then_the_file_then_the_demo_defaults(tmp_path):
    recorded = {"PORT": "8123", "SM_REGION": "eu-de", "DATABASE_URL": "postgres://h/db"}
    environ = {"SM_REGION": "us-east", "DATABASE_URL": "", "SQLITE_PATH": "rel/db.sqlite3"}
    values = instance.run_settings(environ, recorded, tmp_path)
    assert values == {
        "SM_REGION": "us-east",  # the environment wins
        "DATABASE_URL": "",  # set empty: dropped from the instance
        "SQLITE_PATH": str(Path("rel/db.sqlite3").resolve()),  # paths are recorded absolute
        "PORT": "8123",  # kept from the last make run
        "DEBUG": "1",  # the demo's default
        "SECRET_KEY_FILE": str(tmp_path / "secret.key"),  # named, never copied
    }


def test_secrets_from_the_environment_are_only_named(tmp_path):
    recorded = {"SECRET_KEY_FILE": str(tmp_path / "secret.key")}
    environ = {"SECRET_KEY": "from-the-env-0123456789", "SM_ROOT_KEY": ROOT_KEY, "DEBUG": "0"}
    values = instance.run_settings(environ, recorded, tmp_path)
    assert values == {"DEBUG": "0", "PORT": "8000", "SM_ENV_ONLY": "SECRET_KEY,SM_ROOT_KEY"}
    assert "from-the-env" not in instance.render(values) and ROOT_KEY not in instance.render(values)


def test_no_key_file_is_recorded_outside_debug(tmp_path):
    assert "SECRET_KEY_FILE" not in instance.run_settings({"DEBUG": "0"}, {}, tmp_path)


# --- SECRET_KEY ----------------------------------------------------------------------------------


def test_secret_key_comes_from_the_environment_then_the_key_file_then_the_demo_file(tmp_path):
    key_file = tmp_path / "given.key"
    key_file.write_text("from-a-file-0123456789\n")
    key_file.chmod(0o600)
    assert instance.secret_key(tmp_path, debug=False, environ={"SECRET_KEY": "env"}) == "env"
    given = {"SECRET_KEY_FILE": str(key_file)}
    assert instance.secret_key(tmp_path, debug=False, environ=given) == "from-a-file-0123456789"
    demo = instance.secret_key(tmp_path, debug=True, environ={})
    assert len(demo) > 50 and instance.secret_key(tmp_path, debug=True, environ={}) == demo
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_secret_key_errors_say_what_to_do(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set when DEBUG is off"):
        instance.secret_key(tmp_path, debug=False, environ={})
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set in this shell too"):
        instance.secret_key(tmp_path, debug=True, environ={"SM_ENV_ONLY": "SECRET_KEY"})
    missing = {"SECRET_KEY_FILE": str(tmp_path / "nope")}
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE: .*nope cannot be read"):
        instance.secret_key(tmp_path, debug=True, environ=missing)
    open_file = tmp_path / "open.key"
    open_file.write_text("x" * 40)
    open_file.chmod(0o644)
    with pytest.raises(ImproperlyConfigured, match="accessible by other users"):
        instance.secret_key(tmp_path, debug=True, environ={"SECRET_KEY_FILE": str(open_file)})


def test_a_root_key_the_server_got_from_its_environment_is_required_in_the_shell(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SM_ROOT_KEY must be set in this shell too"):
        instance.require_env_only(
            tmp_path, {"SM_ENV_ONLY": "SECRET_KEY,SM_ROOT_KEY", "SECRET_KEY": "k"}
        )
    instance.require_env_only(tmp_path, {"SM_ENV_ONLY": "SM_ROOT_KEY", "SM_ROOT_KEY": ROOT_KEY})


def test_an_unusable_data_directory_is_a_configuration_error(tmp_path):
    plain = tmp_path / "a-file"
    plain.write_text("")
    with pytest.raises(ImproperlyConfigured, match="is not a directory"):
        instance.data_dir({"SM_DATA_DIR": str(plain)})
    with pytest.raises(ImproperlyConfigured, match="cannot be created: Not a directory"):
        instance.data_dir({"SM_DATA_DIR": str(plain / "below")})
    made = instance.data_dir({"SM_DATA_DIR": str(tmp_path / "new")})
    assert made.is_dir() and made.stat().st_mode & 0o777 == 0o700


# --- one line, never a secret --------------------------------------------------------------------


def test_errors_are_one_line_without_secret_values(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgres://app:s3cret-pass@db.example/console")
    with pytest.raises(SystemExit) as exit_info, startup.one_line_errors():
        raise ImproperlyConfigured("could not use\npostgres://app:s3cret-pass@db.example/console")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert (
        err == "Configuration error: could not use; postgres://app:[redacted]@db.example/console\n"
    )


# --- manage.py in a second shell -----------------------------------------------------------------


def test_manage_py_in_a_second_shell_uses_what_make_run_recorded(tmp_path):
    data_dir = tmp_path / "data"
    port = _free_port()
    prepared = _prepare(_shell(data_dir, PORT=str(port)))
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.stdout.splitlines() == [f"export SM_DATA_DIR={data_dir}", f"export PORT={port}"]
    settings_file = data_dir / "instance.env"
    assert settings_file.stat().st_mode & 0o777 == 0o600
    key = (data_dir / "secret.key").read_text().strip()
    assert key not in settings_file.read_text()
    probe = (
        "from django.conf import settings; "
        "print(settings.DEBUG, settings.PORT, settings.SM_PUBLIC_URL, "
        f"settings.SECRET_KEY == {key!r})"
    )
    result = _manage(_shell(data_dir), "shell", "-v0", "-c", probe)
    assert result.stdout.split() == ["True", str(port), f"http://127.0.0.1:{port}", "True"]
    # The environment wins over the file.
    result = _manage(
        _shell(data_dir, PORT="9999"),
        "shell",
        "-v0",
        "-c",
        "from django.conf import settings; print(settings.SM_PUBLIC_URL)",
    )
    assert result.stdout.strip() == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({}, "Configuration error: SECRET_KEY must be set when DEBUG is off: set SECRET_KEY or "),
        (
            {"DEBUG": "1", "DATABASE_URL": "mysql://u:pw-0123@h/db"},
            "Configuration error: DATABASE_URL must start with postgres:// or postgresql://; "
            "got scheme 'mysql'",
        ),
        (
            {"DEBUG": "1", "Q_WORKERS": "two"},
            "Configuration error: Q_WORKERS must be a whole number; got 'two'",
        ),
    ],
)
def test_a_configuration_error_is_one_line(tmp_path, extra, error):
    line = _one_line_error(_manage(_shell(tmp_path / "data", **extra), "check"))
    assert line.startswith(error)


def test_an_unusable_data_directory_is_one_line(tmp_path):
    plain = tmp_path / "a-file"
    plain.write_text("")
    line = _one_line_error(_manage(_shell(plain, DEBUG="1"), "check"))
    assert line == f"Configuration error: SM_DATA_DIR {plain} is not a directory"


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path):
    url = f"postgres://app:pw-9f8e7d@127.0.0.1:{_free_port()}/console"
    line = _one_line_error(_manage(_shell(tmp_path, DEBUG="1", DATABASE_URL=url), "migrate"))
    assert line.startswith("Database error: connection failed:")
    assert line.endswith(
        "(database console on 127.0.0.1:" + url.rsplit(":", 1)[1].split("/")[0] + ")"
    )
    assert "pw-9f8e7d" not in line


def test_a_bad_recorded_value_names_the_file(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    instance.write(data_dir / "instance.env", {"DEBUG": "1", "PORT": "eighty"})
    line = _one_line_error(_manage(_shell(data_dir), "check"))
    assert line == (
        "Configuration error: PORT must be a whole number; got 'eighty' "
        f"(PORT is set in {data_dir / 'instance.env'})"
    )


def test_a_shell_without_the_servers_secret_key_stops_instead_of_using_another(tmp_path):
    data_dir = tmp_path / "data"
    prepared = _prepare(_shell(data_dir, PORT=str(_free_port()), SECRET_KEY="s" * 50))
    assert prepared.returncode == 0, prepared.stderr
    assert "s" * 50 not in (data_dir / "instance.env").read_text()
    line = _one_line_error(_manage(_shell(data_dir), "check"))
    assert line == (
        f"Configuration error: SECRET_KEY must be set in this shell too: the instance in "
        f"{data_dir} was started with SECRET_KEY in its environment, which instance.env does not "
        "record"
    )
    assert not (data_dir / "secret.key").exists()  # no other key was made up
    assert _manage(_shell(data_dir, SECRET_KEY="s" * 50), "check").returncode == 0


# --- make run ------------------------------------------------------------------------------------


def test_make_run_stops_with_one_line_on_a_configuration_error(tmp_path):
    data_dir = tmp_path / "data"
    result = _run(["bash", "scripts/run.sh"], _shell(data_dir, DEBUG="0"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Configuration error: SECRET_KEY must be set when DEBUG is off")
    )
    assert not (data_dir / "instance.env").exists()  # a broken configuration is not recorded


def test_make_run_records_nothing_when_its_database_does_not_answer(tmp_path):
    data_dir = tmp_path / "data"
    url = f"postgres://app:pw-1a2b3c@127.0.0.1:{_free_port()}/console"
    line = _one_line_error(_prepare(_shell(data_dir, DATABASE_URL=url)))
    assert line.startswith("Database error: connection failed:") and "pw-1a2b3c" not in line
    assert not (data_dir / "instance.env").exists()
    # A recorded value that breaks later is named with its file.
    instance.write(data_dir / "instance.env", {"DEBUG": "1", "DATABASE_URL": url})
    line = _one_line_error(_prepare(_shell(data_dir)))
    assert line.endswith(f"(DATABASE_URL is set in {data_dir / 'instance.env'})")


def test_make_run_refuses_a_data_directory_that_is_served_or_a_port_that_is_taken(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with open(data_dir / instance.LOCK_NAME, "a") as lock:  # as a serving run.sh holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        line = _one_line_error(_prepare(_shell(data_dir, PORT="8123")))
    assert line.startswith(f"The instance in {data_dir} is already served by another `make run`")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_error(_prepare(_shell(data_dir, PORT=str(port))))
    assert line == (
        f"Port {port} on 127.0.0.1 is already in use; stop what listens there, or serve on "
        f"another port: PORT={port + 1} make run"
    )

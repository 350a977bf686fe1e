"""The embedded "external token service" used by ``token_provider.py``: a small SQLite store.

It plays the third-party system whose credentials a custom credentials secret manages. The store
knows users and the tokens issued to them. It keeps only the SHA-256 of each token value: the value
itself is returned once, by :func:`create_token`, and never stored or listed.

The store lives at the path given by the ``TOKEN_SERVICE_DB`` environment variable (for the job) or
``--db`` (for the CLI)::

    python token_service.py --db PATH init alice bob    # create the store, add users (idempotent)
    python token_service.py --db PATH list              # tokens as JSON (ids and hashes, no values)
    python token_service.py --db PATH users             # known users as JSON

Every function except :func:`init_store` requires an existing, initialised store and raises
:class:`StoreError` otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import os
import sqlite3
import sys
import urllib.parse
import uuid

# The token job imports this module on every run, so what only the command line uses (argparse)
# is imported there, and paths are os.path strings rather than pathlib's (issue 13's profile).
TYPE_CHECKING = False  # as typing's for mypy, without importing typing (see _protocol)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

BUSY_TIMEOUT_MS = 5000
SCOPES = ("admin", "user")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name),
    scope TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""


class StoreError(Exception):
    """The store is missing, unreadable or not initialised."""


class UnknownUserError(ValueError):
    """A token was requested for a user the service does not know."""


def _timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uri(path: str | Path, mode: str) -> str:
    return f"file:{urllib.parse.quote(os.path.realpath(path))}?mode={mode}"


@contextlib.contextmanager
def _connect(path: str | Path, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection with WAL and a busy timeout; always closed. Errors become StoreError."""
    try:
        conn = sqlite3.connect(
            _uri(path, "rwc" if create else "rw"),
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # explicit BEGIN/COMMIT below
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the token store ({type(exc).__name__})") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        yield conn
    except sqlite3.Error as exc:
        raise StoreError(f"token store error ({type(exc).__name__})") from None
    finally:
        conn.close()


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def init_store(path: str | Path, users: list[str]) -> None:
    """Create the store (idempotent) and add ``users`` that are not known yet."""
    names = [name.strip() for name in users]
    if any(not name for name in names):
        raise ValueError("user names must not be empty")
    with _connect(path, create=True) as conn:
        conn.executescript(_SCHEMA)
        with _transaction(conn):
            conn.executemany(
                "INSERT OR IGNORE INTO users (name) VALUES (?)", [(name,) for name in names]
            )


def known_user(path: str | Path, name: str) -> bool:
    """Whether the service knows user ``name``."""
    with _connect(path) as conn:
        row = conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
    return row is not None


def list_users(path: str | Path) -> list[str]:
    """The known user names, sorted."""
    with _connect(path) as conn:
        rows = conn.execute("SELECT name FROM users ORDER BY name").fetchall()
    return [row["name"] for row in rows]


def create_token(
    path: str | Path, *, user_name: str, scope: str, expires_seconds: int
) -> tuple[str, str]:
    """Issue a token; return ``(token_id, token_value)``. Only the value's SHA-256 is stored."""
    if scope not in SCOPES:
        raise ValueError("scope must be admin or user")
    if expires_seconds <= 0:
        raise ValueError("expires_seconds must be positive")
    token_id = str(uuid.uuid4())
    # What secrets.token_urlsafe(32) returns, from the same os.urandom: importing `secrets`
    # (and with it `random`) took about 10 ms of CPU, a tenth of every token job's run.
    token_value = "tks_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")
    digest = hashlib.sha256(token_value.encode("utf-8")).hexdigest()
    now = datetime.datetime.now(datetime.UTC)
    with _connect(path) as conn, _transaction(conn):
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (user_name,)).fetchone() is None:
            raise UnknownUserError("unknown user")
        conn.execute(
            "INSERT INTO tokens (id, user_name, scope, token_sha256, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                token_id,
                user_name,
                scope,
                digest,
                _timestamp(now),
                _timestamp(now + datetime.timedelta(seconds=expires_seconds)),
            ),
        )
    return token_id, token_value


def delete_token(path: str | Path, token_id: str) -> bool:
    """Revoke a token. Returns False when no token had that id (already deleted)."""
    with _connect(path) as conn, _transaction(conn):
        cursor = conn.execute("DELETE FROM tokens WHERE id = ?", (token_id,))
        return cursor.rowcount > 0


def list_tokens(path: str | Path) -> list[dict[str, Any]]:
    """Every token's metadata and hash, oldest first. Token values are never available."""
    with _connect(path) as conn:
        rows = conn.execute(
            "SELECT id, user_name, scope, token_sha256, created_at, expires_at"
            " FROM tokens ORDER BY created_at, id"
        ).fetchall()
    return [dict(row) for row in rows]


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="token_service.py", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="path of the SQLite store")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create the store and add users (idempotent)")
    init.add_argument("users", nargs="*", metavar="USER")
    commands.add_parser("list", help="list tokens as JSON (no values)")
    commands.add_parser("users", help="list known users as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            init_store(args.db, args.users)
            print(f"token store ready at {args.db} ({len(list_users(args.db))} users)")
        elif args.command == "list":
            print(json.dumps(list_tokens(args.db), indent=2))
        else:
            print(json.dumps(list_users(args.db), indent=2))
    except (StoreError, ValueError) as exc:
        print(f"token_service.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli(sys.argv[1:]))

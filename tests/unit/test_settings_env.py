from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from console import env


def test_env_bool(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env.env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "off")
    assert env.env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG.*'maybe'"):
        env.env_bool("X_FLAG")


def test_env_int_bounds(monkeypatch):
    monkeypatch.setenv("X_NUM", "abc")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env.env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env.env_int("X_NUM", 1, minimum=1)
    monkeypatch.delenv("X_NUM")
    assert env.env_int("X_NUM", 7) == 7


def test_env_url(monkeypatch):
    monkeypatch.setenv("X_URL", "ftp://example")
    with pytest.raises(ImproperlyConfigured, match="http"):
        env.env_url("X_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("X_URL", "https://sm.example.com/")
    assert env.env_url("X_URL", "http://x") == "https://sm.example.com"


def test_database_url():
    db = env.database_from_url(
        "DATABASE_URL", "postgres://app:p%40ss@db.local:5433/console?sslmode=require"
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "app",
        "p@ss",
        "db.local",
        "5433",
        "console",
    )
    assert db["OPTIONS"] == {"sslmode": "require", "options": "-c jit=off"}
    own = env.database_from_url("DATABASE_URL", "postgres://h/c?options=-c%20work_mem%3D8MB")
    assert own["OPTIONS"] == {"options": "-c work_mem=8MB"}, "the URL's own options win"
    with pytest.raises(ImproperlyConfigured, match="postgres://"):
        env.database_from_url("DATABASE_URL", "mysql://x/y")
    with pytest.raises(ImproperlyConfigured, match="name a database"):
        env.database_from_url("DATABASE_URL", "postgres://host/")

"""Configuration fails loudly: a bad value stops the process instead of quietly running wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from leadqual.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("off", False)],
)
def test_env_bool_reads_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("LQ_FLAG", raw)
    assert env_bool("LQ_FLAG", default=not expected) is expected


def test_env_bool_fails_loudly_on_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LQ_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="LQ_FLAG='maybe' is not a boolean"):
        env_bool("LQ_FLAG", default=False)


def test_env_bool_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LQ_FLAG", raising=False)
    assert env_bool("LQ_FLAG", default=True) is True


def test_env_int_parses_and_checks_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LQ_COUNT", "42")
    assert env_int("LQ_COUNT", default=1) == 42

    monkeypatch.setenv("LQ_COUNT", "-1")
    with pytest.raises(ImproperlyConfigured, match="below the minimum of 0"):
        env_int("LQ_COUNT", default=1, minimum=0)


@pytest.mark.parametrize("raw", ["ten", "1.5", "12abc"])
def test_env_int_fails_loudly_on_a_non_integer(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("LQ_COUNT", raw)
    with pytest.raises(ImproperlyConfigured, match=r"LQ_COUNT=.* is not an integer"):
        env_int("LQ_COUNT", default=1)


def test_env_float_fails_loudly_on_a_non_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LQ_SHARE", "0.8")
    assert env_float("LQ_SHARE", default=0.5) == 0.8
    monkeypatch.setenv("LQ_SHARE", "most")
    with pytest.raises(ImproperlyConfigured, match="is not a number"):
        env_float("LQ_SHARE", default=0.5)


def test_env_str_without_a_default_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LQ_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="Set the environment variable LQ_SECRET"):
        env_str("LQ_SECRET")


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LQ_HOSTS", " a.example , b.example,, ")
    assert env_list("LQ_HOSTS", default=[]) == ["a.example", "b.example"]


def test_postgres_url_is_parsed_whole() -> None:
    config = parse_database_url(
        "postgres://lq%40user:p%40ss@db.internal:6543/leadqual?sslmode=require"
    ).as_django()

    assert config == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "leadqual",
        "USER": "lq@user",
        "PASSWORD": "p@ss",
        "HOST": "db.internal",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
    }


def test_postgresql_scheme_and_no_password_or_port() -> None:
    config = parse_database_url("postgresql://postgres@127.0.0.1/leadqual").as_django()

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "postgres",
        "",
        "127.0.0.1",
        "",
    )
    assert "OPTIONS" not in config


def test_sqlite_urls_take_relative_and_absolute_paths() -> None:
    relative = parse_database_url("sqlite:///db.sqlite3")
    absolute = parse_database_url("sqlite:////var/lib/leadqual/db.sqlite3")

    assert relative.engine == absolute.engine == "django.db.backends.sqlite3"
    assert relative.name == "db.sqlite3"
    assert absolute.name == "/var/lib/leadqual/db.sqlite3"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/leadqual", "not supported"),
        ("postgres://postgres@127.0.0.1:5432/", "names no database"),
        ("postgres://postgres@127.0.0.1:notaport/leadqual", "bad port"),
        ("sqlite://", "needs a file path"),
        ("db.sqlite3", "not supported"),
    ],
)
def test_bad_database_urls_fail_loudly(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_database_url(url)


# --- the settings module as a whole, in a clean process -------------------------------------


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "leadqual.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('settings loaded')"],
        cwd=REPO_ROOT,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_to_load_with_debug_off_and_no_secret_key() -> None:
    result = _load_settings()

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "settings loaded" not in result.stdout


def test_settings_refuse_the_development_key_with_debug_off() -> None:
    result = _load_settings(
        DEBUG="0", SECRET_KEY="insecure-development-key-only-used-when-DEBUG-is-on"
    )

    assert result.returncode != 0
    assert "SECRET_KEY must be set to a real secret" in result.stderr


def test_settings_load_with_debug_off_and_a_real_secret_key() -> None:
    result = _load_settings(DEBUG="0", SECRET_KEY="a-real-secret-for-this-test-only-0123456789")

    assert result.returncode == 0, result.stderr
    assert "settings loaded" in result.stdout


def test_settings_load_in_development_without_a_secret_key() -> None:
    result = _load_settings(DEBUG="1")

    assert result.returncode == 0, result.stderr


def test_settings_refuse_a_misspelt_debug_value() -> None:
    result = _load_settings(DEBUG="ture", SECRET_KEY="a-real-secret-for-this-test-only-0123456789")

    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_settings_refuse_a_bad_database_url() -> None:
    result = _load_settings(DEBUG="1", DATABASE_URL="mysql://root@localhost/leadqual")

    assert result.returncode != 0
    assert "DATABASE_URL scheme 'mysql' is not supported" in result.stderr


def test_settings_refuse_salesforce_enabled_without_credentials() -> None:
    result = _load_settings(DEBUG="1", SALESFORCE_ENABLED="1")

    assert result.returncode != 0
    assert "SALESFORCE_ENABLED is on but no credentials are set" in result.stderr

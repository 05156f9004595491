"""Settings come from the environment, with loud errors for what a server is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_settings(tmp_path, show="s.DATABASES['default']['ENGINE']", **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}
    }
    clean.update(DATA_DIR=str(tmp_path / "data"), STATIC_ROOT=str(tmp_path / "static"), **env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sco_annotate.settings as s; print({show})",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_embedded_default_is_sqlite_with_a_generated_key_kept_in_the_data_folder(tmp_path):
    result = _load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"
    key_file = tmp_path / "data" / "secret_key"
    key = key_file.read_text()
    assert len(key) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert _load_settings(tmp_path).returncode == 0
    assert key_file.read_text() == key


def test_server_without_secret_key_stops_with_a_message(tmp_path):
    result = _load_settings(tmp_path, DATABASE_URL="postgres://u@127.0.0.1/db", ALLOWED_HOSTS="x")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_server_without_allowed_hosts_stops_with_a_message(tmp_path):
    result = _load_settings(tmp_path, DATABASE_URL="postgres://u@127.0.0.1/db", SECRET_KEY="k")
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    result = _load_settings(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1/db",
        SECRET_KEY_FILE=str(secret),
        ALLOWED_HOSTS="x",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_postgresql_prepares_statements_unless_a_pooler_forbids_it(tmp_path):
    server = {"DATABASE_URL": "postgres://u@127.0.0.1/db", "SECRET_KEY": "k", "ALLOWED_HOSTS": "x"}
    options = "s.DATABASES['default'].get('OPTIONS', {})"
    result = _load_settings(tmp_path, show=options, **server)
    assert result.stdout.strip() == "{'server_side_binding': True, 'prepare_threshold': 5}"
    result = _load_settings(tmp_path, show=options, DATABASE_PREPARED_STATEMENTS="0", **server)
    assert result.stdout.strip() == "{}", result.stderr
    # Options from the URL's query string stay.
    server["DATABASE_URL"] += "?sslmode=require"
    result = _load_settings(tmp_path, show=options, **server)
    assert result.stdout.strip() == (
        "{'sslmode': 'require', 'server_side_binding': True, 'prepare_threshold': 5}"
    ), result.stderr


def test_bad_values_are_named(tmp_path):
    assert "DEBUG must be true or false" in _load_settings(tmp_path, DEBUG="maybe").stderr
    result = _load_settings(
        tmp_path, DATABASE_URL="mysql://u@h/db", SECRET_KEY="k", ALLOWED_HOSTS="x"
    )
    assert "PostgreSQL and SQLite" in result.stderr
    result = _load_settings(tmp_path, DATABASE_URL="nonsense", SECRET_KEY="k", ALLOWED_HOSTS="x")
    assert "not a database URL" in result.stderr


def test_cache_is_local_memory_by_default_and_redis_from_cache_url(tmp_path):
    show = "s.CACHES['default']['BACKEND']"
    result = _load_settings(tmp_path, show=show)
    assert result.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache"
    result = _load_settings(tmp_path, show=show, CACHE_URL="redis://127.0.0.1:6379/0")
    assert result.stdout.strip() == "django.core.cache.backends.redis.RedisCache"
    result = _load_settings(tmp_path, show=show, CACHE_URL="memcached://x")
    assert result.returncode != 0
    assert "CACHE_URL must be a Redis URL" in result.stderr

"""Production settings fail loudly instead of running with insecure defaults."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_settings(*, show="settings.DEBUG", **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print({show})",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_missing_secret_key_in_production_is_refused():
    result = load_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_is_off_unless_asked_for():
    result = load_settings(SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_malformed_boolean_fails_loudly():
    result = load_settings(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_persistent_database_connections_are_checked_before_each_request():
    # A connection the database dropped is replaced instead of failing the next request (bench/load_bench.py).
    result = load_settings(DEBUG="1", CONN_MAX_AGE="60", show='settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_deploy_check_is_clean_with_production_variables():
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DEBUG="0",
        SECRET_KEY="k" * 20 + "-a-long-random-production-secret-value-0123456789",
        ALLOWED_HOSTS="uythac.example",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_hashes_passwords_with_pbkdf2_whatever_the_tests_use():
    # The test suite swaps in a fast hasher (tests/conftest.py); the settings a server loads keep Django's strong one.
    result = load_settings(
        DEBUG="0", SECRET_KEY="x" * 50,
        show='__import__("django.contrib.auth.hashers", fromlist=["get_hasher"]).get_hasher().algorithm',
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pbkdf2_sha256"


def test_the_tests_use_a_fast_hasher():
    from django.contrib.auth.hashers import get_hasher

    assert get_hasher().algorithm == "md5"

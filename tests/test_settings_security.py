"""The settings as a deployment and a newcomer meet them: secure outside DEBUG, and the README's
commands working beside `make run` without exporting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What the README documents for production, with a throwaway key.
PRODUCTION = {
    "SECRET_KEY": "k3Yq9Zx2-Pn7Lw4Rt8Vb1Mc6Hs0Jd5Gf3Ka9Ue2Wo7Iy4Tr1Ep8Qz6Xn0Cv5Bm2Lj",
    "ALLOWED_HOSTS": "control-plane.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def _manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "SECRET_KEY", "DEBUG", "SECURE_", "RUN_DIR"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean
        | {
            "RUN_DIR": str(tmp_path / "run"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CELERY_BROKER_URL": "memory://",
        }
        | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_documented_production_settings(tmp_path):
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_outside_debug_cookies_are_secure_and_hsts_is_on(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)"
    )
    result = _manage("shell", "-c", script, env={"SECRET_KEY": "x" * 60}, tmp_path=tmp_path)
    assert result.stdout.split()[-3:] == ["True", "True", "True"], result.stderr
    plain_http = _manage(
        "shell",
        "-c",
        script,
        env={"SECRET_KEY": "x" * 60, "SECURE_COOKIES": "false"},
        tmp_path=tmp_path,
    )
    assert plain_http.stdout.split()[-3:] == ["False", "False", "False"], plain_http.stderr


def test_without_a_secret_key_a_server_command_refuses_to_start(tmp_path):
    result = _manage("check", env={}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_readme_commands_work_beside_make_run_without_exporting_anything(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "secret_key").write_text("a-secret-written-by-make-run-" + "x" * 40)
    assert _manage("migrate", "--no-input", env={}, tmp_path=tmp_path).returncode == 0
    created = _manage(
        "createsuperuser",
        "--no-input",
        "--username",
        "root",
        "--email",
        "root@example.com",
        env={"DJANGO_SUPERUSER_PASSWORD": "a-long-enough-password"},
        tmp_path=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    key = _manage("create_api_key", "root", env={}, tmp_path=tmp_path)
    assert key.returncode == 0, key.stderr
    assert "cpk_" in key.stdout


@pytest.mark.parametrize("args", [("simulate_scaling", "--help"), ("help",)])
def test_commands_that_sign_nothing_need_no_secret_key(tmp_path, args):
    result = _manage(*args, env={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr

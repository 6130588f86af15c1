"""The image's recipe, checked without a builder: its stages, its user, that it installs what the
code imports, and that the commands its entrypoint runs exist. Where a Docker daemon answers,
the image is also built and its web role probed."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from django.conf import settings

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "scripts" / "container-entrypoint.sh"
APP_SOURCES = ("control_plane", "endpoints", "tenants", "scaling", "frontend", "manage.py")
DOTTED_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "python3-dev", "libpq-dev", "cargo")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            image, _, name = arguments.partition(" AS ")
            current = name.strip()
            stages[current] = [("FROM", image.strip())]
        elif current is not None:
            stages[current].append((instruction, arguments))
    return stages


def _runtime_packages() -> set[str]:
    """The distributions the builder stage installs."""
    (install,) = [
        arguments
        for instruction, arguments in _stages()["builder"]
        if instruction == "RUN" and "pip install" in arguments
    ]
    words = shlex.split(install)
    names = [word for word in words[words.index("install") + 1 :] if not word.startswith("-")]
    names = [name for name in names if not name.endswith("requirements.txt")]
    return {re.split(r"[\[=<>]", name)[0].lower().replace("_", "-") for name in names}


def _third_party_imports() -> set[str]:
    """Top-level modules the app imports, in code or by a dotted name in a string."""
    modules = set()
    for source in APP_SOURCES:
        path = ROOT / source
        for file in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
                elif (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and DOTTED_PATH.match(node.value)
                    and importlib.util.find_spec(node.value.split(".")[0]) is not None
                ):
                    # Loaded by name: INSTALLED_APPS, MIDDLEWARE, AUTHENTICATION_BACKENDS,
                    # include("package.urls"), storages.
                    modules.add(node.value.split(".")[0])
    local = {Path(source).stem for source in APP_SOURCES}
    return {name for name in modules if name not in sys.stdlib_module_names and name not in local}


def test_two_stages_and_the_final_one_has_no_build_tools():
    stages = _stages()
    assert list(stages) == ["builder", "runtime"]
    arg = dict(_instructions()).get("ARG", "")
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+", arg), arg
    assert "@sha256:<digest>" in DOCKERFILE.read_text()  # how to pin the digest is written down
    for stage in stages.values():
        assert stage[0] == ("FROM", "${PYTHON_IMAGE}")
    runtime = " ".join(arguments for instruction, arguments in stages["runtime"])
    assert "pip install" not in runtime
    assert "apt-get install" not in runtime
    for tool in BUILD_TOOLS:
        assert not re.search(rf"(^|\s){re.escape(tool)}(\s|$)", runtime), tool
    copies = [arguments for instruction, arguments in stages["runtime"] if instruction == "COPY"]
    assert copies
    assert all(arguments.startswith("--from=builder") for arguments in copies)


def test_the_final_stage_runs_as_uid_10001():
    runtime = _stages()["runtime"]
    users = [arguments for instruction, arguments in runtime if instruction == "USER"]
    assert users == ["10001:10001"]
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert [instruction for instruction, _ in runtime][-4:] == [
        "USER",
        "EXPOSE",
        "ENTRYPOINT",
        "CMD",
    ]


def test_static_files_are_collected_with_hashed_names_at_build():
    builder = " ".join(arguments for instruction, arguments in _stages()["builder"])
    assert "STATIC_MANIFEST=true" in builder
    assert "collectstatic --no-input" in builder
    env = dict(
        item.split("=", 1)
        for instruction, arguments in _stages()["runtime"]
        if instruction == "ENV"
        for item in arguments.split()
    )
    assert env["STATIC_MANIFEST"] == "true"
    assert env["DJANGO_SETTINGS_MODULE"] == "control_plane.settings"


def test_the_image_installs_a_package_for_every_import_of_the_app():
    installed = _runtime_packages()
    providers = {
        module: {name.lower().replace("_", "-") for name in names}
        for module, names in packages_distributions().items()
    }
    missing = {
        module: providers.get(module)
        for module in _third_party_imports()
        if not providers.get(module, set()) & installed
    }
    assert not missing, f"add these to the Dockerfile's pip install: {missing}"
    # Loaded by name, not imported: the PostgreSQL driver, the Redis transport, the server and
    # the static files middleware.
    assert {"psycopg", "redis", "gunicorn", "whitenoise"} <= installed
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    # Test and development tools stay out of the image.
    assert not installed & {"pytest", "playwright", "ruff", "schemathesis", "helm-python-sdk"}


def test_every_pinned_package_of_the_image_is_in_requirements():
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert _runtime_packages() <= pinned


def test_the_entrypoint_roles_run_commands_that_exist():
    assert os.access(ENTRYPOINT, os.X_OK)
    entry = dict(_instructions())
    assert entry["ENTRYPOINT"] == '["/app/scripts/container-entrypoint.sh"]'
    assert entry["CMD"] == '["web"]'
    script = re.sub(r"\\\n\s*", " ", ENTRYPOINT.read_text())
    commands = {
        role: line.strip().removeprefix("exec ")
        for role, line in re.findall(r"^\s+(\w+)\)\n\s+(?:#.*\n\s+)*(exec .*)$", script, re.M)
    }
    assert set(commands) == {"web", "worker", "beat", "manage"}
    web = shlex.split(commands["web"])
    assert web[0] == "gunicorn"
    config = importlib.import_module(web[web.index("--config") + 1].removeprefix("python:"))
    module, _, attribute = config.wsgi_app.partition(":")
    assert importlib.util.find_spec(module) is not None
    assert attribute == "application"
    assert config.workers == settings.GUNICORN_WORKERS
    assert config.threads == settings.GUNICORN_THREADS
    for role in ("worker", "beat"):
        words = shlex.split(commands[role])
        assert words[:3] == ["celery", "-A", "control_plane"]
        assert words[3] == role
        assert importlib.import_module("control_plane").celery_app.main == "control_plane"
    assert "celery,provisioning,analysis" in commands["worker"]
    assert shlex.split(commands["manage"])[:2] == ["python", "manage.py"]
    assert (ROOT / "manage.py").is_file()
    for tool in ("gunicorn", "celery"):
        assert shutil.which(tool, path=str(Path(sys.executable).parent)), tool


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


@pytest.mark.integration
@pytest.mark.skipif(
    not _docker_answers(), reason="no Docker daemon: `make image` prints the command"
)
def test_the_image_builds_and_its_web_role_answers(tmp_path):
    tag = "llm-control-plane:test"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1200)
    port = free_port()
    container = subprocess.run(
        ["docker", "run", "--detach", "--rm", "--read-only", "--tmpfs", "/tmp",
         "--tmpfs", "/run/prometheus:uid=10001", "-e", "SECRET_KEY=image-test",
         "-e", "DATABASE_URL=sqlite:////tmp/db.sqlite3", "-e", "ALLOWED_HOSTS=127.0.0.1",
         "-p", f"127.0.0.1:{port}:8000", tag],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as reply:
                    assert reply.headers["Server"] == "gunicorn"
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(1)
    finally:
        subprocess.run(["docker", "stop", container], capture_output=True)

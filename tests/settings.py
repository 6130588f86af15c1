"""Settings for the test session: the project's settings with test-only conveniences.

The database and broker addresses are filled in by tests/conftest.py once it has started the
throwaway PostgreSQL and Redis servers.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# One run folder per pytest-xdist worker (gw0, gw1): keys, metrics and sockets are not shared.
os.environ.setdefault(
    "RUN_DIR",
    "-".join(filter(None, ["/tmp/control-plane-test-run", os.environ.get("PYTEST_XDIST_WORKER")])),
)
# The live servers of the browser tests speak plain HTTP.
os.environ.setdefault("SECURE_COOKIES", "false")

from control_plane.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The API takes JSON only; test clients send it unless a test says otherwise.
REST_FRAMEWORK = {**REST_FRAMEWORK, "TEST_REQUEST_DEFAULT_FORMAT": "json"}  # noqa: F405
# Tests serve static files through the finders, never a collected STATIC_ROOT; WhiteNoise warns
# once per process when the folder does not exist.
os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405

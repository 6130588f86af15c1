import pytest
from rest_framework.test import APIClient

from control_plane.audit import signing
from tests.world import build_world


@pytest.fixture
def audit_key(settings, tmp_path):
    """A signing key and a checkpoint directory of the test's own."""
    path = tmp_path / "keys" / "audit-signing.pem"
    signing.generate_key_file(path)
    settings.AUDIT_SIGNING_KEY_FILE = str(path)
    settings.AUDIT_SIGNING_KEY_GENERATE = False
    settings.AUDIT_CHECKPOINT_DIRECTORY = str(tmp_path / "checkpoints")
    return path


@pytest.fixture
def other_key(tmp_path):
    path = tmp_path / "keys" / "other.pem"
    signing.generate_key_file(path)
    return path


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def client_for(world):
    def make(role: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[role]}")
        return client

    return make

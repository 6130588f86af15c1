import pytest

from control_plane.audit import signing


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

import pytest
from django.test import Client

from tests.world import build_world


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def signed_in(world):
    """A console client signed in as one of the world's users, by role."""

    def make(role: str) -> Client:
        client = Client()
        client.force_login(world.users[role])
        return client

    return make

import pytest
from rest_framework.test import APIClient

from tests.world import build_world


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def client_for(world):
    def make(role: str | None) -> APIClient:
        client = APIClient()
        if role is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[role]}")
        return client

    return make

"""Schemathesis against /api/schema/: no 5xx, and every response matches the schema."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from control_plane.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def keep_test_connection_open():
    """Django closes the connection after each WSGI request, which would end the test's
    transaction; its own test client avoids that the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_api_never_fails_and_always_answers_within_its_schema(
    case, world, keep_test_connection_open, prometheus_session, settings
):
    # A real, empty Prometheus: the scaling comparison answers 409 (no traffic) rather than
    # the 503 of an unconfigured one, which the no-5xx check would count as a failure.
    settings.PROMETHEUS_URL = prometheus_session.url
    token = world.keys["platform_admin"]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )


write_routes = schema.include(method=["POST", "PUT", "PATCH", "DELETE"])


@pytest.mark.django_db
@write_routes.parametrize()
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_write_routes_never_fail_under_a_larger_budget(
    case, world, keep_test_connection_open, prometheus_session, settings
):
    """Writes are where bad input used to reach the database: a larger budget there."""
    settings.PROMETHEUS_URL = prometheus_session.url
    token = world.keys["platform_admin"]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )

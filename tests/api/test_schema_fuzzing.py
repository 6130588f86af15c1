"""Schemathesis against /api/schema/: no 5xx, and every response matches the schema."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from control_plane.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


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
    case.call_and_validate(checks=CHECKS)


# Sequences of valid calls: invalid input is what the stateless runs above are for, and a
# sequence only reaches deep when its creates succeed.
stateful_schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
stateful_schema.config.generation.update(modes=[GenerationMode.POSITIVE])

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
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db
def test_sequences_of_linked_calls_never_fail_and_stay_within_the_schema(
    world, keep_test_connection_open, prometheus_session, settings
):
    """The stateful run: schemathesis links operations through the values responses carry
    (a created tenant's slug into its endpoints, an endpoint's name into its rollouts...) and
    drives sequences of them, so writes meet the state earlier writes left."""
    settings.PROMETHEUS_URL = prometheus_session.url
    token = world.keys["platform_admin"]
    seen: list[tuple[str, str, int]] = []

    class Workflow(stateful_schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def setup(self):
            # Every scenario starts from the same database, or Hypothesis could not replay one.
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def after_call(self, response, case):
            seen.append((case.method, case.path, response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # The conformance checks of the stateless runs, plus the two that need a sequence.
            # Not the authentication probes: every call here carries a valid key on purpose.
            case.validate_response(
                response,
                checks=[*CHECKS, ensure_resource_availability, use_after_free],
                transport_kwargs=kwargs,
            )

    Workflow.run(
        settings=hypothesis_settings(
            max_examples=25,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
    # Not vacuous: sequences created objects and then reached them through their links.
    created = {path for method, path, status in seen if method == "POST" and status == 201}
    reached = {path for method, path, status in seen if "{" in path and 200 <= status < 300}
    assert created, seen
    assert reached, seen

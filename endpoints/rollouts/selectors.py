"""Reads of rollouts, scoped through their endpoint (which `endpoint_for` scopes to a tenant)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from control_plane.errors import NotFound
from endpoints.models import Endpoint, Rollout, RolloutCheck


def rollouts_of(*, endpoint: Endpoint) -> QuerySet[Rollout]:
    return Rollout.objects.filter(endpoint=endpoint).select_related(
        "endpoint__tenant",
        "from_revision__model_version",
        "from_revision__endpoint",
        "to_revision__model_version",
        "to_revision__endpoint",
    )


def rollout_for(*, endpoint: Endpoint, pk: int, with_checks: bool = False) -> Rollout:
    rollouts = rollouts_of(endpoint=endpoint)
    if with_checks:
        rollouts = rollouts.prefetch_related(
            Prefetch("checks", queryset=RolloutCheck.objects.order_by("number"))
        )
    rollout = rollouts.filter(pk=pk).first()
    if rollout is None:
        raise NotFound(f"No rollout {pk} of endpoint {endpoint.name!r}.")
    return rollout


def active_rollout(*, endpoint: Endpoint) -> Rollout | None:
    return rollouts_of(endpoint=endpoint).filter(state__in=Rollout.ACTIVE_STATES).first()

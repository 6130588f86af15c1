"""Reads of the catalog and endpoints, scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from control_plane.auth.principal import Principal
from control_plane.errors import NotFound
from endpoints.models import Endpoint, ModelVersion, Revision, Rollout
from tenants.models import Tenant
from tenants.resources import Resources


def per_replica_need(model_version: ModelVersion) -> Resources:
    mig = {model_version.mig_profile: 1} if model_version.mig_profile else {}
    return Resources(
        gpus=model_version.gpus_per_replica,
        mig_slices=mig,
        cpu_millicores=model_version.cpu_millicores,
        memory_bytes=model_version.memory_bytes,
    )


def endpoint_commitment(
    *, revisions: list[Revision] | list[ModelVersion], max_replicas: int
) -> Resources:
    """One endpoint at its maximum scale: every revision in service may reach `max_replicas`
    (a canary has its own replicas next to the stable ones)."""
    total = Resources(endpoints=1)
    for item in revisions:
        version = item.model_version if isinstance(item, Revision) else item
        total = total + per_replica_need(version).scaled(max_replicas)
    return total


def committed_by_endpoints(*, tenant: Tenant, exclude: Endpoint | None = None) -> Resources:
    endpoints = (
        Endpoint.objects.filter(tenant=tenant)
        .select_related(
            "scaling_policy",
            "stable_revision__model_version",
            "canary_revision__model_version",
            "retiring_revision__model_version",
        )
        .order_by("pk")
    )
    if exclude is not None:
        endpoints = endpoints.exclude(pk=exclude.pk)
    total = Resources()
    for endpoint in endpoints:
        total = total + endpoint_commitment(
            revisions=endpoint.revisions_in_service(),
            max_replicas=endpoint.scaling_policy.max_replicas,
        )
    return total


def model_versions_visible_to(*, actor: Principal) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.select_related("tenant")
    if actor.reads_all_tenants:
        return versions
    return versions.filter(Q(tenant__isnull=True) | Q(tenant__in=list(actor.tenant_roles)))


def model_version_for(*, actor: Principal, pk: int) -> ModelVersion:
    version = model_versions_visible_to(actor=actor).filter(pk=pk).first()
    if version is None:
        raise NotFound(f"No model version {pk}.")
    return version


def endpoints_of(*, tenant: Tenant) -> QuerySet[Endpoint]:
    active_rollouts = Prefetch(
        "rollouts",
        queryset=Rollout.objects.filter(state__in=Rollout.ACTIVE_STATES).select_related(
            "to_revision__endpoint"
        ),
        to_attr="active_rollouts",
    )
    return (
        Endpoint.objects.filter(tenant=tenant)
        .prefetch_related(active_rollouts)
        .select_related(
            "tenant",
            "scaling_policy",
            "stable_revision__model_version",
            "stable_revision__endpoint",
            "canary_revision__model_version",
            "canary_revision__endpoint",
            "retiring_revision__model_version",
            "retiring_revision__endpoint",
        )
    )


def endpoint_for(*, tenant: Tenant, name: str) -> Endpoint:
    endpoint = endpoints_of(tenant=tenant).filter(name=name).first()
    if endpoint is None:
        raise NotFound(f"No endpoint {name!r} in tenant {tenant.slug!r}.")
    return endpoint

"""Reads of the catalog and endpoints, scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from control_plane.auth.principal import Principal
from control_plane.errors import NotFound
from endpoints.models import Endpoint, ModelVersion, Revision, Rollout
from tenants.models import Tenant
from tenants.resources import Resources

# The model version fields `per_replica_need` reads.
_NEED_FIELDS = ("gpus_per_replica", "mig_profile", "cpu_millicores", "memory_bytes")


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
    """What the tenant's endpoints commit at their maximum scale (deleting ones included, until
    the worker removes them).

    Admission runs this with the tenant row locked, so every write of the tenant waits for it:
    two narrow queries (the endpoints' maximum scale and revision ids, then those revisions'
    model versions), no model instances for the endpoints. A single `select_related` over the
    three revisions and their model versions costs PostgreSQL several milliseconds of planning
    alone (eight joined tables), more than the rows themselves.
    """
    endpoints = Endpoint.objects.filter(tenant=tenant).order_by()
    if exclude is not None:
        endpoints = endpoints.exclude(pk=exclude.pk)
    rows = list(
        endpoints.values_list(
            "scaling_policy__max_replicas",
            "stable_revision_id",
            "canary_revision_id",
            "retiring_revision_id",
        )
    )
    revision_ids = {pk for _, *in_service in rows for pk in in_service if pk is not None}
    versions = {
        revision.pk: revision.model_version
        for revision in Revision.objects.filter(pk__in=revision_ids)
        .select_related("model_version")
        .only(*(f"model_version__{name}" for name in _NEED_FIELDS), "model_version_id")
        .order_by()
    }
    total = Resources()
    for max_replicas, *in_service in rows:
        total = total + endpoint_commitment(
            revisions=[versions[pk] for pk in in_service if pk is not None],
            max_replicas=max_replicas,
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


_ACTIVE_ROLLOUT_FIELDS = (
    "id",
    "endpoint",
    "state",
    "step",
    "weight",
    "to_revision",
    "to_revision__number",
    "to_revision__endpoint",
    "to_revision__endpoint__name",
)


def endpoints_of(*, tenant: Tenant) -> QuerySet[Endpoint]:
    """The tenant's endpoints, ordered by name, with everything the API and the console show.

    A constant number of queries for any number of rows: the endpoints with their tenant and
    scaling policy, then one query per revision slot in use (stable; canary and retiring only
    when some endpoint has one) and one for the active rollouts. Joining the three revisions and
    their model versions into the first query instead costs PostgreSQL more to plan (eight
    tables) than these queries cost to run.
    """
    revisions = Revision.objects.select_related("model_version", "endpoint")
    active_rollouts = Prefetch(
        "rollouts",
        # Only what the API and the console show of a rollout in progress: the rollout's other
        # columns (conditions, analysis settings, the reconcile bookkeeping) would only cost
        # compiling and decoding on every read.
        queryset=Rollout.objects.filter(state__in=Rollout.ACTIVE_STATES)
        .select_related("to_revision__endpoint")
        .only(*_ACTIVE_ROLLOUT_FIELDS),
        to_attr="active_rollouts",
    )
    return (
        Endpoint.objects.filter(tenant=tenant)
        # One tenant: its slug, the first key of the model's ordering, is the same on every row.
        .order_by("name")
        .select_related("tenant", "scaling_policy")
        .prefetch_related(
            Prefetch("stable_revision", queryset=revisions),
            Prefetch("canary_revision", queryset=revisions),
            Prefetch("retiring_revision", queryset=revisions),
            active_rollouts,
        )
    )


def endpoint_for(*, tenant: Tenant, name: str) -> Endpoint:
    # (tenant, name) is unique: no ORDER BY ... LIMIT 1 needed.
    endpoint = next(iter(endpoints_of(tenant=tenant).filter(name=name)), None)
    if endpoint is None:
        raise NotFound(f"No endpoint {name!r} in tenant {tenant.slug!r}.")
    return endpoint

"""Reads of the catalog and endpoints, scoped to what the caller may see."""

from __future__ import annotations

from functools import partial

from django.db.models import F, FilteredRelation, Q, QuerySet

from control_plane.auth.principal import Principal
from control_plane.compiled_queries import INTEGER_LIST, CompiledQuery, CompiledRows
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
    one narrow query, a row per endpoint and revision in service, no model instances. One
    statement, so one snapshot: the reconciler removes endpoints without the tenant lock. Joining
    each revision slot and its model version instead (eight tables) costs PostgreSQL several
    milliseconds of planning alone, more than the rows.
    """
    in_service = FilteredRelation(
        "revisions",
        condition=Q(revisions__pk=F("stable_revision"))
        | Q(revisions__pk=F("canary_revision"))
        | Q(revisions__pk=F("retiring_revision")),
    )
    endpoints = Endpoint.objects.filter(tenant=tenant).order_by()
    if exclude is not None:
        endpoints = endpoints.exclude(pk=exclude.pk)
    rows = endpoints.annotate(in_service=in_service).values_list(
        "pk",
        "scaling_policy__max_replicas",
        "in_service__pk",
        *(f"in_service__model_version__{name}" for name in _NEED_FIELDS),
    )
    max_replicas: dict[int, int] = {}
    versions: dict[int, list[ModelVersion]] = {}
    for pk, maximum, revision, *need in rows:
        max_replicas[pk] = maximum
        revisions = versions.setdefault(pk, [])
        if revision is not None:  # None: the endpoint has no revision in service (LEFT JOIN)
            revisions.append(ModelVersion(**dict(zip(_NEED_FIELDS, need, strict=True))))
    total = Resources()
    for pk, maximum in max_replicas.items():
        total = total + endpoint_commitment(revisions=versions[pk], max_replicas=maximum)
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


# The endpoint's foreign keys to the revisions that may hold pods.
_REVISION_SLOTS = tuple(
    Endpoint._meta.get_field(name)
    for name in ("stable_revision", "canary_revision", "retiring_revision")
)


def _active_rollouts_shown() -> QuerySet[Rollout]:
    """Rollouts in progress, with only what the API and the console show of them: the other
    columns (conditions, analysis settings, the reconcile bookkeeping) would only cost compiling
    and decoding on every read."""
    return (
        Rollout.objects.filter(state__in=Rollout.ACTIVE_STATES)
        .select_related("to_revision__endpoint")
        .only(*_ACTIVE_ROLLOUT_FIELDS)
        # At most one active rollout per endpoint (a constraint): the model's ordering would
        # only join the endpoint and its tenant to sort.
        .order_by()
    )


def active_rollout_of(endpoint: Endpoint) -> Rollout | None:
    """The endpoint's rollout in progress, if any: as `endpoints_of` and `endpoint_for` loaded it
    (one query per page, not per endpoint), or read now for an endpoint loaded another way."""
    active = getattr(endpoint, "active_rollouts", None)
    if active is None:
        active = list(
            endpoint.rollouts.filter(state__in=Rollout.ACTIVE_STATES).select_related(
                "to_revision__endpoint"
            )
        )
    return active[0] if active else None


# The fixed-shape queries of the endpoint list and `endpoint_for`, compiled once
# (control_plane/compiled_queries.py): Django compiling them again on every read was a third of
# the list's CPU (docs/benchmarks/api.md).
_TENANT_ENDPOINTS: CompiledQuery[Endpoint] = CompiledQuery(
    lambda tenant_id: (
        Endpoint.objects.filter(tenant_id=tenant_id)
        .order_by("name")
        .select_related("scaling_policy")
    ),
    tenant_id=int,
)
_ENDPOINT_NAMED: CompiledQuery[Endpoint] = CompiledQuery(
    lambda tenant_id, name: Endpoint.objects.filter(tenant_id=tenant_id, name=name).select_related(
        "scaling_policy"
    ),
    tenant_id=int,
    name=str,
)
_ACTIVE_ROLLOUTS_OF: CompiledQuery[Rollout] = CompiledQuery(
    lambda endpoint_ids: _active_rollouts_shown().filter(endpoint_id__in=endpoint_ids),
    endpoint_ids=INTEGER_LIST,
)
_REVISIONS_WITH_VERSIONS: CompiledQuery[Revision] = CompiledQuery(
    # order_by(): the model's ordering joins the endpoint and its tenant to sort.
    lambda ids: Revision.objects.filter(pk__in=ids).select_related("model_version").order_by(),
    ids=INTEGER_LIST,
)
_ENDPOINT_TENANT = Endpoint._meta.get_field("tenant")
_ROLLOUT_ENDPOINT = Rollout._meta.get_field("endpoint")
_REVISION_ENDPOINT = Revision._meta.get_field("endpoint")


def endpoints_of(*, tenant: Tenant) -> CompiledRows[Endpoint]:
    """The tenant's endpoints ordered by name, each loaded with what the API and the console
    show: its scaling policy, its active rollout and its revisions in service with their model
    versions, in three more queries per slice whatever its length (none for an empty one).
    Sliced like a queryset, so Django's paginator takes it."""
    return CompiledRows(_TENANT_ENDPOINTS, finish=partial(_loaded, tenant), tenant_id=tenant.pk)


def endpoint_for(*, tenant: Tenant, name: str) -> Endpoint:
    """The tenant's endpoint, loaded as a row of `endpoints_of`."""
    # (tenant, name) is unique: no ORDER BY ... LIMIT 1 needed.
    endpoints = _ENDPOINT_NAMED(tenant_id=tenant.pk, name=name)
    if not endpoints:
        raise NotFound(f"No endpoint {name!r} in tenant {tenant.slug!r}.")
    return _loaded(tenant, endpoints)[0]


def _loaded(tenant: Tenant, endpoints: list[Endpoint]) -> list[Endpoint]:
    """Set each endpoint's tenant to the caller's instance (as `tenant.endpoints` would), and
    load its active rollouts and its revisions in service."""
    if not endpoints:
        return endpoints
    by_pk = {endpoint.pk: endpoint for endpoint in endpoints}
    for endpoint in endpoints:
        _ENDPOINT_TENANT.set_cached_value(endpoint, tenant)
        endpoint.active_rollouts = []
    for rollout in _ACTIVE_ROLLOUTS_OF(endpoint_ids=list(by_pk)):
        owner = by_pk[rollout.endpoint_id]
        _ROLLOUT_ENDPOINT.set_cached_value(rollout, owner)
        owner.active_rollouts.append(rollout)
    _load_revisions_in_service(by_pk)
    return endpoints


def _load_revisions_in_service(endpoints: dict[int, Endpoint]) -> None:
    """The stable, canary and retiring revision of every endpoint, with their model versions, in
    one query (none when no endpoint has one).

    A `Prefetch` per slot costs three queries, and Django compiles the full SELECT of a slot's
    prefetch even when no endpoint fills it (most endpoints have no canary). Joining the
    revisions into the endpoints' query instead costs PostgreSQL more to plan (eight tables)
    than these queries cost to run. A revision's endpoint is the endpoint whose slot holds it,
    so it is set here rather than joined again (`kubernetes_name` reads its name).
    """
    ids = {getattr(e, slot.attname) for e in endpoints.values() for slot in _REVISION_SLOTS}
    ids.discard(None)
    revisions: dict[int, Revision] = {}
    if ids:
        revisions = {r.pk: r for r in _REVISIONS_WITH_VERSIONS(ids=sorted(ids))}
    for revision in revisions.values():
        if owner := endpoints.get(revision.endpoint_id):
            _REVISION_ENDPOINT.set_cached_value(revision, owner)
    for endpoint in endpoints.values():
        for slot in _REVISION_SLOTS:
            slot.set_cached_value(endpoint, revisions.get(getattr(endpoint, slot.attname)))

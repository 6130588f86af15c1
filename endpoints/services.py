"""Every write to the model catalog and to endpoints, with quota admission."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F

from control_plane.audit.services import diff, record
from control_plane.auth.permissions import require
from control_plane.auth.principal import Principal
from control_plane.errors import Conflict, NotFound, QuotaExceeded, ValidationFailed, from_django
from control_plane.scheduling import reconcile_on_commit
from control_plane.transactions import retry_on_conflict
from endpoints.catalog import ModelVersionSpec, validate_spec
from endpoints.gpu_pools import pool_for
from endpoints.models import Endpoint, ModelVersion, Revision
from endpoints.selectors import committed_by_endpoints, endpoint_commitment
from scaling.models import ScalingPolicy
from scaling.policy import ScalingChange
from scaling.services import scaling_policy_write
from scaling.spec import ScalingSpec
from tenants.models import Tenant
from tenants.resources import shortfalls
from tenants.selectors import quota_limit

RECONCILE_ENDPOINT = "endpoints.reconcile_endpoint"


def version_target(version: ModelVersion | ModelVersionSpec) -> str:
    return f"{version.name}:{version.version}"


def _require_catalog_writer(actor: Principal, tenant: Tenant | None, target: str) -> None:
    if tenant is None:
        allowed, reason = actor.is_platform_admin, "Only platform admins add platform-wide models."
    else:
        allowed = actor.has_tenant_role(tenant, "deployer")
        reason = "Only the tenant's deployers and admins change its private models."
    require(
        allowed,
        actor=actor,
        action="modelversion.write",
        target_type="model_version",
        target_id=target,
        tenant_slug=tenant.slug if tenant else "",
        reason=reason,
    )


@retry_on_conflict
def model_version_create(
    *, actor: Principal, tenant: Tenant | None, spec: ModelVersionSpec
) -> ModelVersion:
    _require_catalog_writer(actor, tenant, version_target(spec))
    validate_spec(spec)
    pool_for(gpus=spec.gpus_per_replica, mig_profile=spec.mig_profile)
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                tenant=tenant, created_by=actor.label, **spec.as_fields()
            )
            record(
                actor=actor,
                action="modelversion.create",
                target_type="model_version",
                target_id=version_target(spec),
                tenant_slug=tenant.slug if tenant else "",
                changes=diff({}, spec.as_fields()),
            )
    except IntegrityError:
        raise Conflict(
            f"Model version {version_target(spec)} already exists in this catalog.",
            field="version",
        ) from None
    return version


def _spec_of(version: ModelVersion) -> ModelVersionSpec:
    return ModelVersionSpec(
        **{name: getattr(version, name) for name in ModelVersionSpec.__dataclass_fields__}
    )


@retry_on_conflict
def model_version_update(
    *, actor: Principal, version: ModelVersion, changes: dict[str, Any]
) -> ModelVersion:
    """Edit an unused model version. Once an endpoint uses it, it is immutable: publish a new
    version instead, so what runs is always what the catalog says."""
    _require_catalog_writer(actor, version.tenant, version_target(version))
    before = _spec_of(version)
    after = ModelVersionSpec(**(before.as_fields() | changes))
    validate_spec(after)
    pool_for(gpus=after.gpus_per_replica, mig_profile=after.mig_profile)
    changed = diff(before.as_fields(), after.as_fields())
    if not changed:
        return version
    try:
        with transaction.atomic():
            locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
            if locked.revisions.exists():
                raise Conflict(
                    f"{version_target(version)} is used by an endpoint and cannot change; "
                    "publish a new version instead."
                )
            ModelVersion.objects.filter(pk=version.pk).update(**after.as_fields())
            record(
                actor=actor,
                action="modelversion.update",
                target_type="model_version",
                target_id=version_target(version),
                tenant_slug=version.tenant.slug if version.tenant else "",
                changes=changed,
            )
    except IntegrityError:
        raise Conflict(f"Model version {version_target(after)} already exists.", field="version")
    version.refresh_from_db()
    return version


@retry_on_conflict
def model_version_deprecate(*, actor: Principal, version: ModelVersion) -> ModelVersion:
    """Endpoints already using it keep running; new endpoints and rollouts refuse it."""
    _require_catalog_writer(actor, version.tenant, version_target(version))
    with transaction.atomic():
        deprecated = (
            ModelVersion.objects.filter(pk=version.pk)
            .exclude(state=ModelVersion.State.DEPRECATED)
            .update(state=ModelVersion.State.DEPRECATED)
        )
        if not deprecated:
            version.state = ModelVersion.State.DEPRECATED
            return version
        record(
            actor=actor,
            action="modelversion.deprecate",
            target_type="model_version",
            target_id=version_target(version),
            tenant_slug=version.tenant.slug if version.tenant else "",
            changes=diff(
                {"state": ModelVersion.State.ACTIVE}, {"state": ModelVersion.State.DEPRECATED}
            ),
        )
    version.state = ModelVersion.State.DEPRECATED
    return version


@retry_on_conflict
def model_version_delete(*, actor: Principal, version: ModelVersion) -> None:
    _require_catalog_writer(actor, version.tenant, version_target(version))
    with transaction.atomic():
        if Revision.objects.filter(model_version=version).exists():
            raise Conflict(
                f"{version_target(version)} is used by an endpoint; deprecate it instead."
            )
        if not ModelVersion.objects.filter(pk=version.pk).delete()[0]:
            raise NotFound(f"No model version {version_target(version)}.")
        record(
            actor=actor,
            action="modelversion.delete",
            target_type="model_version",
            target_id=version_target(version),
            tenant_slug=version.tenant.slug if version.tenant else "",
            changes=diff(_spec_of(version).as_fields(), {}),
        )


def check_usable_by(version: ModelVersion, tenant: Tenant) -> None:
    if version.tenant_id is not None and version.tenant_id != tenant.pk:
        raise ValidationFailed("No such model version in this catalog.", field="model_version")
    if version.state == ModelVersion.State.DEPRECATED:
        raise ValidationFailed(
            f"{version_target(version)} is deprecated and takes no new endpoints.",
            field="model_version",
        )
    if version.mig_profile and not tenant.quota.mig_slices.get(version.mig_profile):
        granted = ", ".join(sorted(p for p, n in tenant.quota.mig_slices.items() if n)) or "none"
        raise ValidationFailed(
            f"MIG profile {version.mig_profile} is not granted to tenant {tenant.slug} "
            f"(granted: {granted}).",
            field="model_version",
        )
    pool_for(gpus=version.gpus_per_replica, mig_profile=version.mig_profile)


def admit(
    *,
    tenant: Tenant,
    versions: list[ModelVersion],
    max_replicas: int,
    replacing: Endpoint | None,
) -> None:
    """Refuse unless the endpoint at its maximum scale fits what the quota leaves."""
    committed = committed_by_endpoints(tenant=tenant, exclude=replacing)
    request = endpoint_commitment(revisions=versions, max_replicas=max_replicas)
    missing = shortfalls(request=request, committed=committed, limit=quota_limit(tenant.quota))
    if missing:
        raise QuotaExceeded(
            f"Quota of tenant {tenant.slug} exceeded: "
            + "; ".join(shortfall.describe() for shortfall in missing)
            + f" (at max_replicas={max_replicas}).",
            field="scaling.max_replicas" if missing[0].resource != "endpoints" else None,
        )


def lock_tenant(tenant: Tenant) -> Tenant:
    """Admission reads the tenant's commitments and then adds to them; locking the tenant row
    serialises concurrent admissions so two requests cannot both take the last GPU.

    FOR NO KEY UPDATE, not FOR UPDATE: it excludes the other admissions all the same, but not
    the KEY SHARE locks of foreign-key checks on the tenant (an endpoint delete's, a membership
    insert's), which then never queue behind an admission
    (docs/decisions/0013-create-locks-late.md)."""
    locked = (
        Tenant.objects.select_for_update(of=("self",), no_key=True)
        .select_related("quota")
        .get(pk=tenant.pk)
    )
    if locked.state != Tenant.State.ACTIVE:
        raise Conflict(f"Tenant {tenant.slug} is {locked.state}; endpoints cannot change.")
    return locked


def require_endpoint_role(actor: Principal, tenant: Tenant, minimum: str, action: str, name: str):
    require(
        actor.has_tenant_role(tenant, minimum),
        actor=actor,
        action=action,
        target_type="endpoint",
        target_id=name,
        tenant_slug=tenant.slug,
        reason=f"Only the tenant's {minimum}s{' and admins' if minimum != 'admin' else ''} "
        f"may do this.",
    )


@retry_on_conflict
def endpoint_create(
    *,
    actor: Principal,
    tenant: Tenant,
    name: str,
    model_version: ModelVersion,
    scaling: ScalingSpec,
    served_model_name: str = "",
) -> Endpoint:
    require_endpoint_role(actor, tenant, "deployer", "endpoint.create", name)
    served_model_name = served_model_name or name
    candidate = Endpoint(tenant=tenant, name=name, served_model_name=served_model_name)
    try:
        candidate.full_clean(
            exclude=["tenant", "stable_revision", "canary_revision", "retiring_revision"]
        )
    except DjangoValidationError as error:
        raise from_django(error) from None
    check_usable_by(model_version, tenant)
    if Endpoint.objects.filter(tenant=tenant, name=name).exists():
        # A duplicate is a conflict whatever the quota would say (a concurrent one is caught by
        # the unique constraint at the INSERT below, before admission too).
        raise Conflict(f"Endpoint {name!r} already exists in {tenant.slug}.", field="name")
    try:
        with transaction.atomic():
            # The rows first, the tenant lock after them (docs/decisions/0013-create-locks-late.md):
            # only admission and the audit record wait for the tenant's other writes; rows that
            # nobody else can see yet hold up nobody.
            endpoint = Endpoint.objects.create(
                tenant=tenant, name=name, served_model_name=served_model_name
            )
            revision = Revision.objects.create(
                endpoint=endpoint, model_version=model_version, number=1
            )
            endpoint.stable_revision = revision
            endpoint.save(update_fields=["stable_revision"])
            endpoint.scaling_policy = scaling_policy_write(endpoint=endpoint, spec=scaling)
            reconcile_on_commit(RECONCILE_ENDPOINT, endpoint.pk, model=Endpoint)
            admit(
                tenant=lock_tenant(tenant),
                versions=[model_version],
                max_replicas=scaling.max_replicas,
                replacing=endpoint,
            )
            record(
                actor=actor,
                action="endpoint.create",
                target_type="endpoint",
                target_id=name,
                tenant_slug=tenant.slug,
                changes=diff(
                    {},
                    {
                        "served_model_name": endpoint.served_model_name,
                        "model_version": version_target(model_version),
                        "revision": revision.kubernetes_name,
                        "scaling": scaling.as_json(),
                    },
                ),
            )
    except IntegrityError:
        raise Conflict(f"Endpoint {name!r} already exists in {tenant.slug}.", field="name")
    return endpoint


@retry_on_conflict
def endpoint_update_scaling(
    *, actor: Principal, endpoint: Endpoint, change: ScalingChange
) -> Endpoint:
    """Change the scaling policy. `change` may be partial (a preset, some fields, schedule
    floors): it is applied to the policy as read inside this transaction, with the endpoint
    locked, so two concurrent changes of different fields both hold."""
    tenant = endpoint.tenant
    require_endpoint_role(actor, tenant, "deployer", "endpoint.update", endpoint.name)
    admitting = may_raise_max_replicas(endpoint, change)
    with transaction.atomic():
        locked = lock_tenant(tenant) if admitting else None
        lock_endpoint(endpoint)
        policy = ScalingPolicy.objects.select_for_update().get(endpoint=endpoint)
        before = policy.to_spec()
        after = change.apply(before)
        changes = diff(before.as_json(), after.as_json())
        if not changes:
            endpoint.scaling_policy = policy
            return endpoint
        if locked is not None:
            admit(
                tenant=locked,
                versions=[r.model_version for r in endpoint.revisions_in_service()],
                max_replicas=after.max_replicas,
                replacing=endpoint,
            )
        else:
            require_no_admission(tenant, before=before, after=after)
        policy = scaling_policy_write(endpoint=endpoint, spec=after)
        bump_endpoint_generation(endpoint)
        record(
            actor=actor,
            action="endpoint.update",
            target_type="endpoint",
            target_id=endpoint.name,
            tenant_slug=tenant.slug,
            changes={f"scaling.{key}": value for key, value in changes.items()},
        )
    # Answered from what the transaction wrote: a re-read after COMMIT can fail (the database
    # gone) although the change was saved.
    endpoint.scaling_policy = policy
    return endpoint


class ReadBeforeLockChanged(DatabaseError):
    """What a write read before its locks changed before it got them. SQLSTATE 40001, a
    serialization failure: `retry_on_conflict` runs the write again, which then reads anew."""

    sqlstate = "40001"


def may_raise_max_replicas(endpoint: Endpoint, change: ScalingChange) -> bool:
    """Whether a scaling change may raise the endpoint's maximum, read before any lock.

    Only a higher maximum commits more of the quota, so only such a change needs admission and
    the tenant lock (docs/decisions/0013-create-locks-late.md): lowering or retuning an endpoint
    then waits for no other write of the tenant. `require_no_admission` checks, under the
    endpoint's lock, that this answer still holds.
    """
    policy = ScalingPolicy.objects.filter(endpoint=endpoint).first()
    if policy is None:
        return True
    try:
        after = change.apply(policy.to_spec())
    except ValidationFailed:
        return True  # decided under the locks, on the policy as it then is
    return after.max_replicas > policy.max_replicas


def require_no_admission(tenant: Tenant, *, before: ScalingSpec, after: ScalingSpec) -> None:
    """The tenant checks of a scaling change that took no tenant lock, with the endpoint locked:
    the maximum did not rise after all, and the tenant may still change (a suspension that
    committed first is seen; one that commits later waits for this endpoint's row)."""
    if after.max_replicas > before.max_replicas:
        raise ReadBeforeLockChanged(
            f"the maximum replicas of an endpoint of {tenant.slug} changed before its lock"
        )
    state = Tenant.objects.filter(pk=tenant.pk).values_list("state", flat=True).first()
    if state != Tenant.State.ACTIVE:
        raise Conflict(f"Tenant {tenant.slug} is {state}; endpoints cannot change.")


def lock_endpoint(endpoint: Endpoint) -> Endpoint:
    """Second in the lock order, after the tenant; refuses an endpoint being deleted."""
    locked = Endpoint.objects.select_for_update(of=("self",)).filter(pk=endpoint.pk).first()
    if locked is None:
        raise NotFound(f"No endpoint {endpoint.name} in {endpoint.tenant.slug}.")
    if locked.state == Endpoint.State.DELETING:
        raise Conflict(f"Endpoint {endpoint.name} is being deleted.")
    return locked


def bump_endpoint_generation(endpoint: Endpoint) -> None:
    """The endpoint's desired state changed: reconcile it once this transaction commits."""
    Endpoint.objects.filter(pk=endpoint.pk).update(generation=F("generation") + 1)
    endpoint.refresh_from_db(fields=["generation"])
    reconcile_on_commit(RECONCILE_ENDPOINT, endpoint.pk, model=Endpoint)


def endpoints_touch(*, tenant: Tenant) -> None:
    """Bump every endpoint of the tenant so it is reconciled again (e.g. after suspension)."""
    for endpoint in Endpoint.objects.filter(tenant=tenant):
        bump_endpoint_generation(endpoint)


@retry_on_conflict
def endpoint_delete(*, actor: Principal, endpoint: Endpoint) -> Endpoint:
    """Mark for deletion; the reconciler removes the cluster objects, then the row."""
    # Who creates an endpoint may take it down again (docs/api.md, roles).
    require_endpoint_role(actor, endpoint.tenant, "deployer", "endpoint.delete", endpoint.name)
    with transaction.atomic():
        # No tenant lock: that level serialises quota admission, and a delete admits nothing (a
        # deleting endpoint still counts until the reconciler removes it), so deletes run beside
        # the tenant's creates and scaling changes instead of queueing behind them. The endpoint
        # row is the first lock taken (docs/decisions/0006-lock-order.md, level 2).
        # Compare-and-set: of concurrent deletes, exactly one marks the endpoint and is audited;
        # the others find it already deleting and answer the same, unaudited.
        marked = Endpoint.objects.filter(pk=endpoint.pk, state=Endpoint.State.ACTIVE).update(
            state=Endpoint.State.DELETING
        )
        endpoint.state = Endpoint.State.DELETING
        if not marked:
            return endpoint
        bump_endpoint_generation(endpoint)
        record(
            actor=actor,
            action="endpoint.delete",
            target_type="endpoint",
            target_id=endpoint.name,
            tenant_slug=endpoint.tenant.slug,
            changes=diff({"state": Endpoint.State.ACTIVE}, {"state": Endpoint.State.DELETING}),
        )
    return endpoint

"""Every write to tenants, quotas, memberships and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from control_plane.audit.services import diff, record
from control_plane.auth import api_keys
from control_plane.auth.permissions import require
from control_plane.auth.principal import Principal
from control_plane.errors import (
    Conflict,
    NotFound,
    QuotaExceeded,
    ValidationFailed,
    from_django,
)
from control_plane.scheduling import reconcile_on_commit
from control_plane.transactions import retry_on_conflict
from endpoints.services import endpoints_touch
from tenants.models import MIG_PROFILES, ApiKey, Membership, Quota, Tenant
from tenants.resources import overcommitted
from tenants.selectors import committed_resources, quota_limit

RECONCILE_TENANT = "tenants.reconcile_tenant"


@dataclass(frozen=True)
class QuotaValues:
    gpus: int = 0
    mig_slices: dict[str, int] | None = None
    max_endpoints: int = 0
    cpu_millicores: int = 0
    memory_bytes: int = 0

    def as_fields(self) -> dict:
        return {
            "gpus": self.gpus,
            "mig_slices": dict(sorted((self.mig_slices or {}).items())),
            "max_endpoints": self.max_endpoints,
            "cpu_millicores": self.cpu_millicores,
            "memory_bytes": self.memory_bytes,
        }


def _quota_fields(quota: Quota) -> dict:
    return QuotaValues(
        gpus=quota.gpus,
        mig_slices=quota.mig_slices,
        max_endpoints=quota.max_endpoints,
        cpu_millicores=quota.cpu_millicores,
        memory_bytes=quota.memory_bytes,
    ).as_fields()


def _validate_quota(values: QuotaValues) -> None:
    for profile, count in (values.mig_slices or {}).items():
        if profile not in MIG_PROFILES:
            raise ValidationFailed(
                f"unknown MIG profile {profile!r}; known: {', '.join(MIG_PROFILES)}",
                field="mig_slices",
            )
        if not isinstance(count, int) or count < 0:
            raise ValidationFailed(
                f"{profile}: the slice count must be a non-negative integer", field="mig_slices"
            )


def _lock(tenant: Tenant) -> Tenant:
    """The tenant row is the first lock of every write to a tenant's objects
    (docs/decisions/0006-lock-order.md); the fresh row is what the write decides on. FOR NO
    KEY UPDATE, like endpoint admission's: foreign-key checks on the tenant do not wait for it
    (docs/decisions/0013-create-locks-late.md)."""
    locked = (
        Tenant.objects.select_for_update(of=("self",), no_key=True).filter(pk=tenant.pk).first()
    )
    if locked is None:
        raise NotFound(f"No tenant {tenant.slug}.")
    return locked


def _bump_generation(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(generation=F("generation") + 1)
    tenant.refresh_from_db(fields=["generation"])
    reconcile_on_commit(RECONCILE_TENANT, tenant.pk, model=Tenant)


@retry_on_conflict
def tenant_create(
    *, actor: Principal, slug: str, display_name: str, quota: QuotaValues | None = None
) -> Tenant:
    require(
        actor.is_platform_admin,
        actor=actor,
        action="tenant.create",
        target_type="tenant",
        target_id=slug,
        reason="Only platform admins create tenants.",
    )
    quota = quota or QuotaValues()
    _validate_quota(quota)
    try:
        Tenant(slug=slug, display_name=display_name).full_clean(validate_unique=False)
    except DjangoValidationError as error:
        raise from_django(error) from None
    try:
        with transaction.atomic():
            if Tenant.objects.filter(slug=slug, state=Tenant.State.DELETING).exists():
                raise Conflict(
                    f"Tenant {slug!r} is still being deleted (its namespace is terminating); "
                    "create it again once it is gone.",
                    field="slug",
                )
            tenant = Tenant.objects.create(slug=slug, display_name=display_name)
            Quota.objects.create(tenant=tenant, **quota.as_fields())
            record(
                actor=actor,
                action="tenant.create",
                target_type="tenant",
                target_id=slug,
                tenant_slug=slug,
                changes=diff({}, {"display_name": display_name, **quota.as_fields()}),
            )
            reconcile_on_commit(RECONCILE_TENANT, tenant.pk, model=Tenant)
    except IntegrityError:
        raise Conflict(f"A tenant {slug!r} already exists.", field="slug") from None
    return tenant


@retry_on_conflict
def tenant_update(
    *, actor: Principal, tenant: Tenant, display_name: str | None = None, state: str | None = None
) -> Tenant:
    if state is not None and state != tenant.state:
        require(
            actor.is_platform_admin,
            actor=actor,
            action="tenant.update",
            target_type="tenant",
            target_id=tenant.slug,
            tenant_slug=tenant.slug,
            reason="Only platform admins suspend or resume tenants.",
        )
        if state not in (Tenant.State.ACTIVE, Tenant.State.SUSPENDED):
            raise ValidationFailed("state must be 'active' or 'suspended'", field="state")
        if tenant.state == Tenant.State.DELETING:
            raise Conflict("The tenant is being deleted.", field="state")
    require(
        actor.has_tenant_role(tenant, "admin"),
        actor=actor,
        action="tenant.update",
        target_type="tenant",
        target_id=tenant.slug,
        tenant_slug=tenant.slug,
        reason="Only the tenant's admins change it.",
    )
    with transaction.atomic():
        locked = _lock(tenant)
        if state is not None and locked.state == Tenant.State.DELETING:
            raise Conflict("The tenant is being deleted.", field="state")
        before = {"display_name": locked.display_name, "state": locked.state}
        after = {
            "display_name": display_name if display_name is not None else locked.display_name,
            "state": state if state is not None else locked.state,
        }
        changes = diff(before, after)
        if not changes:
            return locked
        Tenant.objects.filter(pk=tenant.pk).update(**after)
        if "state" in changes:
            _bump_generation(tenant)
            # Suspension pauses every endpoint's autoscaling at zero; resuming restores it.
            endpoints_touch(tenant=tenant)
        record(
            actor=actor,
            action="tenant.update",
            target_type="tenant",
            target_id=tenant.slug,
            tenant_slug=tenant.slug,
            changes=changes,
        )
    tenant.display_name, tenant.state = after["display_name"], after["state"]
    return tenant


@retry_on_conflict
def tenant_delete(*, actor: Principal, tenant: Tenant) -> Tenant:
    """Mark the tenant for deletion; the reconciler removes its endpoints, then its namespace,
    then the row."""
    require(
        actor.is_platform_admin,
        actor=actor,
        action="tenant.delete",
        target_type="tenant",
        target_id=tenant.slug,
        tenant_slug=tenant.slug,
        reason="Only platform admins delete tenants.",
    )
    with transaction.atomic():
        before_state = _lock(tenant).state
        if before_state == Tenant.State.DELETING:
            tenant.state = before_state
            return tenant
        Tenant.objects.filter(pk=tenant.pk).update(state=Tenant.State.DELETING)
        _bump_generation(tenant)
        record(
            actor=actor,
            action="tenant.delete",
            target_type="tenant",
            target_id=tenant.slug,
            tenant_slug=tenant.slug,
            changes=diff({"state": before_state}, {"state": Tenant.State.DELETING}),
        )
    tenant.state = Tenant.State.DELETING
    return tenant


@retry_on_conflict
def quota_update(*, actor: Principal, tenant: Tenant, values: QuotaValues) -> Quota:
    require(
        actor.is_platform_admin,
        actor=actor,
        action="quota.update",
        target_type="quota",
        target_id=tenant.slug,
        tenant_slug=tenant.slug,
        reason="Only platform admins change quotas.",
    )
    _validate_quota(values)
    with transaction.atomic():
        # Locking the tenant row serialises quota changes with endpoint admission.
        _lock(tenant)
        quota = Quota.objects.get(tenant=tenant)
        before = _quota_fields(quota)
        after = values.as_fields()
        for name, value in after.items():
            setattr(quota, name, value)
        committed = committed_resources(tenant=tenant)
        exceeded = overcommitted(committed=committed, limit=quota_limit(quota))
        if exceeded:
            detail = "; ".join(
                f"{name}: {used} committed, new limit {limit}" for name, used, limit in exceeded
            )
            raise QuotaExceeded(
                f"The new quota is below what the tenant's endpoints commit ({detail}). "
                "Lower their max replicas or delete endpoints first."
            )
        changes = diff(before, after)
        if not changes:
            return quota
        quota.save()
        _bump_generation(tenant)
        record(
            actor=actor,
            action="quota.update",
            target_type="quota",
            target_id=tenant.slug,
            tenant_slug=tenant.slug,
            changes=changes,
        )
    return quota


def _require_member_admin(actor: Principal, tenant: Tenant, action: str, target: str) -> None:
    require(
        actor.has_tenant_role(tenant, "admin"),
        actor=actor,
        action=action,
        target_type="membership",
        target_id=target,
        tenant_slug=tenant.slug,
        reason="Only the tenant's admins manage its members.",
    )


@retry_on_conflict
def membership_add(*, actor: Principal, tenant: Tenant, username: str, role: str) -> Membership:
    _require_member_admin(actor, tenant, "membership.create", username)
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"role must be one of {', '.join(Membership.Role.values)}", field="role"
        )
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationFailed(f"No active user {username!r}.", field="username")
    try:
        with transaction.atomic():
            _lock(tenant)
            membership = Membership.objects.create(tenant=tenant, user=user, role=role)
            record(
                actor=actor,
                action="membership.create",
                target_type="membership",
                target_id=username,
                tenant_slug=tenant.slug,
                changes=diff({}, {"user": username, "role": role}),
            )
    except IntegrityError:
        raise Conflict(f"{username} is already a member of {tenant.slug}.", field="username")
    return membership


def _lock_membership(tenant: Tenant, membership: Membership) -> Membership:
    """Lock the tenant, then re-read the membership: two admins demoting or removing each other
    at once are serialised here, and the second sees the first's change."""
    _lock(tenant)
    locked = Membership.objects.select_for_update().filter(pk=membership.pk).first()
    if locked is None:
        raise NotFound(f"{membership.user.username} is not a member of {tenant.slug}.")
    return locked


def _ensure_an_admin_remains(membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Membership.Role.ADMIN or new_role == Membership.Role.ADMIN:
        return
    others = Membership.objects.filter(tenant=membership.tenant_id, role=Membership.Role.ADMIN)
    if not others.exclude(pk=membership.pk).exists():
        raise Conflict("A tenant keeps at least one admin.", field="role")


@retry_on_conflict
def membership_update(*, actor: Principal, membership: Membership, role: str) -> Membership:
    tenant = membership.tenant
    _require_member_admin(actor, tenant, "membership.update", membership.user.username)
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"role must be one of {', '.join(Membership.Role.values)}", field="role"
        )
    with transaction.atomic():
        locked = _lock_membership(tenant, membership)
        before = locked.role
        if role == before:
            return locked
        _ensure_an_admin_remains(locked, new_role=role)
        Membership.objects.filter(pk=locked.pk).update(role=role)
        record(
            actor=actor,
            action="membership.update",
            target_type="membership",
            target_id=membership.user.username,
            tenant_slug=tenant.slug,
            changes=diff({"role": before}, {"role": role}),
        )
    membership.role = role
    return membership


@retry_on_conflict
def membership_remove(*, actor: Principal, membership: Membership) -> None:
    tenant = membership.tenant
    _require_member_admin(actor, tenant, "membership.delete", membership.user.username)
    with transaction.atomic():
        locked = _lock_membership(tenant, membership)
        _ensure_an_admin_remains(locked, new_role=None)
        locked.delete()
        record(
            actor=actor,
            action="membership.delete",
            target_type="membership",
            target_id=membership.user.username,
            tenant_slug=tenant.slug,
            changes=diff({"user": membership.user.username, "role": locked.role}, {}),
        )


@retry_on_conflict
def api_key_create(
    *, actor: Principal, name: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for the acting user; the plaintext is returned once and never stored."""
    if actor.user is None:
        raise ValidationFailed("API keys belong to a user.", field="user")
    if not name.strip():
        raise ValidationFailed("A key needs a name.", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("expires_at must be in the future.", field="expires_at")
    new = api_keys.generate_key()
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=actor.user,
            name=name.strip(),
            prefix=new.prefix,
            secret_hash=new.secret_hash,
            expires_at=expires_at,
        )
        record(
            actor=actor,
            action="apikey.create",
            target_type="api_key",
            target_id=key.prefix,
            changes=diff(
                {},
                {
                    "name": key.name,
                    "prefix": key.prefix,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            ),
        )
    return key, new.plaintext


@retry_on_conflict
def api_key_revoke(*, actor: Principal, key: ApiKey) -> ApiKey:
    if actor.user is None or (key.user_id != actor.user.pk and not actor.is_platform_admin):
        raise NotFound("No such API key.")
    revoked_at = timezone.now()
    with transaction.atomic():
        # Compare-and-set: of concurrent revokes, exactly one changes the row and is audited.
        if not ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=revoked_at
        ):
            raise Conflict("This API key is already revoked.")
        record(
            actor=actor,
            action="apikey.revoke",
            target_type="api_key",
            target_id=key.prefix,
            changes=diff({"revoked": False}, {"revoked": True}),
        )
    key.revoked_at = revoked_at
    return key

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


def _bump_generation(tenant: Tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(generation=F("generation") + 1)
    tenant.refresh_from_db(fields=["generation"])
    reconcile_on_commit(RECONCILE_TENANT, tenant.pk)


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
    tenant = Tenant(slug=slug, display_name=display_name)
    try:
        tenant.full_clean(validate_unique=False)
    except DjangoValidationError as error:
        raise from_django(error) from None
    try:
        with transaction.atomic():
            tenant.save()
            Quota.objects.create(tenant=tenant, **quota.as_fields())
            record(
                actor=actor,
                action="tenant.create",
                target_type="tenant",
                target_id=slug,
                tenant_slug=slug,
                changes=diff({}, {"display_name": display_name, **quota.as_fields()}),
            )
            reconcile_on_commit(RECONCILE_TENANT, tenant.pk)
    except IntegrityError:
        raise Conflict(f"A tenant {slug!r} already exists.", field="slug") from None
    return tenant


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
    before = {"display_name": tenant.display_name, "state": tenant.state}
    after = {
        "display_name": display_name if display_name is not None else tenant.display_name,
        "state": state if state is not None else tenant.state,
    }
    changes = diff(before, after)
    if not changes:
        return tenant
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(**after)
        tenant.display_name, tenant.state = after["display_name"], after["state"]
        if "state" in changes:
            _bump_generation(tenant)
            # Suspension pauses every endpoint's autoscaling at zero; resuming restores it.
            from endpoints.services import endpoints_touch

            endpoints_touch(tenant=tenant)
        record(
            actor=actor,
            action="tenant.update",
            target_type="tenant",
            target_id=tenant.slug,
            tenant_slug=tenant.slug,
            changes=changes,
        )
    return tenant


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
    if tenant.state == Tenant.State.DELETING:
        return tenant
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(state=Tenant.State.DELETING)
        before_state, tenant.state = tenant.state, Tenant.State.DELETING
        _bump_generation(tenant)
        record(
            actor=actor,
            action="tenant.delete",
            target_type="tenant",
            target_id=tenant.slug,
            tenant_slug=tenant.slug,
            changes=diff({"state": before_state}, {"state": tenant.state}),
        )
    return tenant


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
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
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


def _ensure_an_admin_remains(membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Membership.Role.ADMIN or new_role == Membership.Role.ADMIN:
        return
    others = Membership.objects.filter(tenant=membership.tenant_id, role=Membership.Role.ADMIN)
    if not others.exclude(pk=membership.pk).exists():
        raise Conflict("A tenant keeps at least one admin.", field="role")


def membership_update(*, actor: Principal, membership: Membership, role: str) -> Membership:
    tenant = membership.tenant
    _require_member_admin(actor, tenant, "membership.update", membership.user.username)
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"role must be one of {', '.join(Membership.Role.values)}", field="role"
        )
    if role == membership.role:
        return membership
    with transaction.atomic():
        _ensure_an_admin_remains(membership, new_role=role)
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record(
            actor=actor,
            action="membership.update",
            target_type="membership",
            target_id=membership.user.username,
            tenant_slug=tenant.slug,
            changes=diff({"role": before}, {"role": role}),
        )
    return membership


def membership_remove(*, actor: Principal, membership: Membership) -> None:
    tenant = membership.tenant
    _require_member_admin(actor, tenant, "membership.delete", membership.user.username)
    with transaction.atomic():
        _ensure_an_admin_remains(membership, new_role=None)
        record(
            actor=actor,
            action="membership.delete",
            target_type="membership",
            target_id=membership.user.username,
            tenant_slug=tenant.slug,
            changes=diff({"user": membership.user.username, "role": membership.role}, {}),
        )
        membership.delete()


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


def api_key_revoke(*, actor: Principal, key: ApiKey) -> ApiKey:
    if actor.user is None or (key.user_id != actor.user.pk and not actor.is_platform_admin):
        raise NotFound("No such API key.")
    if key.revoked_at is not None:
        raise Conflict("This API key is already revoked.")
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        record(
            actor=actor,
            action="apikey.revoke",
            target_type="api_key",
            target_id=key.prefix,
            changes=diff({"revoked": False}, {"revoked": True}),
        )
    return key

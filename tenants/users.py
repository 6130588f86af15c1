"""People who sign in: platform admins create them, set their passwords and deactivate them, so
a tenant admin can add members without a shell. Every change is audited; a password never is."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from control_plane.audit.services import diff, record
from control_plane.auth.permissions import require
from control_plane.auth.principal import Principal
from control_plane.errors import Conflict, NotFound, ValidationFailed
from control_plane.transactions import retry_on_conflict

USERNAME_MAX_LENGTH = 150


def _require_platform_admin(actor: Principal, action: str, username: str) -> None:
    require(
        actor.is_platform_admin,
        actor=actor,
        action=action,
        target_type="user",
        target_id=username,
        reason="Only platform admins manage users.",
    )


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as error:
        raise ValidationFailed(" ".join(error.messages), field="password") from None


def users_visible_to(*, actor: Principal) -> QuerySet[User]:
    if not actor.reads_all_tenants:
        return User.objects.none()
    return User.objects.order_by("username")


def user_for(*, actor: Principal, username: str) -> User:
    user = users_visible_to(actor=actor).filter(username=username).first()
    if user is None:
        raise NotFound(f"No user {username!r}.")
    return user


@retry_on_conflict
def user_create(*, actor: Principal, username: str, password: str, email: str = "") -> User:
    _require_platform_admin(actor, "user.create", username)
    candidate = User(username=username, email=email)
    try:
        candidate.full_clean(exclude=["password"], validate_unique=False)
    except DjangoValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ValidationFailed(" ".join(messages), field=field) from None
    _check_password(password, candidate)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            record(
                actor=actor,
                action="user.create",
                target_type="user",
                target_id=username,
                changes=diff({}, {"username": username, "email": email}),
            )
    except IntegrityError:
        raise Conflict(f"A user {username!r} already exists.", field="username") from None
    return user


@retry_on_conflict
def user_update(
    *,
    actor: Principal,
    user: User,
    password: str | None = None,
    is_active: bool | None = None,
) -> User:
    """Set a new password and/or (de)activate. A deactivated user cannot sign in and their API
    keys stop working (authentication checks `is_active`); their memberships stay for the record."""
    _require_platform_admin(actor, "user.update", user.username)
    if password is None and is_active is None:
        raise ValidationFailed("say what to change: password or is_active", field="password")
    if password is not None:
        _check_password(password, user)
    if is_active is False and actor.user is not None and actor.user.pk == user.pk:
        raise Conflict("You cannot deactivate yourself.", field="is_active")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        changes = {}
        if password is not None:
            locked.set_password(password)
            changes["password"] = {"before": "[redacted]", "after": "[redacted]"}
        if is_active is not None and locked.is_active != is_active:
            changes["is_active"] = {"before": locked.is_active, "after": is_active}
            locked.is_active = is_active
        locked.save(update_fields=["password", "is_active"])
        record(
            actor=actor,
            action="user.update",
            target_type="user",
            target_id=user.username,
            changes=changes,
        )
    return locked

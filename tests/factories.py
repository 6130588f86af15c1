"""factory_boy factories and small helpers for the people and tenants of the tests."""

from __future__ import annotations

import factory
from django.contrib.auth.models import User

from control_plane.auth.principal import Principal
from tenants.models import Membership, PlatformRole, Quota, Tenant
from tenants.principals import principal_for_user

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"tenant{n}")
    display_name = factory.LazyAttribute(lambda t: f"Tenant {t.slug}")
    quota = factory.RelatedFactory("tests.factories.QuotaFactory", factory_related_name="tenant")


class QuotaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quota

    tenant = factory.SubFactory(TenantFactory, quota=None)
    gpus = 8
    mig_slices = factory.LazyFunction(lambda: {"1g.10gb": 4, "3g.40gb": 2})
    max_endpoints = 5
    cpu_millicores = 128_000
    memory_bytes = 1024 * 2**30


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.VIEWER


def platform_user(role: str, username: str | None = None) -> User:
    user = UserFactory(username=username or f"platform-{role}")
    PlatformRole.objects.update_or_create(user=user, defaults={"role": role})
    return user


def member(tenant: Tenant, role: str, username: str | None = None) -> User:
    user = UserFactory(username=username or f"{tenant.slug}-{role}")
    Membership.objects.update_or_create(tenant=tenant, user=user, defaults={"role": role})
    return user


def principal(user: User) -> Principal:
    return principal_for_user(user, request_id="test-request", source_address="127.0.0.1")


def system() -> Principal:
    return Principal.system(request_id="test-system")

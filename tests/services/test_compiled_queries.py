"""CompiledQuery answers what its queryset answers, compiles once, and refuses shapes it cannot
re-run faithfully."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from control_plane.compiled_queries import (
    INTEGER_LIST,
    MAX_LIST_LENGTH,
    STRING_LIST,
    CompiledQuery,
)
from tenants.models import Membership, PlatformRole, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

TENANT_BY_SLUG = CompiledQuery(
    lambda slug: Tenant.objects.select_related("quota").filter(slug=slug), slug=str
)


def test_rows_equal_the_querysets_with_their_select_related_objects_loaded():
    tenant = TenantFactory(slug="alpha")
    TenantFactory(slug="beta")

    [found] = TENANT_BY_SLUG(slug="alpha")
    with CaptureQueriesContext(connection) as queries:
        quota = found.quota

    assert found == tenant
    expected = Tenant.objects.select_related("quota").get(slug="alpha")
    assert {f.attname: getattr(found, f.attname) for f in Tenant._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in Tenant._meta.concrete_fields
    }
    assert quota.pk == expected.quota.pk
    assert quota.mig_slices == expected.quota.mig_slices
    assert len(queries) == 0
    assert found._state.db == "default"
    assert not found._state.adding
    assert TENANT_BY_SLUG(slug="gamma") == []


def test_a_missing_nullable_relation_is_loaded_as_none():
    user = UserFactory()
    key_user = CompiledQuery(
        lambda pk: type(user).objects.select_related("platform_role").filter(pk=pk), pk=int
    )

    [found] = key_user(pk=user.pk)

    with CaptureQueriesContext(connection) as queries, pytest.raises(PlatformRole.DoesNotExist):
        found.platform_role  # noqa: B018 - the access is the test
    assert len(queries) == 0


def test_values_list_rows_are_the_querysets_tuples():
    user = UserFactory()
    for slug in ("one", "two"):
        MembershipFactory(user=user, tenant=TenantFactory(slug=slug), role="admin")
    shape = CompiledQuery(
        lambda user_id: (
            Membership.objects.filter(user_id=user_id)
            .order_by("tenant__slug")
            .values_list("tenant__slug", "role", "tenant_id")
        ),
        user_id=int,
    )

    expected = list(
        Membership.objects.filter(user=user)
        .order_by("tenant__slug")
        .values_list("tenant__slug", "role", "tenant_id")
    )
    assert shape(user_id=user.pk) == expected
    assert [slug for slug, _, _ in expected] == ["one", "two"]


def test_the_sql_is_compiled_once_and_rerun_with_each_calls_values():
    shape = CompiledQuery(lambda slug: Tenant.objects.filter(slug=slug), slug=str)
    TenantFactory(slug="first")
    TenantFactory(slug="second")
    shape(slug="first")  # compiles

    with mock.patch.object(SQLCompiler, "as_sql", autospec=True) as as_sql:
        assert [t.slug for t in shape(slug="second")] == ["second"]
        assert [t.slug for t in shape(slug="first")] == ["first"]
    as_sql.assert_not_called()


def test_an_argument_of_the_wrong_type_is_refused_not_sent():
    with pytest.raises(TypeError):
        TENANT_BY_SLUG(slug=3)
    with pytest.raises(TypeError):
        TENANT_BY_SLUG(name="alpha")


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda slug: Tenant.objects.filter(slug=slug).prefetch_related("endpoints")),
        pytest.param(lambda slug: Tenant.objects.filter(slug=slug).values("slug")),
        pytest.param(lambda slug: Tenant.objects.filter(slug=slug).values_list("pk", flat=True)),
        # The argument never reaches the SQL: nothing to substitute.
        pytest.param(lambda slug: Tenant.objects.all()),
        pytest.param(lambda slug: Tenant.objects.filter(slug=slug)[:10]),
        pytest.param(lambda slug: Tenant.objects.filter(slug=slug).select_for_update()),
    ],
    ids=["prefetch", "values-dicts", "flat", "argument-not-in-the-sql", "sliced", "locked"],
)
def test_shapes_that_cannot_be_rerun_faithfully_are_refused(build):
    with pytest.raises(ValueError):
        CompiledQuery(build, slug=str)(slug="x")


TENANTS_BY_ID = CompiledQuery(
    lambda ids: Tenant.objects.filter(pk__in=ids).order_by("slug"), ids=INTEGER_LIST
)


def test_a_list_argument_gives_the_querysets_rows_for_every_length():
    tenants = [TenantFactory(slug=f"t{i:02d}") for i in range(9)]
    ids = [t.pk for t in tenants]

    for chosen in (ids[:1], ids[:3], ids[2:7], ids, [ids[4], ids[4], ids[1]], [*ids[:2], -5]):
        found = TENANTS_BY_ID(ids=chosen)
        assert [t.slug for t in found] == [
            t.slug for t in Tenant.objects.filter(pk__in=chosen).order_by("slug")
        ]
    assert TENANTS_BY_ID(ids=set(ids[3:5])) == tenants[3:5]


def test_a_list_is_compiled_once_per_padded_length():
    ids = [TenantFactory(slug=f"t{i}").pk for i in range(7)]
    TENANTS_BY_ID(ids=ids[:5])  # compiles the shape of 8

    with mock.patch.object(SQLCompiler, "as_sql", autospec=True) as as_sql:
        assert len(TENANTS_BY_ID(ids=ids[:6])) == 6
        assert len(TENANTS_BY_ID(ids=ids[:7])) == 7
    as_sql.assert_not_called()


def test_an_empty_or_very_long_list_runs_through_the_orm():
    tenant = TenantFactory(slug="only")
    assert TENANTS_BY_ID(ids=[]) == []
    with mock.patch.object(CompiledQuery, "_compile", autospec=True) as compile_:
        assert TENANTS_BY_ID(ids=[tenant.pk] * (MAX_LIST_LENGTH + 1)) == [tenant]
        assert TENANTS_BY_ID(ids=[]) == []
    compile_.assert_not_called()


TENANTS_FROM_SLUG = CompiledQuery(
    lambda first: Tenant.objects.filter(slug__gte=first).order_by("slug"), first=str
)


def test_a_slice_gives_the_querysets_slice_with_its_bounds_as_parameters():
    for i in range(7):
        TenantFactory(slug=f"s{i}")
    TenantFactory(slug="other")
    bounds = ((0, 3), (3, 6), (5, 50), (7, 9), (2, 2))
    queryset = Tenant.objects.filter(slug__gte="s").order_by("slug")
    expected = [[t.slug for t in queryset[start:stop]] for start, stop in bounds]
    TENANTS_FROM_SLUG.sliced(0, 1, first="s")  # compiles

    with mock.patch.object(SQLCompiler, "as_sql", autospec=True) as as_sql:
        found = [
            [t.slug for t in TENANTS_FROM_SLUG.sliced(start, stop, first="s")]
            for start, stop in bounds
        ]
    as_sql.assert_not_called()
    assert found == expected
    assert expected[2] == ["s5", "s6"]
    with pytest.raises(ValueError):
        TENANTS_FROM_SLUG.sliced(3, 1, first="s")


def test_a_list_of_anything_but_integers_is_refused_not_sent():
    for wrong in ("12", [1, "2"], [1.0], 3, [True]):
        with pytest.raises(TypeError):
            TENANTS_BY_ID(ids=wrong)
    with pytest.raises(TypeError):
        CompiledQuery(lambda ids: Tenant.objects.filter(pk__in=ids), ids=list[float])


def test_a_string_list_argument_gives_the_querysets_rows():
    for slug in ("a1", "a2", "b1", "c1"):
        TenantFactory(slug=slug)
    by_slugs = CompiledQuery(
        lambda slugs: Tenant.objects.filter(slug__in=slugs).order_by("slug"), slugs=STRING_LIST
    )

    assert [t.slug for t in by_slugs(slugs=["c1", "a1", "zz"])] == ["a1", "c1"]
    assert [t.slug for t in by_slugs(slugs={"b1"})] == ["b1"]
    with pytest.raises(TypeError):
        by_slugs(slugs=[1])

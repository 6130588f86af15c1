import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from control_plane.errors import Conflict, QuotaExceeded, ValidationFailed
from endpoints import services
from endpoints.selectors import committed_by_endpoints
from scaling.policy import parse_change
from tenants.models import Quota
from tenants.selectors import quota_limit
from tenants.services import QuotaValues, quota_update
from tests.factories import TenantFactory, system
from tests.world import gpu_model_spec, make_endpoint, scaling

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    return {
        "gpu1": services.model_version_create(actor=system(), tenant=None, spec=gpu_model_spec()),
        "gpu2": services.model_version_create(
            actor=system(),
            tenant=None,
            spec=gpu_model_spec("big", engine_args={"tensor_parallel_size": 2}, gpus_per_replica=2),
        ),
        "mig1": services.model_version_create(
            actor=system(),
            tenant=None,
            spec=gpu_model_spec("small", gpus_per_replica=0, mig_profile="1g.10gb"),
        ),
        "mig3": services.model_version_create(
            actor=system(),
            tenant=None,
            spec=gpu_model_spec("medium", gpus_per_replica=0, mig_profile="3g.40gb"),
        ),
    }


def test_quota_refusal_names_the_numbers(catalog):
    tenant = TenantFactory()  # 8 GPUs
    make_endpoint(tenant, "first", catalog["gpu1"], max_replicas=5)
    with pytest.raises(QuotaExceeded) as refused:
        make_endpoint(tenant, "second", catalog["gpu2"], max_replicas=4)
    assert "needs 8 × nvidia.com/gpu, 3 of 8 remain" in refused.value.message


def test_a_canary_counts_next_to_the_stable_revision(catalog):
    tenant = TenantFactory()
    endpoint = make_endpoint(tenant, "chat", catalog["gpu1"], max_replicas=3)
    assert committed_by_endpoints(tenant=tenant).gpus == 3
    from endpoints.models import Revision

    endpoint.canary_revision = Revision.objects.create(
        endpoint=endpoint, model_version=catalog["gpu1"], number=2
    )
    endpoint.save()
    assert committed_by_endpoints(tenant=tenant).gpus == 6
    with pytest.raises(QuotaExceeded):
        services.endpoint_update_scaling(
            actor=system(),
            endpoint=endpoint,
            change=parse_change({"max_replicas": 5}),
        )


def test_mig_profile_must_be_granted_to_the_tenant(catalog):
    tenant = TenantFactory()  # grants 1g.10gb and 3g.40gb
    Quota.objects.filter(tenant=tenant).update(mig_slices={"1g.10gb": 4})
    tenant.refresh_from_db()
    with pytest.raises(ValidationFailed, match=r"3g\.40gb is not granted"):
        make_endpoint(tenant, "chat", catalog["mig3"], max_replicas=1)


def test_max_endpoints_is_enforced(catalog):
    tenant = TenantFactory()
    Quota.objects.filter(tenant=tenant).update(max_endpoints=1)
    tenant.refresh_from_db()
    make_endpoint(tenant, "one", catalog["mig1"], max_replicas=1)
    with pytest.raises(QuotaExceeded, match="endpoint"):
        make_endpoint(tenant, "two", catalog["mig1"], max_replicas=1)


def test_a_used_model_version_is_immutable(catalog):
    make_endpoint(TenantFactory(), "chat", catalog["gpu1"])
    with pytest.raises(Conflict, match="cannot change"):
        services.model_version_update(
            actor=system(), version=catalog["gpu1"], changes={"image": "vllm/vllm-openai:v1"}
        )
    with pytest.raises(Conflict, match="deprecate it instead"):
        services.model_version_delete(actor=system(), version=catalog["gpu1"])


def test_an_unused_model_version_can_still_change(catalog):
    updated = services.model_version_update(
        actor=system(), version=catalog["gpu1"], changes={"expected_load_seconds": 30}
    )
    assert updated.expected_load_seconds == 30


def test_a_deprecated_model_version_keeps_running_but_takes_no_new_endpoint(catalog):
    tenant = TenantFactory()
    running = make_endpoint(tenant, "chat", catalog["gpu1"])
    services.model_version_deprecate(actor=system(), version=catalog["gpu1"])
    running.refresh_from_db()
    assert running.stable_revision.model_version_id == catalog["gpu1"].pk
    with pytest.raises(ValidationFailed, match="deprecated"):
        make_endpoint(tenant, "other", catalog["gpu1"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"engine_args": {"swap_space": 4}}, "engine_args"),
        ({"engine_args": {"max_model_len": "long"}}, "engine_args.max_model_len"),
        ({"engine_args": {"tensor_parallel_size": 2}}, "engine_args.tensor_parallel_size"),
        ({"hf_repo": "no-slash"}, "hf_repo"),
        ({"source": "s3", "hf_repo": "", "uri": "gs://bucket"}, "uri"),
        ({"gpus_per_replica": 0}, "gpus_per_replica"),
        ({"gpus_per_replica": 1, "mig_profile": "1g.10gb"}, "gpus_per_replica"),
    ],
)
def test_invalid_model_versions_are_refused_naming_the_field(changes, field):
    with pytest.raises(ValidationFailed) as refused:
        services.model_version_create(actor=system(), tenant=None, spec=gpu_model_spec(**changes))
    assert refused.value.field == field


def test_no_fitting_gpu_pool_is_a_clear_error(settings):
    settings.GPU_POOLS = [{"name": "mig-only", "node_selector": {}, "mig_profiles": ["1g.10gb"]}]
    with pytest.raises(ValidationFailed, match="No configured GPU pool offers 1 whole GPU"):
        services.model_version_create(actor=system(), tenant=None, spec=gpu_model_spec())


requests = st.lists(
    st.tuples(st.sampled_from(["gpu1", "gpu2", "mig1", "mig3"]), st.integers(1, 6)),
    min_size=1,
    max_size=8,
)


@given(requests=requests, gpus=st.integers(0, 12), slices=st.integers(0, 6))
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_accepted_set_of_endpoints_ever_exceeds_the_quota(catalog, requests, gpus, slices):
    with transaction.atomic():
        tenant = TenantFactory()
        quota_update(
            actor=system(),
            tenant=tenant,
            values=QuotaValues(
                gpus=gpus,
                mig_slices={"1g.10gb": slices, "3g.40gb": slices},
                max_endpoints=6,
                cpu_millicores=64_000,
                memory_bytes=512 * 2**30,
            ),
        )
        tenant.refresh_from_db()
        for index, (model, max_replicas) in enumerate(requests):
            try:
                with transaction.atomic():
                    make_endpoint(tenant, f"ep{index}", catalog[model], max_replicas=max_replicas)
            except (QuotaExceeded, ValidationFailed):
                pass
            committed, limit = committed_by_endpoints(tenant=tenant), quota_limit(tenant.quota)
            assert committed.gpus <= limit.gpus
            assert committed.endpoints <= limit.endpoints
            assert committed.cpu_millicores <= limit.cpu_millicores
            assert committed.memory_bytes <= limit.memory_bytes
            for profile, count in committed.mig_slices.items():
                assert count <= limit.mig_slices.get(profile, 0)
        transaction.set_rollback(True)


def test_scaling_validation_names_the_field():
    with pytest.raises(ValidationFailed) as refused:
        scaling(min_replicas=5, max_replicas=2)
    assert refused.value.field == "scaling.min_replicas"


def test_in_flight_target_must_be_positive_and_names_the_field():
    with pytest.raises(ValidationFailed) as refused:
        scaling(target_in_flight_per_replica=0)
    assert refused.value.field == "scaling.target_in_flight_per_replica"


def test_admission_reads_the_same_queries_for_one_endpoint_and_thirty(
    catalog, django_assert_max_num_queries
):
    """Admission runs with the tenant row locked: its cost must not grow with the tenant."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tenant = TenantFactory(quota__gpus=100, quota__max_endpoints=100)
    make_endpoint(tenant, "first", catalog["gpu1"], max_replicas=1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            committed_by_endpoints(tenant=tenant)
        return len(captured)

    one = queries()
    for index in range(29):
        model = catalog["gpu2"] if index % 2 else catalog["gpu1"]
        make_endpoint(tenant, f"ep{index}", model, max_replicas=1)
    assert queries() == one == 1
    assert committed_by_endpoints(tenant=tenant).gpus == 1 + 15 * 1 + 14 * 2

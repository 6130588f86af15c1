from __future__ import annotations

import pytest

from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from tenants.manifests import TENANT_KINDS, TENANT_LABEL, object_meta, tenant_objects
from tests.manifests import builders
from tests.manifests.builders import CONTEXT
from tests.manifests.validation import validate_all


def by_kind(objects: list[dict]) -> dict[str, dict]:
    return {obj["kind"]: obj for obj in objects}


def test_every_tenant_object_validates():
    validate_all(tenant_objects(builders.tenant(), CONTEXT))


def test_every_object_carries_the_managed_by_and_tenant_labels():
    for obj in tenant_objects(builders.tenant("acme"), CONTEXT):
        labels = obj["metadata"]["labels"]
        assert labels[MANAGED_BY_LABEL] == MANAGED_BY_VALUE
        assert labels[TENANT_LABEL] == "acme"


def test_objects_live_in_the_tenant_namespace_except_the_reference_grant():
    objects = by_kind(tenant_objects(builders.tenant("acme"), CONTEXT))
    namespace = objects.pop("Namespace")
    grant = objects.pop("ReferenceGrant")
    assert namespace["metadata"]["name"] == "tenant-acme"
    assert "namespace" not in namespace["metadata"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert grant["metadata"]["namespace"] == CONTEXT.keda_http_namespace
    assert {obj["metadata"]["namespace"] for obj in objects.values()} == {"tenant-acme"}


def test_quota_has_one_mig_key_per_granted_profile():
    t = builders.tenant(gpus=4, mig_slices={"1g.10gb": 7, "3g.40gb": 2, "7g.80gb": 0})
    hard = by_kind(tenant_objects(t, CONTEXT))["ResourceQuota"]["spec"]["hard"]
    mig_keys = {key for key in hard if key.startswith("requests.nvidia.com/mig-")}
    assert mig_keys == {"requests.nvidia.com/mig-1g.10gb", "requests.nvidia.com/mig-3g.40gb"}
    assert hard["requests.nvidia.com/mig-1g.10gb"] == "7"
    assert hard["requests.nvidia.com/gpu"] == "4"


def test_quota_bounds_pods_by_gpu_slots_and_grants_cpu_and_memory_as_requests_and_limits():
    t = builders.tenant(
        gpus=4, mig_slices={"1g.10gb": 3}, cpu_millicores=64_000, memory_bytes=2**40
    )
    hard = by_kind(tenant_objects(t, CONTEXT))["ResourceQuota"]["spec"]["hard"]
    assert hard["pods"] == "7"
    assert hard["requests.cpu"] == hard["limits.cpu"] == "64"
    assert hard["requests.memory"] == hard["limits.memory"] == "1Ti"


def test_limit_range_bounds_containers_without_requests():
    (limit,) = by_kind(tenant_objects(builders.tenant(), CONTEXT))["LimitRange"]["spec"]["limits"]
    assert limit["type"] == "Container"
    assert set(limit["default"]) == set(limit["defaultRequest"]) == {"cpu", "memory"}
    assert "max" not in limit, "a max would reject our vLLM pods"


def test_network_policy_denies_ingress_except_gateway_monitoring_interceptor_and_namespace():
    policy = by_kind(tenant_objects(builders.tenant(), CONTEXT))["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == {}
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule["from"]
        if "namespaceSelector" in peer
    }
    assert namespaces == {
        CONTEXT.gateway_namespace,
        CONTEXT.monitoring_namespace,
        CONTEXT.keda_http_namespace,
    }
    assert {"podSelector": {}} in rule["from"]


def test_inference_service_account_mounts_no_token():
    account = by_kind(tenant_objects(builders.tenant(), CONTEXT))["ServiceAccount"]
    assert account["metadata"]["name"] == "inference"
    assert account["automountServiceAccountToken"] is False


def test_reference_grant_lets_the_tenants_routes_reach_the_interceptor_proxy():
    grant = by_kind(tenant_objects(builders.tenant("acme"), CONTEXT))["ReferenceGrant"]["spec"]
    assert grant["from"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "tenant-acme"}
    ]
    assert grant["to"] == [
        {"group": "", "kind": "Service", "name": CONTEXT.keda_http_interceptor_service}
    ]


def test_tenant_kinds_list_every_kind_rendered():
    rendered = {
        (obj["apiVersion"], obj["kind"]) for obj in tenant_objects(builders.tenant(), CONTEXT)
    }
    assert rendered == set(TENANT_KINDS)


def test_rendering_is_deterministic():
    assert tenant_objects(builders.tenant(), CONTEXT) == tenant_objects(builders.tenant(), CONTEXT)


@pytest.mark.parametrize("name", ["x" * 64, "Upper", "-edge", "dot.ted", ""])
def test_object_meta_refuses_names_that_are_not_dns_1123_labels(name):
    with pytest.raises(ValueError, match="DNS-1123"):
        object_meta(name, "ns", {})

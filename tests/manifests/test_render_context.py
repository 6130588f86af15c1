"""Rendering is a pure function of the objects and a RenderContext: two contexts give two
platforms' manifests side by side, and no render reads the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from django.conf import settings

from control_plane.errors import ValidationFailed
from control_plane.render_context import GpuPool, RenderContext
from endpoints.manifests import endpoint_objects
from scaling.spec import ScalingSpec
from tenants.manifests import tenant_objects
from tests.manifests import builders
from tests.manifests.builders import CONTEXT

L40S = GpuPool(name="l40s", node_selector={"nvidia.com/gpu.product": "NVIDIA-L40S"})
OTHER = replace(
    CONTEXT,
    gateway_name="edge",
    gateway_namespace="edge-system",
    monitoring_namespace="observability",
    keda_http_namespace="autoscaling",
    keda_http_interceptor_service="interceptor",
    keda_http_interceptor_port=9080,
    keda_http_scaler_address="scaler.autoscaling:9090",
    keda_prometheus_address="http://thanos.observability.svc:9090",
    hf_token_secret_name="hugging-face",
    endpoint_base_domain="models.example.org",
    gpu_pools=(L40S,),
)
SCALE_TO_ZERO = ScalingSpec(min_replicas=0)


class _NoSettings:
    def __getattr__(self, name: str):
        raise AssertionError(f"rendering read settings.{name}")


@contextmanager
def settings_unreadable() -> Iterator[None]:
    """Any read of django.conf.settings fails the test (assigning `_wrapped` also drops the
    values LazySettings cached)."""
    wrapped = settings._wrapped
    settings._wrapped = _NoSettings()
    try:
        yield
    finally:
        settings._wrapped = wrapped


def _by_kind(objects: list[dict]) -> dict[str, dict]:
    return {obj["kind"]: obj for obj in objects}


def test_two_contexts_render_two_platforms_without_reading_the_settings():
    tenant = builders.tenant("acme")
    endpoint = builders.endpoint()
    with settings_unreadable():
        first = _by_kind(
            tenant_objects(tenant, CONTEXT)
            + endpoint_objects(endpoint, spec=SCALE_TO_ZERO, context=CONTEXT)
        )
        second = _by_kind(
            tenant_objects(tenant, OTHER)
            + endpoint_objects(endpoint, spec=SCALE_TO_ZERO, context=OTHER)
        )

    peers = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in second["NetworkPolicy"]["spec"]["ingress"][0]["from"]
        if "namespaceSelector" in peer
    ]
    assert peers == ["edge-system", "observability", "autoscaling"]
    assert second["ReferenceGrant"]["metadata"]["namespace"] == "autoscaling"
    assert first["ReferenceGrant"]["metadata"]["namespace"] == CONTEXT.keda_http_namespace

    route = second["HTTPRoute"]["spec"]
    assert route["parentRefs"][0]["name"] == "edge"
    assert route["hostnames"] == ["chat.acme.models.example.org"]
    assert first["HTTPRoute"]["spec"]["hostnames"] == [f"chat.acme.{CONTEXT.endpoint_base_domain}"]
    assert route["rules"][0]["backendRefs"][0]["name"] == "interceptor"

    pod = second["Deployment"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == L40S.node_selector
    assert first["Deployment"]["spec"]["template"]["spec"]["nodeSelector"] == (
        builders.H100.node_selector
    )
    (token,) = pod["containers"][0]["env"]
    assert token["valueFrom"]["secretKeyRef"]["name"] == "hugging-face"

    triggers = {t["name"]: t["metadata"] for t in second["ScaledObject"]["spec"]["triggers"]}
    assert triggers["queue"]["serverAddress"] == "http://thanos.observability.svc:9090"
    assert triggers["interceptor"]["scalerAddress"] == "scaler.autoscaling:9090"
    assert second["InterceptorRoute"]["spec"]["rules"] == [
        {"hosts": ["chat.acme.models.example.org"]}
    ]


def test_a_context_without_a_pool_for_the_model_refuses_the_render():
    endpoint = builders.endpoint()
    mig_only = replace(CONTEXT, gpu_pools=(builders.A100_MIG,))
    with (
        settings_unreadable(),
        pytest.raises(ValidationFailed, match="No configured GPU pool offers 2 whole GPU"),
    ):
        endpoint_objects(endpoint, spec=SCALE_TO_ZERO, context=mig_only)


def test_the_context_from_settings_reads_every_platform_setting(settings):
    settings.GATEWAY_NAMESPACE = "edge-system"
    settings.GPU_POOLS = [{"name": "l40s", "node_selector": {"nvidia.com/gpu.product": "L40S"}}]
    context = RenderContext.from_settings(settings)
    assert context.gateway_namespace == "edge-system"
    assert context.gpu_pools == (
        GpuPool(name="l40s", node_selector={"nvidia.com/gpu.product": "L40S"}),
    )

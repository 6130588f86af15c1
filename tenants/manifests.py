"""Kubernetes objects of one tenant: its namespace and the guard rails around it. Pure: no I/O,
no settings (what it needs of the platform comes in a RenderContext)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from control_plane.quantities import format_cpu, format_memory
from control_plane.render_context import RenderContext
from tenants.models import Tenant

TENANT_LABEL = "llm-control-plane/tenant"
INFERENCE_SERVICE_ACCOUNT = "inference"

# What the reconciler lists (by the managed-by and tenant labels) to prune objects no longer
# desired. The ReferenceGrant lives in the KEDA HTTP add-on's namespace, not the tenant's.
TENANT_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "Namespace"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ServiceAccount"),
    ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
)

# Requests and limits given to a container that sets none. Our own containers always set both
# (a default limit below an explicit request would get the pod rejected), so these only bound
# containers that something else adds, such as an injected sidecar.
DEFAULT_CONTAINER_REQUEST = {"cpu": "100m", "memory": "256Mi"}
DEFAULT_CONTAINER_LIMIT = {"cpu": "1", "memory": "1Gi"}

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def object_meta(name: str, namespace: str | None, labels: Mapping[str, str]) -> dict:
    """Metadata of every object we render: the name, the namespace unless cluster-scoped, and
    our managed-by label (pruning selects on it) with the caller's labels.

    Names are checked here once more as DNS-1123 labels (at most 63 characters), the strictest
    rule among the kinds we render (a Service name must be one), so a bad name fails at render
    time with its value rather than as a 422 from the API server.
    """
    if not _DNS1123_LABEL.match(name):
        raise ValueError(f"{name!r} is not a DNS-1123 label of at most 63 characters")
    meta: dict = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, **labels}
    return meta


def tenant_labels(tenant: Tenant) -> dict[str, str]:
    return {TENANT_LABEL: tenant.slug}


def tenant_objects(tenant: Tenant, context: RenderContext) -> list[dict]:
    """Namespace, ResourceQuota, LimitRange, NetworkPolicy, ServiceAccount and the
    ReferenceGrant that lets the tenant's HTTPRoutes reach the KEDA HTTP interceptor."""
    namespace = tenant.namespace
    labels = tenant_labels(tenant)
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": object_meta(
                namespace,
                None,
                {
                    **labels,
                    # vLLM needs no privileges; `baseline` still allows its root user and the
                    # memory-backed /dev/shm (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
                    "pod-security.kubernetes.io/enforce": "baseline",
                },
            ),
        },
        _resource_quota(tenant, labels),
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": object_meta("container-defaults", namespace, labels),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": dict(DEFAULT_CONTAINER_REQUEST),
                        "default": dict(DEFAULT_CONTAINER_LIMIT),
                    }
                ]
            },
        },
        _network_policy(namespace, labels, context),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": object_meta(INFERENCE_SERVICE_ACCOUNT, namespace, labels),
            # vLLM never talks to the Kubernetes API; a mounted token would only be a liability.
            "automountServiceAccountToken": False,
        },
        _reference_grant(namespace, labels, context),
    ]


def _resource_quota(tenant: Tenant, labels: Mapping[str, str]) -> dict:
    quota = tenant.quota
    mig = {profile: count for profile, count in sorted(quota.mig_slices.items()) if count > 0}
    cpu = format_cpu(quota.cpu_millicores)
    memory = format_memory(quota.memory_bytes)
    hard = {"requests.nvidia.com/gpu": str(quota.gpus)}
    hard.update({f"requests.nvidia.com/mig-{profile}": str(n) for profile, n in mig.items()})
    hard.update(
        {
            # Every pod we run holds at least one whole GPU or one MIG slice, so the tenant can
            # never run more pods than slices granted; anything beyond would be a pod we did
            # not create. Terminating pods keep counting (and keep their GPU) until they are
            # gone, which is why Deployments roll with maxSurge 0.
            "pods": str(quota.gpus + sum(mig.values())),
            # Our containers set requests equal to limits, so both pairs carry the same grant.
            "requests.cpu": cpu,
            "limits.cpu": cpu,
            "requests.memory": memory,
            "limits.memory": memory,
        }
    )
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": object_meta("tenant-quota", tenant.namespace, labels),
        "spec": {"hard": hard},
    }


def _namespace_peer(name: str) -> dict:
    # `kubernetes.io/metadata.name` is set by the API server on every namespace and cannot be
    # forged by a tenant (https://kubernetes.io/docs/concepts/services-networking/network-policies/).
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _network_policy(namespace: str, labels: Mapping[str, str], context: RenderContext) -> dict:
    """Deny ingress except from the gateway, from Prometheus (scrapes), from the KEDA HTTP
    interceptor (scale-to-zero traffic) and from the namespace itself. Egress stays open: model
    weights are downloaded from Hugging Face or object storage."""
    peers = [
        _namespace_peer(context.gateway_namespace),
        _namespace_peer(context.monitoring_namespace),
        _namespace_peer(context.keda_http_namespace),
        {"podSelector": {}},
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": object_meta("ingress", namespace, labels),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers}],
        },
    }


def _reference_grant(namespace: str, labels: Mapping[str, str], context: RenderContext) -> dict:
    """Lets this tenant's HTTPRoutes use the interceptor proxy Service as a backend: a route in
    one namespace may only reference a Service in another when a ReferenceGrant there allows it
    (https://gateway-api.sigs.k8s.io/api-types/referencegrant/). Named after the tenant's
    namespace so that each tenant has its own grant, pruned with the tenant."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": object_meta(namespace, context.keda_http_namespace, labels),
        "spec": {
            "from": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": namespace}
            ],
            "to": [{"group": "", "kind": "Service", "name": context.keda_http_interceptor_service}],
        },
    }

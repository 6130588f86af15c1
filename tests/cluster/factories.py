"""Small Kubernetes objects for backend tests, as plain dicts like manifests.py renders."""

from __future__ import annotations

from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE

MANAGED = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}


def namespace(name: str = "tenant-acme") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**MANAGED, "tenant": name.removeprefix("tenant-")}},
    }


def resource_quota(namespace: str = "tenant-acme", *, gpus: int = 1, name: str = "gpu") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED)},
        "spec": {"hard": {"requests.nvidia.com/gpu": str(gpus), "pods": "10"}},
    }


def deployment(
    name: str = "chat-r1",
    namespace: str = "tenant-acme",
    *,
    gpus: int = 1,
    replicas: int | None = None,
    image: str = "vllm/vllm-openai:v0.11.0",
    labels: dict | None = None,
) -> dict:
    pod_labels = {"app.kubernetes.io/name": name}
    container = {
        "name": "vllm",
        "image": image,
        "resources": {
            "requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": str(gpus)},
            "limits": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": str(gpus)},
        },
    }
    spec: dict = {
        "selector": {"matchLabels": pod_labels},
        "template": {"metadata": {"labels": pod_labels}, "spec": {"containers": [container]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**MANAGED, **(labels or {})},
        },
        "spec": spec,
    }


def scaled_object(name: str = "chat", namespace: str = "tenant-acme", target: str = "chat-r1"):
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED)},
        "spec": {
            "scaleTargetRef": {"name": target},
            "minReplicaCount": 0,
            "maxReplicaCount": 4,
            "triggers": [
                {
                    "type": "prometheus",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": "http://prometheus.monitoring:9090",
                        "query": "sum(vllm:num_requests_waiting)",
                        "threshold": "4",
                    },
                }
            ],
        },
    }


def http_route(name: str = "chat", namespace: str = "tenant-acme") -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED)},
        "spec": {
            "parentRefs": [{"name": "inference-gateway", "namespace": "gateway-system"}],
            "rules": [{"backendRefs": [{"name": "chat-r1", "port": 8000, "weight": 100}]}],
        },
    }


def tenant_objects(namespace_name: str = "tenant-acme") -> list[dict]:
    """A tenant with one endpoint, in the order a reconciler passes them (CRD kinds last)."""
    return [
        namespace(namespace_name),
        resource_quota(namespace_name, gpus=2),
        deployment(namespace=namespace_name),
        scaled_object(namespace=namespace_name),
        http_route(namespace=namespace_name),
    ]

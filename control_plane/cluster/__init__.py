"""Cluster backends: where rendered Kubernetes objects go.

`get_backend()` picks one from settings: `directory` (YAML files for GitOps, the embedded
default) or `kubernetes` (server-side apply to a real API server).
"""

from __future__ import annotations

from control_plane.cluster.errors import (
    ClusterError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    QuotaExceeded,
    ServerError,
    Throttled,
    Unreachable,
)
from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from control_plane.cluster.types import ApplyResult, ClusterBackend, ObjectRef

__all__ = [
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "ApplyResult",
    "ClusterBackend",
    "ClusterError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "ObjectRef",
    "QuotaExceeded",
    "ServerError",
    "Throttled",
    "Unreachable",
    "get_backend",
]


def get_backend() -> ClusterBackend:
    # Imported here so that importing the package needs neither configured settings nor the
    # kubernetes client.
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    kind = getattr(settings, "CLUSTER_BACKEND", "directory")
    if kind == "directory":
        from control_plane.cluster.directory_backend import DirectoryBackend

        return DirectoryBackend(getattr(settings, "CLUSTER_DIRECTORY", "manifests"))
    if kind == "kubernetes":
        from kubernetes.config import ConfigException

        from control_plane.cluster.kubernetes_backend import KubernetesBackend

        try:
            return KubernetesBackend.from_config(
                kubeconfig=getattr(settings, "KUBECONFIG", ""),
                context=getattr(settings, "KUBE_CONTEXT", ""),
                in_cluster=getattr(settings, "KUBE_IN_CLUSTER", False),
                field_manager=getattr(settings, "CLUSTER_FIELD_MANAGER", MANAGED_BY_VALUE),
            )
        except ConfigException as error:
            raise ImproperlyConfigured(f"cannot load Kubernetes credentials: {error}") from error
    raise ImproperlyConfigured(f"CLUSTER_BACKEND must be 'directory' or 'kubernetes', got {kind!r}")

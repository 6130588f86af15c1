"""The kinds the fake API server serves, and its discovery documents.

Discovery follows what `kubernetes.dynamic.DynamicClient` reads: `/version`, `/apis` (an
APIGroupList whose `preferredVersion` must equal one of the listed versions exactly), `/api/v1`
and `/apis/<group>/<version>` (APIResourceLists; names with a slash are subresources).
"""

from __future__ import annotations

from dataclasses import dataclass

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    versions: tuple[str, ...]  # served versions, preferred first
    kind: str
    plural: str
    namespaced: bool
    subresources: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        """`deployments.apps`, or `pods` for the core group: how the API server names it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Deployment.apps`, or `Pod`: how validation errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "Namespace", "namespaces", False, ("status", "finalize")),
    ResourceType("", ("v1",), "ResourceQuota", "resourcequotas", True, ("status",)),
    ResourceType("", ("v1",), "LimitRange", "limitranges", True),
    ResourceType("", ("v1",), "ServiceAccount", "serviceaccounts", True),
    ResourceType("", ("v1",), "Service", "services", True, ("status",)),
    ResourceType("", ("v1",), "Pod", "pods", True, ("status", "log")),
    ResourceType("", ("v1",), "PersistentVolumeClaim", "persistentvolumeclaims", True, ("status",)),
    ResourceType("", ("v1",), "Secret", "secrets", True),
    ResourceType("apps", ("v1",), "Deployment", "deployments", True, ("status", "scale")),
    ResourceType("networking.k8s.io", ("v1",), "NetworkPolicy", "networkpolicies", True),
    ResourceType("policy", ("v1",), "PodDisruptionBudget", "poddisruptionbudgets", True),
    ResourceType("keda.sh", ("v1alpha1",), "ScaledObject", "scaledobjects", True, ("status",)),
    ResourceType(
        "http.keda.sh", ("v1beta1",), "InterceptorRoute", "interceptorroutes", True, ("status",)
    ),
    # Versions as served by the CRDs in ../shared/crds (gateway-api standard channel).
    ResourceType("gateway.networking.k8s.io", ("v1", "v1beta1"), "HTTPRoute", "httproutes", True),
    ResourceType(
        "gateway.networking.k8s.io", ("v1", "v1beta1"), "ReferenceGrant", "referencegrants", True
    ),
    ResourceType("monitoring.coreos.com", ("v1",), "PodMonitor", "podmonitors", True),
)


def find(group: str, version: str, plural: str) -> ResourceType | None:
    for resource in RESOURCES:
        if resource.group == group and version in resource.versions and resource.plural == plural:
            return resource
    return None


def version_document() -> dict:
    return {
        "major": "1",
        "minor": "34",
        "gitVersion": "v1.34.0-fake",
        "platform": "linux/amd64",
    }


def core_versions_document() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}


def group_list_document() -> dict:
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group:
            versions = groups.setdefault(resource.group, [])
            versions.extend(v for v in resource.versions if v not in versions)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": group,
                "versions": [_group_version(group, v) for v in versions],
                "preferredVersion": _group_version(group, versions[0]),
            }
            for group, versions in groups.items()
        ],
    }


def resource_list_document(group: str, version: str) -> dict | None:
    served = [r for r in RESOURCES if r.group == group and version in r.versions]
    if not served:
        return None
    entries = []
    for resource in served:
        entries.append(
            {
                "name": resource.plural,
                "singularName": resource.kind.lower(),
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": VERBS,
            }
        )
        entries.extend(
            {
                "name": f"{resource.plural}/{sub}",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": "Scale" if sub == "scale" else resource.kind,
                "verbs": ["get", "patch", "update"],
            }
            for sub in resource.subresources
        )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def _group_version(group: str, version: str) -> dict:
    return {"groupVersion": f"{group}/{version}", "version": version}

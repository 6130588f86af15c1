"""Pruning objects whose tenant or endpoint row no longer exists (deleted while the cluster
was unreachable, or by hand): anything carrying our managed-by label and no owner goes."""

from __future__ import annotations

from django.conf import settings

from control_plane.cluster import MANAGED_BY_LABEL, MANAGED_BY_VALUE, ClusterBackend
from control_plane.cluster.sync import delete_all
from endpoints.manifests import ENDPOINT_KINDS, ENDPOINT_LABEL
from endpoints.models import Endpoint
from tenants.manifests import TENANT_KINDS, TENANT_LABEL
from tenants.models import Tenant

OURS = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
# Every endpoint has an HTTPRoute and each revision a Deployment: listing these two finds them.
OWNER_KINDS = (("apps/v1", "Deployment"), ("gateway.networking.k8s.io/v1", "HTTPRoute"))


def _label(obj: dict, key: str) -> str | None:
    return (obj.get("metadata", {}).get("labels") or {}).get(key)


def prune_orphans(backend: ClusterBackend) -> list[str]:
    removed: list[str] = []
    known = dict(Tenant.objects.values_list("slug", "pk"))
    for namespace in backend.list("v1", "Namespace", None, OURS):
        slug = _label(namespace, TENANT_LABEL)
        if slug is None:
            continue
        if slug not in known:
            scopes = [
                (v, k, None if k == "Namespace" else settings.KEDA_HTTP_NAMESPACE)
                for v, k in TENANT_KINDS
                if k in ("Namespace", "ReferenceGrant")
            ]
            removed += delete_all(backend, scopes=scopes, selector={TENANT_LABEL: slug})
            continue
        endpoints = set(
            Endpoint.objects.filter(tenant_id=known[slug]).values_list("name", flat=True)
        )
        namespace_name = namespace["metadata"]["name"]
        seen = set()
        for api_version, kind in (
            ("apps/v1", "Deployment"),
            ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ):
            for obj in backend.list(api_version, kind, namespace_name, OURS):
                name = _label(obj, ENDPOINT_LABEL)
                if name and name not in endpoints:
                    seen.add(name)
        for name in sorted(seen):
            scopes = [(v, k, namespace_name) for v, k in ENDPOINT_KINDS]
            removed += delete_all(backend, scopes=scopes, selector={ENDPOINT_LABEL: name})
    return removed

"""The chart's ClusterRole grants exactly what the `kubernetes` backend uses: derived here from
the code (the kinds the reconcilers sync, the backend's operations, the kinds read by literal
reference), and checked against a real run of the reconcilers on the fake API server."""

from __future__ import annotations

import ast
import inspect
from collections import defaultdict
from pathlib import Path

import pytest

from control_plane.cluster.kubernetes_backend import KubernetesBackend
from control_plane.cluster.types import ClusterBackend
from control_plane.orphans import prune_orphans
from endpoints import services as endpoint_services
from endpoints.manifests import ENDPOINT_KINDS
from endpoints.reconciler import reconcile_endpoint
from tenants import services as tenant_services
from tenants.manifests import TENANT_KINDS
from tenants.reconciler import reconcile_tenant
from tests.factories import system
from tests.fakes.kube_resources import RESOURCES
from tests.fakes.kube_state import PodProblem
from tests.helm.chart import CREDENTIALS, NAMESPACE, by_kind, render

ROOT = Path(__file__).resolve().parents[2]
APP_SOURCES = ("control_plane", "endpoints", "tenants", "scaling")
# The RBAC verbs each operation of the backend protocol needs. Apply is a server-side apply
# (PATCH), which is authorized as `create` when the object does not exist yet:
# https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
OPERATION_VERBS = {
    "apply": {"patch", "create"},
    "get": {"get"},
    "list": {"list"},
    "delete": {"delete"},
}
PLURALS = {(resource.group, resource.kind): resource.plural for resource in RESOURCES}

Grants = dict[tuple[str, str], set[str]]


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _literal_reads() -> set[tuple[str, str, str]]:
    """(operation, api_version, kind) of every call in the app that names its kind literally:
    `backend.list("v1", "Pod", ...)`, `backend.get(ObjectRef("apps/v1", "Deployment", ...))`."""
    found = set()
    for source in APP_SOURCES:
        for path in (ROOT / source).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call) or len(node.args) < 2:
                    continue
                first, second = node.args[0], node.args[1]
                if not all(
                    isinstance(a, ast.Constant) and isinstance(a.value, str)
                    for a in (first, second)
                ):
                    continue
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name == "list":
                    found.add(("list", first.value, second.value))
                elif name == "ObjectRef":
                    found.add(("get", first.value, second.value))
    return found


def required_grants() -> Grants:
    """What the code needs: every operation on each kind the reconcilers sync (they apply, list
    to prune, delete and read back any of them), and the named reads of other kinds."""
    protocol = {
        name
        for name, member in inspect.getmembers(ClusterBackend)
        if callable(member) and not name.startswith("_")
    }
    # A new operation on the backend must say here which verbs it needs.
    assert protocol == set(OPERATION_VERBS)
    backend_operations = {
        name for name, _ in inspect.getmembers(KubernetesBackend, inspect.isfunction)
    }
    assert set(OPERATION_VERBS) <= backend_operations
    managed = {(_group(v), kind) for v, kind in (*TENANT_KINDS, *ENDPOINT_KINDS)}
    grants: Grants = defaultdict(set)
    for group, kind in managed:
        for verbs in OPERATION_VERBS.values():
            grants[(group, PLURALS[(group, kind)])] |= verbs
    for operation, api_version, kind in _literal_reads():
        group = _group(api_version)
        grants[(group, PLURALS[(group, kind)])] |= OPERATION_VERBS[operation]
    return dict(grants)


def granted(objects: list[dict]) -> Grants:
    (role,) = by_kind(objects, "ClusterRole")
    grants: Grants = defaultdict(set)
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule  # no nonResourceURLs
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants[(group, resource)] |= set(rule["verbs"])
    return dict(grants)


def test_the_cluster_role_grants_exactly_what_the_code_uses_and_no_wildcard():
    grants = granted(render(CREDENTIALS))
    flat = [
        item for (group, resource), verbs in grants.items() for item in (group, resource, *verbs)
    ]
    assert "*" not in flat
    assert grants == required_grants()
    # Readiness reads pods; it never changes them.
    assert grants[("", "pods")] == {"list"}


def test_the_cluster_role_is_bound_to_the_service_account_the_workloads_run_as():
    objects = render(CREDENTIALS)
    (binding,) = by_kind(objects, "ClusterRoleBinding")
    (account,) = by_kind(objects, "ServiceAccount")
    assert binding["roleRef"]["name"] == by_kind(objects, "ClusterRole")[0]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    for deployment in by_kind(objects, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        if spec.get("automountServiceAccountToken") is False:
            continue
        assert spec["serviceAccountName"] == account["metadata"]["name"]


def _path_resource(path: str) -> tuple[str, str]:
    """(group, plural) of a request path of the API server."""
    parts = path.split("?")[0].strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    return group, rest[0]


@pytest.mark.django_db
def test_a_full_reconcile_cycle_on_the_fake_cluster_needs_no_more_than_granted(
    world, kube_backend, kube_apiserver
):
    """Tenants and endpoints created, an endpoint whose pods do not start, both deleted, orphans
    pruned: every request the backend sent is covered by the ClusterRole."""
    for tenant in (world.own, world.foreign):
        reconcile_tenant(tenant.pk, backend=kube_backend)
    for endpoint in (world.own_endpoint, world.foreign_endpoint):
        reconcile_endpoint(endpoint.pk, backend=kube_backend)
    kube_apiserver.hold_pods("tenant-acme", "chat-r1", PodProblem("ImagePullBackOff", "no image"))
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    endpoint_services.endpoint_delete(actor=system(), endpoint=world.foreign_endpoint)
    assert reconcile_endpoint(world.foreign_endpoint.pk, backend=kube_backend) == "deleted"
    tenant_services.tenant_delete(actor=system(), tenant=world.own)
    assert reconcile_tenant(world.own.pk, backend=kube_backend) == "deleted"
    prune_orphans(kube_backend)

    grants = granted(render(CREDENTIALS))
    used: Grants = defaultdict(set)
    for request in kube_apiserver.requests():
        if request.verb == "discovery":
            continue  # /api, /apis: every authenticated user may read them (system:discovery)
        verb = {"apply": "patch"}.get(request.verb, request.verb)
        used[_path_resource(request.path)].add(verb)
        if request.verb == "apply" and request.status == 201:
            used[_path_resource(request.path)].add("create")
    assert used[("", "pods")] == {"list"}
    assert {"create", "patch", "delete", "list"} <= used[("apps", "deployments")]
    for resource, verbs in used.items():
        assert verbs <= grants.get(resource, set()), (resource, verbs)

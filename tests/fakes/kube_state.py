"""The fake API server's storage and semantics, without HTTP.

What it keeps of the real server's behaviour, and why tests depend on it:
- server-side apply creates or replaces the fields of the applying manager; fields it leaves out
  that another manager set (`spec.replicas` written by an autoscaler) stay, and sending one of
  those with another value is a conflict unless `force=true`;
- `metadata.resourceVersion` moves only when the object really changes, `generation` only when
  its spec does; `uid` and `creationTimestamp` are set on create;
- namespaced objects need their Namespace, and go with it;
- ResourceQuota admission for pods, and a Deployment "controller" that starts the pods that fit
  the quota and reports the others in a `ReplicaFailure` condition, as a ReplicaSet does.
Deployment pods are counted, not stored: listing Pods shows only pods created directly.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes import kube_quota
from tests.fakes.kube_resources import RESOURCES, ResourceType

# Lists of these groups' kinds return items without apiVersion and kind, as the real server
# does for built-in types; custom resources keep them.
_BUILT_IN_GROUPS = {"", "apps", "networking.k8s.io", "policy"}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
# Kinds whose names must be DNS labels rather than subdomains.
_LABEL_NAMED = {"Namespace", "Service"}
_REPLICAS = ("spec", "replicas")


class ApiError(Exception):
    """A failure the fake answers with a `Status` body, worded like the real server."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status_body(self) -> dict:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


@dataclass
class _Stored:
    resource: ResourceType
    body: dict
    sequence: int
    # Fields set by someone other than the applying manager: path -> (value, manager or None
    # for server defaults, which any manager may take over without conflict).
    foreign: dict[tuple[str, ...], tuple[Any, str | None]] = field(default_factory=dict)


class ClusterState:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, str, str | None, str], _Stored] = {}
        # (group, plural) -> keys of its objects, so a list does not scan the whole cluster
        # (the reconcile benchmark lists thousands of times against thousands of objects).
        self._by_kind: dict[tuple[str, str], set[tuple[str, str, str | None, str]]] = {}
        self._by_namespace: dict[str | None, set[tuple[str, str, str | None, str]]] = {}
        self._revision = 0
        self._sequence = 0
        # (namespace, Deployment name) -> why its pods do not start (see `hold_pods`).
        self._pod_problems: dict[tuple[str, str], PodProblem] = {}

    # -- reads -------------------------------------------------------------------------------

    def get(self, resource: ResourceType, version: str, namespace: str | None, name: str) -> dict:
        with self._lock:
            return self._served(self._existing(resource, namespace, name).body, resource, version)

    def list(
        self, resource: ResourceType, version: str, namespace: str | None, label_selector: str
    ) -> dict:
        requirements = _parse_selector(label_selector)
        with self._lock:
            keys = sorted(
                key
                for key in self._by_kind.get((resource.group, resource.plural), ())
                if namespace is None or key[2] == namespace
            )
            bodies = [self._objects[key].body for key in keys]
            if resource.kind == "Pod":
                bodies += self._held_pods(namespace)
            items = [
                self._served(body, resource, version)
                for body in bodies
                if all(req(body["metadata"].get("labels") or {}) for req in requirements)
            ]
            revision = self._revision
        if resource.group in _BUILT_IN_GROUPS:
            for item in items:
                del item["apiVersion"], item["kind"]
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version(version),
            "metadata": {"resourceVersion": str(revision)},
            "items": items,
        }

    # -- writes ------------------------------------------------------------------------------

    def create(
        self, resource: ResourceType, version: str, namespace: str | None, body: dict
    ) -> dict:
        with self._lock:
            body = self._checked_body(resource, version, namespace, body, url_name=None)
            name = body["metadata"]["name"]
            if self._key(resource, namespace, name) in self._objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{resource.qualified} "{name}" already exists',
                    _details(resource, name),
                )
            self._refuse_in_terminating_namespace(resource, namespace, body)
            stored = self._insert(resource, namespace, body)
            return self._served(stored.body, resource, version)

    def apply(
        self,
        resource: ResourceType,
        version: str,
        namespace: str | None,
        name: str,
        body: dict,
        *,
        field_manager: str,
        force: bool,
    ) -> tuple[dict, bool]:
        """The object after the apply, and whether the apply created it."""
        if not field_manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        with self._lock:
            body = self._checked_body(resource, version, namespace, body, url_name=name)
            stored = self._objects.get(self._key(resource, namespace, name))
            created = stored is None
            if stored is None:
                self._refuse_in_terminating_namespace(resource, namespace, body)
                stored = self._insert(resource, namespace, body, field_manager=field_manager)
            else:
                self._reapply(stored, body, force=force, field_manager=field_manager)
            return self._served(stored.body, resource, version), created

    def delete(self, resource: ResourceType, namespace: str | None, name: str) -> dict:
        with self._lock:
            stored = self._existing(resource, namespace, name)
            if stored.body["metadata"].get("finalizers"):
                # Kept, marked for deletion, until its finalizers are removed (by the operator
                # that set them, here `remove_finalizers`).
                self._mark_deleted(stored)
            elif resource.kind == "Namespace":
                self._terminate_namespace(stored, name)
            else:
                self._forget(self._key(resource, namespace, name))
            self._revision += 1
            self._settle(namespace)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {**_details(resource, name), "uid": stored.body["metadata"]["uid"]},
            }

    def remove_finalizers(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> None:
        """What the operator that set them does when its cleanup is done: the object goes if it
        was being deleted, and its Namespace too once nothing is left in it."""
        with self._lock:
            stored = self._existing(self._resource_of(api_version, kind), namespace, name)
            stored.body["metadata"].pop("finalizers", None)
            if stored.body["metadata"].get("deletionTimestamp"):
                self._forget(self._key(stored.resource, namespace, name))
            if namespace is not None and not self._by_namespace.get(namespace):
                ns = self._objects.get(("", "namespaces", None, namespace))
                if ns is not None and ns.body["metadata"].get("deletionTimestamp"):
                    self._forget(("", "namespaces", None, namespace))
            self._revision += 1

    def _refuse_in_terminating_namespace(
        self, resource: ResourceType, namespace: str | None, body: dict
    ) -> None:
        """The NamespaceLifecycle admission plugin refuses new objects in a namespace being
        deleted (k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle)."""
        if namespace is None:
            return
        ns = self._objects.get(("", "namespaces", None, namespace))
        if ns is not None and ns.body["metadata"].get("deletionTimestamp"):
            name = body["metadata"]["name"]
            raise ApiError(
                403,
                "Forbidden",
                f'{resource.plural} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                {"name": name, "kind": resource.plural},
            )

    def _mark_deleted(self, stored: _Stored) -> None:
        new_body = copy.deepcopy(stored.body)
        new_body["metadata"].setdefault("deletionTimestamp", _now())
        self._replace(stored, new_body)

    def _terminate_namespace(self, stored: _Stored, name: str) -> None:
        """The namespace controller deletes everything inside; objects with finalizers stay,
        and keep the Namespace `Terminating` until they are gone."""
        for key in list(self._by_namespace.get(name, ())):
            if self._objects[key].body["metadata"].get("finalizers"):
                self._mark_deleted(self._objects[key])
            else:
                self._forget(key)
        if self._by_namespace.get(name):
            self._mark_deleted(stored)
            stored.body["status"] = {"phase": "Terminating"}
        else:
            self._forget(self._key(stored.resource, None, name))

    def _resource_of(self, api_version: str, kind: str) -> ResourceType:
        return next(
            r
            for r in RESOURCES
            if r.kind == kind and api_version in {r.api_version(v) for v in r.versions}
        )

    def hand_edit(
        self, api_version: str, kind: str, namespace: str | None, name: str, edit
    ) -> None:
        """What `kubectl edit` or `kubectl patch` does: `edit(body)` changes a copy of the
        object in place, under another field manager, leaving our annotations as they were."""
        resource = self._resource_of(api_version, kind)
        with self._lock:
            stored = self._existing(resource, namespace, name)
            new_body = copy.deepcopy(stored.body)
            edit(new_body)
            self._replace(stored, new_body)
            self._settle(namespace)

    def hold_pods(self, namespace: str, name: str, problem: PodProblem | None) -> None:
        """Keep a Deployment's pods from becoming ready, as a bad image, a crash loop or a
        node shortage does: its pods exist (and are listed) but are not ready, and with
        `problem.deadline_exceeded` the Deployment reports ProgressDeadlineExceeded, as the
        controller does after `progressDeadlineSeconds`. None lets them start."""
        with self._lock:
            if problem is None:
                self._pod_problems.pop((namespace, name), None)
            else:
                self._pod_problems[(namespace, name)] = problem
            self._settle(namespace)

    def _held_pods(self, namespace: str | None) -> list[dict]:
        pods = []
        for (where, name), problem in sorted(self._pod_problems.items()):
            if namespace is not None and where != namespace:
                continue
            deployment = next(
                (
                    d
                    for d in self._of_kind("Deployment", where)
                    if d.body["metadata"]["name"] == name
                ),
                None,
            )
            if deployment is None:
                continue
            for index in range(deployment.body["spec"].get("replicas", 1)):
                pods.append(_held_pod(deployment.body, index, problem))
        return pods

    def set_replicas(
        self, namespace: str, name: str, replicas: int, *, manager: str = "keda-operator"
    ) -> None:
        """What an autoscaler does through the scale subresource."""
        deployments = next(r for r in RESOURCES if r.kind == "Deployment")
        with self._lock:
            stored = self._existing(deployments, namespace, name)
            new_body = copy.deepcopy(stored.body)
            new_body["spec"]["replicas"] = replicas
            stored.foreign[_REPLICAS] = (replicas, manager)
            self._replace(stored, new_body)
            self._settle(namespace)

    # -- internals ---------------------------------------------------------------------------

    def _checked_body(
        self,
        resource: ResourceType,
        version: str,
        namespace: str | None,
        body: dict,
        *,
        url_name: str | None,
    ) -> dict:
        body = copy.deepcopy(body)
        metadata = body.setdefault("metadata", {})
        expected = (resource.api_version(version), resource.kind)
        if (body.get("apiVersion"), body.get("kind")) != expected:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({body.get('apiVersion')}) and kind "
                f"({body.get('kind')}) do not match the request ({'/'.join(expected)})",
            )
        if url_name is not None and metadata.get("name") != url_name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({metadata.get('name')}) does not match the name on "
                f"the URL ({url_name})",
            )
        if resource.namespaced:
            if metadata.setdefault("namespace", namespace) != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            if self._objects.get(("", "namespaces", None, namespace)) is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"},
                )
        else:
            metadata.pop("namespace", None)
        _validate(resource, body)
        return body

    def _insert(
        self,
        resource: ResourceType,
        namespace: str | None,
        body: dict,
        *,
        field_manager: str | None = None,
    ) -> _Stored:
        name = body["metadata"]["name"]
        if resource.kind == "Pod":
            self._admit_pod(namespace, name, body.get("spec") or {})
        self._revision += 1
        self._sequence += 1
        body["metadata"].update(
            uid=str(uuid.uuid4()),
            creationTimestamp=_now(),
            resourceVersion=str(self._revision),
            generation=1,
        )
        stored = _Stored(resource, body, self._sequence)
        if resource.kind == "Deployment":
            if "replicas" in body.get("spec", {}):
                # Owned by the manager that created the object with it.
                stored.foreign[_REPLICAS] = (body["spec"]["replicas"], field_manager)
            else:
                # Defaulted by the API server; an autoscaler may take it over later.
                stored.foreign[_REPLICAS] = (1, None)
        _apply_foreign(body, stored.foreign)
        _add_defaults(resource, body)
        key = self._key(resource, namespace, name)
        self._objects[key] = stored
        self._by_kind.setdefault(key[:2], set()).add(key)
        self._by_namespace.setdefault(key[2], set()).add(key)
        self._settle(namespace)
        return stored

    def _forget(self, key: tuple[str, str, str | None, str]) -> None:
        del self._objects[key]
        self._by_kind[key[:2]].discard(key)
        self._by_namespace[key[2]].discard(key)

    def _reapply(
        self, stored: _Stored, body: dict, *, force: bool, field_manager: str | None = None
    ) -> None:
        for path, (value, manager) in list(stored.foreign.items()):
            if manager is not None and manager == field_manager:
                if _has_path(body, path):
                    stored.foreign[path] = (_get_path(body, path), manager)
                elif path == _REPLICAS:
                    # Its only owner stopped sending it: removed, then defaulted again.
                    stored.foreign[path] = (1, None)
                else:
                    del stored.foreign[path]
                continue
            if not _has_path(body, path):
                continue
            if manager is not None and _get_path(body, path) != value and not force:
                api_version = stored.resource.api_version(stored.resource.versions[0])
                conflict = f'conflict with "{manager}" using {api_version}'
                raise ApiError(
                    409,
                    "Conflict",
                    f"Apply failed with 1 conflict: {conflict}: .{'.'.join(path)}",
                    {
                        **_details(stored.resource, body["metadata"]["name"]),
                        "causes": [
                            {
                                "reason": "FieldManagerConflict",
                                "message": conflict,
                                "field": "." + ".".join(path),
                            }
                        ],
                    },
                )
            # The applying manager now owns the field (with force, the other one loses it).
            del stored.foreign[path]
        new_body = copy.deepcopy(body)
        old_metadata = stored.body["metadata"]
        for key in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            new_body["metadata"][key] = old_metadata[key]
        if "status" in stored.body:
            new_body["status"] = stored.body["status"]
        _add_defaults(stored.resource, new_body)
        _apply_foreign(new_body, stored.foreign)
        self._replace(stored, new_body)
        self._settle(new_body["metadata"].get("namespace"))

    def _replace(self, stored: _Stored, new_body: dict) -> None:
        """Store a new version; resourceVersion and generation move only on a real change."""
        if _comparable(new_body) == _comparable(stored.body):
            return
        if _spec_of(new_body) != _spec_of(stored.body):
            new_body["metadata"]["generation"] = stored.body["metadata"]["generation"] + 1
        self._revision += 1
        new_body["metadata"]["resourceVersion"] = str(self._revision)
        stored.body = new_body

    def _admit_pod(self, namespace: str | None, name: str, pod_spec: dict) -> None:
        used = Counter()
        for pod in self._of_kind("Pod", namespace):
            used.update(kube_quota.pod_usage(pod.body.get("spec") or {}))
        for deployment in self._of_kind("Deployment", namespace):
            running = (deployment.body.get("status") or {}).get("replicas", 0)
            for _ in range(running):
                used.update(kube_quota.pod_usage(_template_spec(deployment.body)))
        quotas = [q.body for q in self._of_kind("ResourceQuota", namespace)]
        refusal = kube_quota.refusal(quotas, used, pod_spec)
        if refusal:
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: {refusal}',
                {"name": name, "kind": "pods"},
            )

    def _settle(self, namespace: str | None) -> None:
        """Run the Deployment controller and the quota controller of one namespace."""
        if namespace is None:
            return
        quotas = self._of_kind("ResourceQuota", namespace)
        quota_bodies = [q.body for q in quotas]
        used = Counter()
        for pod in self._of_kind("Pod", namespace):
            used.update(kube_quota.pod_usage(pod.body.get("spec") or {}))
        for deployment in self._of_kind("Deployment", namespace):
            desired = deployment.body["spec"].get("replicas", 1)
            pod_spec = _template_spec(deployment.body)
            started, failure = 0, None
            problem = self._pod_problems.get((namespace, deployment.body["metadata"]["name"]))
            if problem is not None:
                self._set_status(deployment, _held_status(deployment.body, desired, problem))
                continue
            while started < desired:
                refusal = kube_quota.refusal(quota_bodies, used, pod_spec)
                if refusal:
                    pod_name = _pod_name(deployment.body, started)
                    failure = f'pods "{pod_name}" is forbidden: {refusal}'
                    break
                used.update(kube_quota.pod_usage(pod_spec))
                started += 1
            self._set_status(
                deployment, _deployment_status(deployment.body, desired, started, failure)
            )
        for quota in quotas:
            self._set_status(quota, kube_quota.quota_status(quota.body, used))

    def _set_status(self, stored: _Stored, status: dict) -> None:
        new_body = copy.deepcopy(stored.body)
        new_body["status"] = status
        self._replace(stored, new_body)

    def _of_kind(self, kind: str, namespace: str | None) -> list[_Stored]:
        found = [
            self._objects[key]
            for key in self._by_namespace.get(namespace, ())
            if self._objects[key].resource.kind == kind
        ]
        return sorted(found, key=lambda stored: stored.sequence)

    def _existing(self, resource: ResourceType, namespace: str | None, name: str) -> _Stored:
        stored = self._objects.get(self._key(resource, namespace, name))
        if stored is None:
            raise ApiError(
                404,
                "NotFound",
                f'{resource.qualified} "{name}" not found',
                _details(resource, name),
            )
        return stored

    @staticmethod
    def _key(
        resource: ResourceType, namespace: str | None, name: str
    ) -> tuple[str, str, str | None, str]:
        return (resource.group, resource.plural, namespace if resource.namespaced else None, name)

    @staticmethod
    def _served(body: dict, resource: ResourceType, version: str) -> dict:
        # Every served version of the fake's kinds has the same schema: only apiVersion differs.
        return {**copy.deepcopy(body), "apiVersion": resource.api_version(version)}


def _validate(resource: ResourceType, body: dict) -> None:
    causes = []
    name = body["metadata"].get("name")
    if not name:
        causes.append(
            _cause(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
    else:
        as_label = resource.kind in _LABEL_NAMED
        pattern, rule, limit = (
            (_DNS_LABEL, _LABEL_MESSAGE, 63)
            if as_label
            else (_DNS_SUBDOMAIN, _SUBDOMAIN_MESSAGE, 253)
        )
        if len(name) > limit or not pattern.match(name):
            causes.append(
                _cause("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {rule}')
            )
    if resource.kind == "Deployment":
        causes.extend(_deployment_causes(body.get("spec") or {}))
    if resource.kind == "Pod":
        causes.extend(_pod_causes(body.get("spec") or {}, "spec"))
    if causes:
        fields = [f"{c['field']}: {c['message']}" for c in causes]
        summary = fields[0] if len(fields) == 1 else f"[{', '.join(fields)}]"
        raise ApiError(
            422,
            "Invalid",
            f'{resource.qualified_kind} "{name}" is invalid: {summary}',
            {**_details(resource, name or ""), "causes": causes},
        )


def _deployment_causes(spec: dict) -> list[dict]:
    causes = []
    match_labels = (spec.get("selector") or {}).get("matchLabels")
    template = spec.get("template") or {}
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    if not spec.get("selector"):
        causes.append(_cause("FieldValueRequired", "spec.selector", "Required value"))
    elif match_labels and any(template_labels.get(k) != v for k, v in match_labels.items()):
        causes.append(
            _cause(
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                f"Invalid value: {template_labels!r}: `selector` does not match template `labels`",
            )
        )
    causes.extend(_pod_causes(template.get("spec") or {}, "spec.template.spec"))
    return causes


def _pod_causes(pod_spec: dict, prefix: str) -> list[dict]:
    containers = pod_spec.get("containers") or []
    if not containers:
        return [_cause("FieldValueRequired", f"{prefix}.containers", "Required value")]
    causes = []
    for index, container in enumerate(containers):
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        for resource_name, request in (resources.get("requests") or {}).items():
            if resource_name in limits and kube_quota.parse_quantity(
                request
            ) > kube_quota.parse_quantity(limits[resource_name]):
                causes.append(
                    _cause(
                        "FieldValueInvalid",
                        f"{prefix}.containers[{index}].resources.requests",
                        f'Invalid value: "{request}": must be less than or equal to '
                        f"{resource_name} limit of {limits[resource_name]}",
                    )
                )
    return causes


def _deployment_status(body: dict, desired: int, started: int, failure: str | None) -> dict:
    previous = {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}
    replica_set = f"{body['metadata']['name']}-{_template_hash(body)}"
    # The default rolling update allows 25% of the desired replicas (rounded down) to be missing.
    available = started >= desired - desired * 25 // 100
    conditions = [
        _condition(
            previous,
            "Available",
            available,
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
        ),
        _condition(
            previous,
            "Progressing",
            True,
            "NewReplicaSetAvailable" if started == desired else "ReplicaSetUpdated",
            f'ReplicaSet "{replica_set}" has successfully progressed.'
            if started == desired
            else f'ReplicaSet "{replica_set}" is progressing.',
        ),
    ]
    if failure:
        conditions.append(_condition(previous, "ReplicaFailure", True, "FailedCreate", failure))
    counts = {
        "replicas": started,
        "updatedReplicas": started,
        "readyReplicas": started,
        "availableReplicas": started,
        "unavailableReplicas": desired - started,
    }
    # The real server leaves zero counts out of the JSON (`omitempty`).
    return {
        "observedGeneration": body["metadata"]["generation"],
        **{key: value for key, value in counts.items() if value},
        "conditions": conditions,
    }


def _condition(previous: dict, kind: str, status: bool, reason: str, message: str) -> dict:
    condition = {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
    }
    before = previous.get(kind) or {}
    # Timestamps move only on a transition, so a steady state does not churn resourceVersion.
    unchanged = all(before.get(key) == value for key, value in condition.items())
    now = _now()
    condition["lastTransitionTime"] = before.get("lastTransitionTime", now) if unchanged else now
    condition["lastUpdateTime"] = before.get("lastUpdateTime", now) if unchanged else now
    return condition


def _add_defaults(resource: ResourceType, body: dict) -> None:
    if resource.kind == "Namespace":
        # Set by the API server on every Namespace since Kubernetes 1.21.
        labels = body["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = body["metadata"]["name"]
        body["status"] = {"phase": "Active"}


def _apply_foreign(body: dict, foreign: dict[tuple[str, ...], tuple[Any, str | None]]) -> None:
    for path, (value, _) in foreign.items():
        if not _has_path(body, path):
            _set_path(body, path, value)


def _has_path(body: dict, path: tuple[str, ...]) -> bool:
    node: Any = body
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _get_path(body: dict, path: tuple[str, ...]) -> Any:
    node: Any = body
    for key in path:
        node = node[key]
    return node


def _set_path(body: dict, path: tuple[str, ...], value: Any) -> None:
    node = body
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _comparable(body: dict) -> dict:
    trimmed = copy.deepcopy(body)
    trimmed["metadata"].pop("resourceVersion", None)
    for condition in (trimmed.get("status") or {}).get("conditions") or []:
        condition.pop("lastUpdateTime", None)
        condition.pop("lastTransitionTime", None)
    return trimmed


def _spec_of(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in ("metadata", "status")}


def _template_spec(deployment: dict) -> dict:
    return ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}


def _template_hash(deployment: dict) -> str:
    template = json.dumps(deployment["spec"].get("template"), sort_keys=True)
    return hashlib.sha256(template.encode()).hexdigest()[:10]


def _pod_name(deployment: dict, index: int) -> str:
    suffix = hashlib.sha256(str(index).encode()).hexdigest()[:5]
    return f"{deployment['metadata']['name']}-{_template_hash(deployment)}-{suffix}"


def _parse_selector(text: str) -> list:
    requirements = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            requirements.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            requirements.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif term.startswith("!"):
            requirements.append(lambda labels, k=term[1:]: k not in labels)
        else:
            requirements.append(lambda labels, k=term: k in labels)
    return requirements


def _cause(reason: str, field_path: str, message: str) -> dict:
    return {"reason": reason, "message": message, "field": field_path}


def _details(resource: ResourceType, name: str) -> dict:
    details = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PodProblem:
    """Why a Deployment's pods do not become ready. `reason` is a container waiting reason
    (ImagePullBackOff, ErrImagePull, CrashLoopBackOff) or "Unschedulable" (the pod is not
    placed; `message` is then the scheduler's)."""

    reason: str
    message: str
    deadline_exceeded: bool = False


def _held_pod(deployment: dict, index: int, problem: PodProblem) -> dict:
    template = deployment["spec"]["template"]
    container = (template["spec"].get("containers") or [{}])[0].get("name", "main")
    if problem.reason == "Unschedulable":
        conditions = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": problem.message,
            }
        ]
        container_statuses = []
    else:
        conditions = [{"type": "PodScheduled", "status": "True"}]
        container_statuses = [
            {
                "name": container,
                "ready": False,
                "restartCount": 3 if problem.reason == "CrashLoopBackOff" else 0,
                "state": {"waiting": {"reason": problem.reason, "message": problem.message}},
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": _pod_name(deployment, index),
            "namespace": deployment["metadata"]["namespace"],
            "labels": dict(template["metadata"].get("labels") or {}),
            "creationTimestamp": _now(),
        },
        "spec": copy.deepcopy(template["spec"]),
        "status": {
            "phase": "Pending",
            "conditions": conditions,
            "containerStatuses": container_statuses,
        },
    }


def _held_status(body: dict, desired: int, problem: PodProblem) -> dict:
    """A Deployment whose pods exist but never become ready; the deployment controller's
    condition reasons (pkg/controller/deployment/util/deployment_util.go)."""
    previous = {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}
    replica_set = f"{body['metadata']['name']}-{_template_hash(body)}"
    if problem.deadline_exceeded:
        progressing = _condition(
            previous,
            "Progressing",
            False,
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{replica_set}" has timed out progressing.',
        )
    else:
        progressing = _condition(
            previous,
            "Progressing",
            True,
            "ReplicaSetUpdated",
            f'ReplicaSet "{replica_set}" is progressing.',
        )
    counts = {"replicas": desired, "updatedReplicas": desired, "unavailableReplicas": desired}
    return {
        "observedGeneration": body["metadata"]["generation"],
        **{key: value for key, value in counts.items() if value},
        "conditions": [
            _condition(
                previous,
                "Available",
                False,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            ),
            progressing,
        ],
    }

"""The `kubernetes` backend: server-side apply through the official client's DynamicClient.

The DynamicClient finds every kind, built-in or custom, through API discovery, so custom
resources (KEDA, Gateway API, Prometheus Operator) need no generated client.

A second reconcile sends no write: each object carries the sha256 of what we applied in the
`llm-control-plane/applied-hash` annotation, and an object is skipped only when its live
annotation matches AND every field we send still has our value in the live object. A hand edit
of a field we own (`kubectl patch` of the model or image) is reverted by the next reconcile of
the object, at the latest `RESYNC_STALE_AFTER_SECONDS` later (docs/decisions/0003).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
from kubernetes.dynamic.resource import Resource

from control_plane.cluster.api_errors import translate
from control_plane.cluster.errors import Invalid
from control_plane.cluster.labels import APPLIED_HASH_ANNOTATION, MANAGED_BY_VALUE
from control_plane.cluster.objects import applied_hash, apply_order, format_selector
from control_plane.cluster.retry import RetryPolicy, call_with_retries
from control_plane.cluster.types import ApplyResult, ObjectRef
from control_plane.quantities import QuantityError, parse_memory_bytes

T = TypeVar("T")

# (connect, read) seconds for every request, discovery included.
DEFAULT_TIMEOUT = (5.0, 30.0)


def _raw_json(_client: DynamicClient, body: dict) -> dict:
    return body


class _TimedDynamicClient(DynamicClient):
    """A DynamicClient whose every request, discovery included, has a timeout.

    The stock client only sets one when each call passes `_request_timeout`, and its discovery
    calls never do, so a hung API server would hold a worker forever.
    """

    def __init__(self, client: ApiClient, *, timeout: tuple[float, float], cache_file: str | None):
        self._timeout = timeout
        super().__init__(client, cache_file=cache_file)

    def request(self, method, path, body=None, **params):
        params.setdefault("_request_timeout", self._timeout)
        return super().request(method, path, body=body, **params)


class KubernetesBackend:
    observes_status = True

    def __init__(
        self,
        api_client: ApiClient,
        *,
        field_manager: str = MANAGED_BY_VALUE,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
        rng: random.Random | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        discovery_cache_file: str | None = None,
    ) -> None:
        self._api_client = api_client
        self._field_manager = field_manager
        self._retry_policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._timeout = timeout
        self._discovery_cache_file = discovery_cache_file
        self._dynamic_client: DynamicClient | None = None

    @classmethod
    def from_config(
        cls, *, kubeconfig: str, context: str, in_cluster: bool, field_manager: str
    ) -> KubernetesBackend:
        """Credentials from the pod's service account, or from a kubeconfig file and context."""
        configuration = Configuration()
        if in_cluster:
            kube_config.load_incluster_config(client_configuration=configuration)
        else:
            kube_config.load_kube_config(
                config_file=kubeconfig or None,
                context=context or None,
                client_configuration=configuration,
            )
        # urllib3 would otherwise retry connection errors itself, under our own retries.
        configuration.retries = 0
        return cls(ApiClient(configuration), field_manager=field_manager)

    def apply(
        self,
        objects: Sequence[dict],
        *,
        create_only: Mapping[ObjectRef, Mapping] | None = None,
        live: Mapping[tuple[str, str, str | None], Sequence[dict]] | None = None,
    ) -> list[ApplyResult]:
        listed: dict[tuple[str, str, str | None], dict[str, dict]] = {
            scope: {item["metadata"]["name"]: item for item in items}
            for scope, items in (live or {}).items()
        }
        results = []
        for obj in apply_order(objects):
            ref = ObjectRef.of(obj)
            desired, digest = _with_applied_hash(obj)
            kind_key = (ref.api_version, ref.kind, ref.namespace)
            if kind_key not in listed:
                # One LIST per kind and namespace instead of one GET per object.
                listed[kind_key] = self._live_objects(*kind_key)
            live = listed[kind_key].get(ref.name)
            if live is not None and _unchanged(live, desired, digest):
                results.append(ApplyResult(ref, "unchanged"))
                continue
            initial = (create_only or {}).get(ref)
            if live is None and initial:
                # Fields only the creation sets (a scale-to-zero Deployment's `replicas: 0`) go
                # in under their own field manager, so our later applies, which leave them out,
                # neither remove them nor fight the autoscaler that takes them over.
                # https://kubernetes.io/docs/reference/using-api/server-side-apply/#transferring-ownership
                self._server_side_apply(
                    ref, _merged(desired, initial), field_manager=f"{self._field_manager}-initial"
                )
            self._server_side_apply(ref, desired)
            results.append(ApplyResult(ref, "created" if live is None else "updated"))
        return results

    def get(self, ref: ObjectRef) -> dict | None:
        def operation() -> dict | None:
            resource = self._resource(ref.api_version, ref.kind)
            try:
                return self._dynamic().get(
                    resource,
                    name=ref.name,
                    namespace=_namespace_for(resource, ref),
                    serializer=_raw_json,
                )
            except NotFoundError:
                return None

        return self._call(operation)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        selector: Mapping[str, str],
    ) -> list[dict]:
        def operation() -> list[dict]:
            resource = self._resource(api_version, kind)
            body = self._dynamic().get(
                resource,
                namespace=namespace if resource.namespaced else None,
                label_selector=format_selector(selector) or None,
                serializer=_raw_json,
            )
            return body.get("items") or []

        items = self._call(operation)
        # Items of a list of built-in kinds come without apiVersion and kind.
        return [{"apiVersion": api_version, "kind": kind, **item} for item in items]

    def delete(self, ref: ObjectRef) -> bool:
        def operation() -> bool:
            resource = self._resource(ref.api_version, ref.kind)
            try:
                self._dynamic().delete(
                    resource,
                    name=ref.name,
                    namespace=_namespace_for(resource, ref),
                    # Dependents (a Deployment's ReplicaSets and pods) go too, in the background.
                    propagation_policy="Background",
                    serializer=_raw_json,
                )
            except NotFoundError:
                return False
            return True

        return self._call(operation)

    def _live_objects(self, api_version: str, kind: str, namespace: str | None) -> dict[str, dict]:
        items = self.list(api_version, kind, namespace, {})
        return {item["metadata"]["name"]: item for item in items}

    def _server_side_apply(
        self, ref: ObjectRef, desired: dict, *, field_manager: str | None = None
    ) -> None:
        def operation() -> None:
            resource = self._resource(ref.api_version, ref.kind)
            # force=true: we are the only manager of the fields we send. Fields we leave out
            # (a Deployment's spec.replicas, owned by the autoscaler) stay with their owner.
            # https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
            self._dynamic().server_side_apply(
                resource,
                body=desired,
                name=ref.name,
                namespace=_namespace_for(resource, ref),
                field_manager=field_manager or self._field_manager,
                force_conflicts=True,
                serializer=_raw_json,
            )

        self._call(operation)

    def _resource(self, api_version: str, kind: str) -> Resource:
        return self._dynamic().resources.get(api_version=api_version, kind=kind)

    def _dynamic(self) -> DynamicClient:
        # Built on first use: construction already calls the API server (/version, /apis).
        if self._dynamic_client is None:
            self._dynamic_client = _TimedDynamicClient(
                self._api_client, timeout=self._timeout, cache_file=self._discovery_cache_file
            )
        return self._dynamic_client

    def _call(self, operation: Callable[[], T]) -> T:
        host = self._api_client.configuration.host

        def translated() -> T:
            try:
                return operation()
            except (ApiException, urllib3.exceptions.HTTPError, ResourceNotFoundError) as error:
                raise translate(error, host=host) from error

        return call_with_retries(
            translated, policy=self._retry_policy, sleep=self._sleep, rng=self._rng
        )


def _namespace_for(resource: Resource, ref: ObjectRef) -> str | None:
    if not resource.namespaced:
        return None
    if not ref.namespace:
        raise Invalid(f"invalid: {ref} is namespaced but has no metadata.namespace")
    return ref.namespace


def _with_applied_hash(obj: dict) -> tuple[dict, str]:
    """The object as we send it, carrying the fingerprint of what the caller asked for."""
    digest = applied_hash(obj)
    desired = copy.deepcopy(obj)
    desired.setdefault("metadata", {}).setdefault("annotations", {})[APPLIED_HASH_ANNOTATION] = (
        digest
    )
    return desired, digest


def _unchanged(live: dict, desired: dict, digest: str) -> bool:
    """Whether applying `desired` again would change nothing we own: the live object carries the
    fingerprint of what we last applied, and still holds every field we send with our value.
    Fields the server or other managers added (defaults, status, replicas) do not count."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return annotations.get(APPLIED_HASH_ANNOTATION) == digest and _holds(live, desired)


def _holds(live: object, desired: object) -> bool:
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            key in live and _holds(live[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(_holds(have, want) for have, want in zip(live, desired, strict=True))
        )
    return live == desired or _same_quantity(live, desired)


def _same_quantity(live: object, desired: object) -> bool:
    """The API server stores quantities in canonical form ("34359738368" comes back as "32Gi",
    "4000m" as "4"), which is the same amount, not drift."""
    if not isinstance(live, str | int) or not isinstance(desired, str | int):
        return False
    try:
        return _amount(live) == _amount(desired)
    except QuantityError:
        return False


def _amount(value: str | int) -> int:
    text = str(value)
    if text.endswith("m") and text[:-1].isdigit():
        return int(text[:-1])
    return parse_memory_bytes(text) * 1000


def _merged(base: dict, extra: Mapping) -> dict:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged

"""The `kubernetes` backend: server-side apply through the official client's DynamicClient.

The DynamicClient finds every kind, built-in or custom, through API discovery, so custom
resources (KEDA, Gateway API, Prometheus Operator) need no generated client.

A second reconcile sends no write: each object carries the sha256 of what we applied in the
`llm-control-plane/applied-hash` annotation, and an object whose live annotation matches is
skipped. The trade-off: a change someone else makes to a field we own, without touching the
annotation, is not undone until our desired state changes. Deleting the annotation (or the
object) forces the next reconcile to apply again.
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
    ) -> list[ApplyResult]:
        live_hashes: dict[tuple[str, str, str | None], dict[str, str | None]] = {}
        results = []
        for obj in apply_order(objects):
            ref = ObjectRef.of(obj)
            desired, digest = _with_applied_hash(obj)
            kind_key = (ref.api_version, ref.kind, ref.namespace)
            if kind_key not in live_hashes:
                # One LIST per kind and namespace instead of one GET per object.
                live_hashes[kind_key] = self._live_hashes(*kind_key)
            live = live_hashes[kind_key]
            if ref.name in live and live[ref.name] == digest:
                results.append(ApplyResult(ref, "unchanged"))
                continue
            self._server_side_apply(ref, desired)
            results.append(ApplyResult(ref, "updated" if ref.name in live else "created"))
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

    def _live_hashes(
        self, api_version: str, kind: str, namespace: str | None
    ) -> dict[str, str | None]:
        items = self.list(api_version, kind, namespace, {})
        return {
            item["metadata"]["name"]: (item["metadata"].get("annotations") or {}).get(
                APPLIED_HASH_ANNOTATION
            )
            for item in items
        }

    def _server_side_apply(self, ref: ObjectRef, desired: dict) -> None:
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
                field_manager=self._field_manager,
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

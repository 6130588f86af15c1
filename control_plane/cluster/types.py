"""The backend protocol and the small value types it speaks in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

ApplyAction = Literal["created", "updated", "unchanged"]
# (api_version, kind, namespace or None for cluster-scoped kinds)
Scope = tuple[str, str, str | None]


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: Mapping) -> ObjectRef:
        metadata = obj.get("metadata") or {}
        return cls(
            api_version=obj["apiVersion"],
            kind=obj["kind"],
            namespace=metadata.get("namespace") or None,
            name=metadata["name"],
        )

    @property
    def group(self) -> str:
        """The API group ("" for the core group), which with the kind names the resource."""
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.api_version})"


@dataclass(frozen=True)
class ApplyResult:
    ref: ObjectRef
    action: ApplyAction


class ClusterBackend(Protocol):
    # Whether objects read back carry what controllers report (`status`): a cluster does; a
    # directory of manifests for GitOps does not, so readiness there is not observed.
    observes_status: bool

    def apply(
        self,
        objects: Sequence[dict],
        *,
        create_only: Mapping[ObjectRef, Mapping] | None = None,
        live: Mapping[Scope, Sequence[dict]] | None = None,
    ) -> list[ApplyResult]:
        """`live`: what the caller already listed per (api_version, kind, namespace), all
        objects of the kind there, so the backend need not list them again."""
        ...

    def get(self, ref: ObjectRef) -> dict | None: ...

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        selector: Mapping[str, str],
    ) -> list[dict]: ...

    def delete(self, ref: ObjectRef) -> bool: ...

"""Apply what is desired, then prune what carries our labels and is no longer desired.

The one place both reconcilers (and orphan pruning) bring a set of objects in line with the
cluster. Each scope (api_version, kind, namespace) is listed once: the same list tells the
backend what is live (to skip unchanged objects and catch drift) and what to prune.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from control_plane.cluster.objects import selector_matches
from control_plane.cluster.types import ClusterBackend, ObjectRef, Scope


@dataclass
class SyncOutcome:
    changed: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def wrote(self) -> bool:
        return bool(self.changed or self.pruned)


def sync_objects(
    backend: ClusterBackend,
    desired: Sequence[dict],
    *,
    scopes: Iterable[Scope],
    selector: Mapping[str, str],
    create_only: Mapping[ObjectRef, Mapping] | None = None,
) -> SyncOutcome:
    """Apply `desired`, then delete every object in `scopes` that carries our labels and
    `selector` but is no longer desired.

    `create_only` holds fields written only when an object is created (a Deployment's first
    `spec.replicas`, which the autoscaler owns afterwards); later applies leave them out.
    """
    outcome = SyncOutcome()
    # One LIST per scope serves both the apply (what exists, what drifted) and the prune.
    listed = {scope: backend.list(*scope, {}) for scope in scopes}
    for result in backend.apply(desired, create_only=create_only, live=listed):
        if result.action != "unchanged":
            outcome.changed.append(f"{result.action} {result.ref}")
    wanted = {ObjectRef.of(obj) for obj in desired}
    full_selector = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, **selector}
    for items in listed.values():
        for live in items:
            if not selector_matches(live["metadata"].get("labels"), full_selector):
                continue
            ref = ObjectRef.of(live)
            if ref not in wanted and backend.delete(ref):
                outcome.pruned.append(f"deleted {ref}")
    return outcome


def delete_all(
    backend: ClusterBackend, *, scopes: Iterable[Scope], selector: Mapping[str, str]
) -> list[str]:
    return sync_objects(backend, [], scopes=scopes, selector=selector).pruned

"""Helpers over plain object dicts, shared by both backends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence


def apply_order(objects: Sequence[dict]) -> list[dict]:
    """Namespaces first, everything else in the caller's order.

    Namespaced objects are refused until their Namespace exists (the NamespaceLifecycle
    admission plugin answers 404 `namespaces "x" not found`), so Namespaces must go first; the
    caller already orders the rest by dependency (custom resources last).
    """
    namespaces = [obj for obj in objects if _is_namespace(obj)]
    rest = [obj for obj in objects if not _is_namespace(obj)]
    return namespaces + rest


def _is_namespace(obj: Mapping) -> bool:
    return obj.get("apiVersion") == "v1" and obj.get("kind") == "Namespace"


def selector_matches(labels: Mapping[str, str] | None, selector: Mapping[str, str]) -> bool:
    """Equality-based label selection, as `labelSelector=k=v,k2=v2` does on the API server."""
    labels = labels or {}
    return all(labels.get(key) == value for key, value in selector.items())


def format_selector(selector: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))


def applied_hash(obj: Mapping) -> str:
    """sha256 of the canonical JSON of an object: same content, same hash, in any key order."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

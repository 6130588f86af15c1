"""ResourceQuota admission as the API server does it for pods.

Mirrors k8s.io/apiserver/pkg/admission/plugin/resourcequota (CheckRequest): the pod's usage is
added to each quota's `status.used`; any tracked resource going over `spec.hard` refuses the
pod with `exceeded quota: <name>, requested: ..., used: ..., limited: ...`, listing only the
resources that went over, sorted, as `name=quantity` joined by commas.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal

_QUANTITY = re.compile(r"^([+-]?\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIXES = {
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_BINARY_DESCENDING = ("Ei", "Pi", "Ti", "Gi", "Mi")
# Compute resources a quota can only count when every container states them.
_MUST_SPECIFY = {
    "cpu": ("requests", "cpu"),
    "requests.cpu": ("requests", "cpu"),
    "limits.cpu": ("limits", "cpu"),
    "memory": ("requests", "memory"),
    "requests.memory": ("requests", "memory"),
    "limits.memory": ("limits", "memory"),
}


def parse_quantity(value: str | int | float) -> Decimal:
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"quantities must match the regular expression {_QUANTITY.pattern}")
    number, suffix = match.groups()
    return Decimal(number) * _SUFFIXES.get(suffix, Decimal(1))


def format_quantity(value: Decimal | int) -> str:
    value = Decimal(value)
    if value != value.to_integral_value():
        millis = value * 1000
        return f"{int(millis)}m" if millis == millis.to_integral_value() else str(value)
    whole = int(value)
    for suffix in _BINARY_DESCENDING:
        unit = int(_SUFFIXES[suffix])
        if whole >= unit and whole % unit == 0:
            return f"{whole // unit}{suffix}"
    return str(whole)


def pod_usage(pod_spec: Mapping) -> Counter:
    """What one pod counts against a quota, keyed by quota resource names."""
    usage: Counter = Counter({"pods": Decimal(1)})
    for container in pod_spec.get("containers") or []:
        resources = container.get("resources") or {}
        for name, quantity in (resources.get("requests") or {}).items():
            usage[f"requests.{name}"] += parse_quantity(quantity)
            if name in ("cpu", "memory", "ephemeral-storage"):
                usage[name] += parse_quantity(quantity)
        for name, quantity in (resources.get("limits") or {}).items():
            usage[f"limits.{name}"] += parse_quantity(quantity)
    return usage


def refusal(quotas: Iterable[Mapping], used: Counter, pod_spec: Mapping) -> str | None:
    """The admission error for one more pod, or None when every quota has room for it."""
    requested = pod_usage(pod_spec)
    for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
        name = quota["metadata"]["name"]
        hard = {
            k: parse_quantity(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()
        }
        missing = sorted(
            key for key in hard if key in _MUST_SPECIFY and not _specified(pod_spec, key)
        )
        if missing:
            return f"failed quota: {name}: must specify {','.join(missing)}"
        exceeded = sorted(
            key for key in hard if requested[key] > 0 and used[key] + requested[key] > hard[key]
        )
        if exceeded:
            return (
                f"exceeded quota: {name}, requested: {_pretty(requested, exceeded)}, "
                f"used: {_pretty(used, exceeded)}, limited: {_pretty(hard, exceeded)}"
            )
    return None


def quota_status(quota: Mapping, used: Counter) -> dict:
    hard = (quota.get("spec") or {}).get("hard") or {}
    return {
        "hard": {key: format_quantity(parse_quantity(value)) for key, value in hard.items()},
        "used": {key: format_quantity(used[key]) for key in hard},
    }


def _specified(pod_spec: Mapping, key: str) -> bool:
    section, resource = _MUST_SPECIFY[key]
    return all(
        resource in ((container.get("resources") or {}).get(section) or {})
        for container in pod_spec.get("containers") or []
    )


def _pretty(quantities: Mapping[str, Decimal], keys: Iterable[str]) -> str:
    return ",".join(f"{key}={format_quantity(quantities.get(key, Decimal(0)))}" for key in keys)

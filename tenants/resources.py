"""Amounts of quota-governed resources, and the arithmetic admission needs.

The same shape describes a tenant's quota, what its endpoints commit, and what one change asks
for, so every refusal can name the numbers the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from control_plane.quantities import format_cpu, format_memory


@dataclass(frozen=True)
class Resources:
    gpus: int = 0
    mig_slices: Mapping[str, int] = field(default_factory=dict)
    endpoints: int = 0
    cpu_millicores: int = 0
    memory_bytes: int = 0

    def __add__(self, other: Resources) -> Resources:
        mig = dict(self.mig_slices)
        for profile, count in other.mig_slices.items():
            mig[profile] = mig.get(profile, 0) + count
        return Resources(
            gpus=self.gpus + other.gpus,
            mig_slices={profile: count for profile, count in mig.items() if count},
            endpoints=self.endpoints + other.endpoints,
            cpu_millicores=self.cpu_millicores + other.cpu_millicores,
            memory_bytes=self.memory_bytes + other.memory_bytes,
        )

    def scaled(self, factor: int) -> Resources:
        return Resources(
            gpus=self.gpus * factor,
            mig_slices={profile: count * factor for profile, count in self.mig_slices.items()},
            endpoints=self.endpoints,
            cpu_millicores=self.cpu_millicores * factor,
            memory_bytes=self.memory_bytes * factor,
        )

    def as_dict(self) -> dict:
        return {
            "gpus": self.gpus,
            "mig_slices": dict(sorted(self.mig_slices.items())),
            "max_endpoints": self.endpoints,
            "cpu": format_cpu(self.cpu_millicores),
            "memory": format_memory(self.memory_bytes),
        }


@dataclass(frozen=True)
class Shortfall:
    resource: str
    needed: int
    available: int
    limit: int

    def describe(self) -> str:
        """E.g. "needs 8 × nvidia.com/gpu, 3 of 4 remain"."""
        return (
            f"needs {_display(self.resource, self.needed)}, "
            f"{_amount(self.resource, self.available)} of "
            f"{_amount(self.resource, self.limit)} remain"
        )


def _amounts(resources: Resources) -> dict[str, int]:
    amounts = {
        "nvidia.com/gpu": resources.gpus,
        "endpoints": resources.endpoints,
        "cpu (millicores)": resources.cpu_millicores,
        "memory (bytes)": resources.memory_bytes,
    }
    for profile, count in resources.mig_slices.items():
        amounts[f"nvidia.com/mig-{profile}"] = count
    return amounts


def shortfalls(*, request: Resources, committed: Resources, limit: Resources) -> list[Shortfall]:
    """Every resource where `committed + request` would exceed `limit`, in a stable order."""
    wanted, used, allowed = _amounts(request), _amounts(committed), _amounts(limit)
    found = []
    for name in sorted(wanted):
        need = wanted[name]
        if need <= 0:
            continue
        available = max(allowed.get(name, 0) - used.get(name, 0), 0)
        if need > available:
            found.append(Shortfall(name, need, available, allowed.get(name, 0)))
    return found


def overcommitted(*, committed: Resources, limit: Resources) -> list[tuple[str, int, int]]:
    """(resource, committed, limit) for each resource whose commitment exceeds `limit`."""
    used, allowed = _amounts(committed), _amounts(limit)
    return [
        (name, used[name], allowed.get(name, 0))
        for name in sorted(used)
        if used[name] > allowed.get(name, 0)
    ]


def _amount(name: str, amount: int) -> str:
    if name == "cpu (millicores)":
        return format_cpu(amount)
    if name == "memory (bytes)":
        return format_memory(amount)
    return str(amount)


def _display(name: str, amount: int) -> str:
    if name == "cpu (millicores)":
        return f"{format_cpu(amount)} CPU"
    if name == "memory (bytes)":
        return f"{format_memory(amount)} memory"
    if name == "endpoints":
        return f"{amount} endpoint{'s' if amount != 1 else ''}"
    return f"{amount} × {name}"

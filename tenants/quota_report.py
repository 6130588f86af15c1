"""The quota as the API and console show it: limits, what endpoints commit, what remains, and
what the cluster reports as used."""

from __future__ import annotations

from tenants.models import Tenant
from tenants.resources import Resources
from tenants.selectors import committed_resources, quota_limit


def _remaining(limit: Resources, committed: Resources) -> Resources:
    profiles = set(limit.mig_slices) | set(committed.mig_slices)
    return Resources(
        gpus=max(limit.gpus - committed.gpus, 0),
        mig_slices={
            p: max(limit.mig_slices.get(p, 0) - committed.mig_slices.get(p, 0), 0)
            for p in sorted(profiles)
        },
        endpoints=max(limit.endpoints - committed.endpoints, 0),
        cpu_millicores=max(limit.cpu_millicores - committed.cpu_millicores, 0),
        memory_bytes=max(limit.memory_bytes - committed.memory_bytes, 0),
    )


def quota_report(tenant: Tenant) -> dict:
    limit = quota_limit(tenant.quota)
    committed = committed_resources(tenant=tenant)
    return {
        "tenant": tenant.slug,
        "limits": limit.as_dict(),
        "committed": committed.as_dict(),
        "remaining": _remaining(limit, committed).as_dict(),
        "used": tenant.quota_used,
    }

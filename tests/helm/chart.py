"""Rendering the chart in-process with helm-python-sdk (Helm v4's Go library, no helm binary),
as `helm template` would."""

from __future__ import annotations

import functools
from pathlib import Path

import helm_python
import yaml

CHART_DIR = Path(__file__).resolve().parents[2] / "helm" / "llm-control-plane"
EXAMPLES = {path.stem: path for path in sorted((CHART_DIR / "examples").glob("*.yaml"))}
RELEASE, NAMESPACE = "cp", "llm-control-plane"
# The least the chart renders with: the four credentials it cannot default.
CREDENTIALS = {
    "database": {"url": "postgres://control_plane:pw@postgresql.databases.svc:5432/cp"},
    "redis": {"url": "redis://redis.databases.svc:6379/0"},
    "secretKey": {"value": "k" * 50},
    "auditSigningKey": {"existingSecret": {"name": "audit-key", "key": "audit-signing-key"}},
}


@functools.cache
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART_DIR)


def example(name: str) -> dict:
    return yaml.safe_load(EXAMPLES[name].read_text())


def render_files(values: dict) -> dict[str, str]:
    return chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: dict) -> list[dict]:
    """Every object the chart renders, hooks included, in template order."""
    objects = []
    for path, text in sorted(render_files(values).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[dict], kind: str, name: str) -> dict:
    (found,) = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"] == name]
    return found


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    """Each workload's pod spec, by "Kind/name"."""
    specs = {}
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] in ("Deployment", "Job"):
            specs[f"{obj['kind']}/{obj['metadata']['name']}"] = spec["template"]["spec"]
        elif obj["kind"] == "CronJob":
            specs[f"CronJob/{obj['metadata']['name']}"] = spec["jobTemplate"]["spec"]["template"][
                "spec"
            ]
    return specs

"""Validation of rendered objects against the schemas a real API server would apply.

Core kinds go through `kubernetes-validate` (the Kubernetes OpenAPI schemas, strict: unknown
fields fail). Custom kinds go through the `openAPIV3Schema` of the served version in the CRDs
under ../shared/crds/ (beside the repository), made strict the same way; those checks skip when
the folder is absent. CEL rules (`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

KUBERNETES_VERSION = "1.33.0"
CRD_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "crds"
CUSTOM_GROUPS = frozenset(
    {"keda.sh", "http.keda.sh", "gateway.networking.k8s.io", "monitoring.coreos.com"}
)


def _strict(schema: object) -> object:
    """Unknown fields fail, as with `kubernetes_validate(strict=True)`: an API server would
    silently prune them, hiding a misspelt field."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], dict]:
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                    schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validate(obj: dict) -> None:
    api_version, kind = obj["apiVersion"], obj["kind"]
    if api_version.split("/")[0] not in CUSTOM_GROUPS:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        return
    if not CRD_DIR.is_dir():
        pytest.skip(f"no CRD schemas at {CRD_DIR}")
    schema = _crd_schemas().get((api_version, kind))
    assert schema is not None, f"{api_version} {kind} is not served by the CRDs in {CRD_DIR}"
    jsonschema.Draft7Validator(schema).validate(obj)


def validate_all(objects: list[dict]) -> None:
    for obj in objects:
        try:
            validate(obj)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as error:
            raise AssertionError(f"{obj['kind']} {obj['metadata']['name']}: {error}") from error

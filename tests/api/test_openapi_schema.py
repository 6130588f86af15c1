"""The OpenAPI schema generates without a warning and validates, so clients and schemathesis
read what the API really does."""

from __future__ import annotations

import io
import json

from django.core.management import call_command

from control_plane.quantities import CPU_PATTERN, MEMORY_PATTERN
from tenants.models import DNS1123_LABEL_PATTERN


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    # `--fail-on-warn` turns every drf-spectacular warning (an unresolvable type, an enum name
    # collision) into an error; `--validate` checks the result against the OpenAPI 3 schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    schema = (tmp_path / "s.yaml").read_text()
    assert "/api/v1/tenants/{slug}/endpoints/{name}/rollouts/{id}/promote/" in schema


def _schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=out)
    return json.loads(out.getvalue())


def test_the_schema_states_the_rules_the_api_enforces():
    schema = _schema()
    components = schema["components"]["schemas"]
    # Strict bodies refuse unknown fields: every request body says so.
    requests = {name: c for name, c in components.items() if name.endswith("Request")}
    assert requests
    assert all(c.get("additionalProperties") is False for c in requests.values()), [
        name for name, c in requests.items() if c.get("additionalProperties") is not False
    ]
    # Patterns the services check, stated where the generator can see them.
    tenant = components["TenantCreateRequest"]["properties"]
    assert tenant["slug"]["pattern"] == DNS1123_LABEL_PATTERN
    quota = components["QuotaRequest"]["properties"]
    assert (quota["cpu"]["pattern"], quota["memory"]["pattern"]) == (CPU_PATTERN, MEMORY_PATTERN)
    (page_size,) = [
        p
        for p in schema["paths"]["/api/v1/tenants/"]["get"]["parameters"]
        if p["name"] == "page_size"
    ]
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}

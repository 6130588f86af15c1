"""OpenAPI post-processing: every operation documents the error responses it can give, all in
the one error shape of control_plane/api/errors.py."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "request_id": {"type": "string"},
            },
        }
    },
}
ERRORS = {
    "400": "Invalid input; `fields` names each field and the reason.",
    "401": "Missing or invalid credentials.",
    "403": "The caller may see the object but not do this.",
    "404": "No such object, or it belongs to a tenant the caller cannot see.",
    "405": "Method not allowed.",
    "406": "Unacceptable Accept header.",
    "409": "Conflicts with the current state (quota, uniqueness, lifecycle).",
    "415": "Unsupported media type.",
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses.setdefault(status, {"description": description})
            # Errors an operation declares itself (e.g. 503) take the same shape.
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": reference}}
    return result


class StrictInputSerializerScheme(OpenApiSerializerExtension):
    """Request bodies refuse unknown fields (StrictInputSerializer): the schema says so with
    `additionalProperties: false`, so generated clients and fuzzers do not send them."""

    target_class = "control_plane.api.serializers.StrictInputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


class DocumentedPatternFieldScheme(OpenApiSerializerFieldExtension):
    target_class = "control_plane.api.serializers.DocumentedPatternField"

    def map_serializer_field(self, auto_schema, direction) -> dict:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["pattern"] = self.target.pattern
        return schema

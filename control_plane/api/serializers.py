"""What every request body serializer shares."""

from __future__ import annotations

from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """A request body that names a field we do not know is refused (400, naming each unknown
    field with its path), never silently ignored: `{"scaling": {"maxReplicas": 3}}` would
    otherwise get the default maximum while its author believes they set 3."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if not unknown:
            return super().to_internal_value(data)
        known = ", ".join(sorted(self.fields))
        errors: dict = {name: [f"unknown field; known fields: {known}"] for name in unknown}
        try:
            # The known fields' own errors (unknown nested fields among them) go in the same
            # answer, so one round trip names every mistake.
            super().to_internal_value({k: v for k, v in data.items() if k in self.fields})
        except serializers.ValidationError as nested:
            if isinstance(nested.detail, dict):
                errors = {**nested.detail, **errors}
        raise serializers.ValidationError(errors)


class DocumentedPatternField(serializers.CharField):
    """A string whose pattern the OpenAPI schema states (control_plane/api/schema.py), while the
    service checks it and answers in its own words: a RegexField would answer DRF's "does not
    match the required pattern", which names no rule."""

    def __init__(self, *, pattern: str, **kwargs) -> None:
        self.pattern = pattern
        super().__init__(**kwargs)

"""What the read routes that build their bodies as plain dicts share with the serializers that
describe those bodies (endpoints/api/representations.py, control_plane/audit/api.py)."""

from __future__ import annotations

from rest_framework import serializers

# DRF's own formatting of datetimes (ISO 8601 in the current time zone, "Z" for UTC), so a plain
# dict and its serializer cannot format a timestamp differently.
datetime_representation = serializers.DateTimeField().to_representation

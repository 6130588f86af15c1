from __future__ import annotations

import yaml
from rest_framework.renderers import BaseRenderer


class ManifestYamlRenderer(BaseRenderer):
    """Kubernetes objects as a multi-document YAML stream, ready for `kubectl apply -f -`."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, dict) and set(data) == {"objects"}:
            return yaml.safe_dump_all(data["objects"], sort_keys=True).encode()
        return yaml.safe_dump(data, sort_keys=True).encode()

"""The API's only request body format: JSON.

Form and multipart bodies are refused with 415: parsed as forms, a JSON-looking part arrives
as a string and a field that is absent from a form means something else than in JSON (a
multipart quota PUT once revoked a tenant's MIG grant).
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON whose nesting a request cannot use to exhaust the parser's stack."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None

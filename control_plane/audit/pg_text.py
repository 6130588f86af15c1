"""PostgreSQL's text forms, written in Python: jsonb's JSON text and the quoting of `COPY ... WITH
(FORMAT csv)`. An export from another database (the ORM path) uses them to hold exactly the bytes
that PostgreSQL's COPY writes for the same events (docs/decisions/0010).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

# The escaping of PostgreSQL's escape_json (", \, \b \f \n \r \t, other controls as \u00xx, all
# else as is): json's own with ensure_ascii=False.
json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]
# COPY's CSV quotes a value holding the delimiter, the quote, CR or LF, and an empty string (an
# unquoted empty field is NULL): https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.4
_CSV_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def jsonb_text(value: Any) -> str:
    """`value::jsonb::text`: object keys by length in UTF-8, then bytewise (jsonb's order), `, `
    and `: ` between items, numbers as `numeric` prints them."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = sorted(value.items(), key=_jsonb_key_order)
        return "{" + ", ".join(f"{json_string(k)}: {jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(item) for item in value) + "]"
    if isinstance(value, str):
        return json_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _numeric_text(value)
    return str(value)


def _jsonb_key_order(item: tuple[str, Any]) -> tuple[int, bytes]:
    key = item[0].encode()
    return len(key), key


def _numeric_text(value: float) -> str:
    """numeric_out of the number json wrote for `value`: no exponent, as many decimals as the
    written form had after its point less its exponent (1e-07 is 0.0000001), no negative zero."""
    if value != value or value in (float("inf"), float("-inf")):
        return json.dumps(value)  # not JSON; PostgreSQL never holds it, SQLite might
    text = format(Decimal(repr(value)), "f")
    return text.lstrip("-") if value == 0 else text


def csv_field(value: Any) -> str:
    """One value as COPY's CSV writes it: NULL empty, an empty string `""`, quotes doubled."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text == "" or _CSV_NEEDS_QUOTES.search(text) is not None:
        return '"' + text.replace('"', '""') + '"'
    return text

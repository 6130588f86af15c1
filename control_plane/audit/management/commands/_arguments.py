"""Argument parsing shared by the audit commands."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from django.utils.dateparse import parse_datetime

from control_plane.audit import signing


def utc_time(value: str) -> datetime:
    """An ISO 8601 time; one without an offset is UTC."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def public_key_from(path: str | None):
    """The key in `path` (public or private PEM), else the configured signing key's public half."""
    if path is None:
        return signing.signing_key().public_key()
    return signing.load_public_key(Path(path).read_bytes())

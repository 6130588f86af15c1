"""Translation of `kubernetes` client and urllib3 failures into ClusterError subclasses."""

from __future__ import annotations

import json

import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from control_plane.cluster.errors import (
    ClusterError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    QuotaExceeded,
    ServerError,
    Throttled,
    Unreachable,
)

TranslatedFailure = ApiException | urllib3.exceptions.HTTPError | ResourceNotFoundError


def translate(error: TranslatedFailure, *, host: str) -> ClusterError:
    """The ClusterError for a failed call; the caller raises it `from error`."""
    if isinstance(error, ResourceNotFoundError):
        # Discovery does not list the kind: its CRD is not installed (yet).
        return NotFound(f"not_found: the API server does not serve this kind: {error}")
    if isinstance(error, ApiException) and error.status:
        return _from_status(error)
    # Connection refused, DNS failure, TLS failure or a request timeout: the client raises
    # urllib3 errors (MaxRetryError wrapping the cause) or an ApiException with status 0.
    cause = getattr(error, "reason", None) or error
    return Unreachable(f"unreachable: cannot reach the Kubernetes API server at {host}: {cause}")


def _from_status(error: ApiException) -> ClusterError:
    status_body = _status_body(error.body)
    server_message = status_body.get("message") or error.reason or f"HTTP {error.status}"
    status = error.status
    if status == 429:
        return Throttled(
            f"throttled: {server_message}", status=status, retry_after=_retry_after(error)
        )
    if status >= 500:
        return ServerError(f"server_error: {server_message}", status=status)
    if status in (401, 403):
        if QuotaExceeded.matches(server_message):
            return QuotaExceeded(f"quota_exceeded: {server_message}", status=status)
        return Forbidden(f"forbidden: {server_message}", status=status)
    if status == 404:
        return NotFound(f"not_found: {server_message}", status=status)
    if status in (409, 410):
        return Conflict(f"conflict: {server_message}", status=status)
    # 400, 415, 422: the request itself is wrong. The Status `details.causes` name the fields
    # (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).
    causes = (status_body.get("details") or {}).get("causes") or []
    field = next((cause["field"] for cause in causes if cause.get("field")), None)
    return Invalid(f"invalid: {server_message}", status=status, field=field)


def _status_body(body: str | bytes | None) -> dict:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        # A proxy in front of the API server may answer with plain text or HTML.
        return {"message": body.decode() if isinstance(body, bytes) else body}
    return parsed if isinstance(parsed, dict) else {}


def _retry_after(error: ApiException) -> float | None:
    value = (error.headers or {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        # Retry-After may also be an HTTP date; the API server only sends seconds.
        return None

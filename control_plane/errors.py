"""Application errors. Services raise these; the API maps each once to an HTTP status
(control_plane/api/errors.py) and reconcilers map cluster errors to conditions."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ServiceError):
    status = 400
    code = "invalid"


class PermissionDenied(ServiceError):
    status = 403
    code = "permission_denied"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class QuotaExceeded(Conflict):
    """The change would commit more than the tenant's quota; the message names the numbers."""

    code = "quota_exceeded"


class Unavailable(ServiceError):
    """A service this one depends on (Prometheus, the cluster) is not configured or not
    answering; nothing was changed."""

    status = 503
    code = "unavailable"

    def __init__(
        self, message: str, *, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


def from_django(error: object) -> ValidationFailed:
    """The first field error of a Django ValidationError, as our 400."""
    message_dict = getattr(error, "message_dict", None)
    if message_dict:
        field, messages = next(iter(message_dict.items()))
        name = None if field == "__all__" else field
        return ValidationFailed(" ".join(messages), field=name)
    messages = getattr(error, "messages", None) or [str(error)]
    return ValidationFailed(" ".join(messages))

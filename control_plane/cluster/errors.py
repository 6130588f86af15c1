"""Errors of the cluster backends.

Each carries a short machine `reason` (stored in conditions, so CamelCase as Kubernetes' own
condition reasons are), a `message` a person can act on
(it includes the API server's own words), and whether retrying can help. Reconcilers retry only
`retryable` errors; the others are reported as they are.
"""

from __future__ import annotations

import re


class ClusterError(Exception):
    reason = "ServerError"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class Forbidden(ClusterError):
    reason = "Forbidden"


class Invalid(ClusterError):
    reason = "Invalid"


class NotFound(ClusterError):
    reason = "NotFound"


class Conflict(ClusterError):
    reason = "Conflict"


class Unreachable(ClusterError):
    reason = "Unreachable"
    retryable = True


class ServerError(ClusterError):
    reason = "ServerError"
    retryable = True


class Throttled(ClusterError):
    reason = "Throttled"
    retryable = True


# The ResourceQuota admission plugin words its refusal as
#   exceeded quota: <name>, requested: <k=v,...>, used: <k=v,...>, limited: <k=v,...>
# (k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go, CheckRequest).
_EXCEEDED = re.compile(
    r"exceeded quota: (?P<quota>[^,]+), requested: (?P<requested>\S*), "
    r"used: (?P<used>\S*), limited: (?P<limited>\S*)"
)
# ...or, when a pod leaves out a request or limit the quota tracks:
#   failed quota: <name>: must specify <resources>
_MUST_SPECIFY = re.compile(r"failed quota: (?P<quota>[^:]+): (?P<detail>.+)")


class QuotaExceeded(ClusterError):
    """A ResourceQuota refused the request; `quota_name` and the numbers come from its text."""

    reason = "QuotaExceeded"

    def __init__(self, message: str, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.quota_name: str | None = None
        self.quota_message = message
        self.requested: dict[str, str] = {}
        self.used: dict[str, str] = {}
        self.limited: dict[str, str] = {}
        if match := _EXCEEDED.search(message):
            self.quota_name = match["quota"]
            self.quota_message = match.group(0)
            self.requested = _resource_list(match["requested"])
            self.used = _resource_list(match["used"])
            self.limited = _resource_list(match["limited"])
        elif match := _MUST_SPECIFY.search(message):
            self.quota_name = match["quota"]
            self.quota_message = match.group(0)

    @staticmethod
    def matches(server_message: str) -> bool:
        return bool(_EXCEEDED.search(server_message) or _MUST_SPECIFY.search(server_message))


def _resource_list(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {key: value for key, value in pairs}

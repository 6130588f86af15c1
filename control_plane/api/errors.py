"""One JSON error shape for every API failure:

{"error": {"code": "invalid", "message": "...", "fields": {"slug": ["reason"]},
           "request_id": "..."}}
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from control_plane.errors import ServiceError

logger = logging.getLogger(__name__)


def _flatten(detail: object, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten(value, name))
        return fields
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        fields = {}
        for index, item in enumerate(detail):
            fields.update(_flatten(item, f"{prefix}[{index}]"))
        return fields
    return {prefix or "non_field_errors": [str(detail)]}


def error_body(code: str, message: str, request, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    request_id = getattr(getattr(request, "_request", request), "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return {"error": body}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    request = context.get("request")
    if request is not None:
        # Errors are JSON whatever the route's other renderers (e.g. YAML manifests).
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    if isinstance(exc, ServiceError):
        fields = {exc.field: [exc.message]} if exc.field else None
        response = Response(error_body(exc.code, exc.message, request, fields), status=exc.status)
        if retry_after := getattr(exc, "retry_after", None):
            response["Retry-After"] = str(retry_after)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig):
        message = "The request body is larger than this API accepts."
        return Response(
            error_body("too_large", message, request),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug, or a failure nothing above foresaw: logged with its traceback, answered in the
        # one error shape with the request id to find it by, never an HTML page.
        logger.error("unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body(
                "server_error",
                "The server failed to answer this request; nothing is known to have changed. "
                "Quote the request id when reporting it.",
                request,
            ),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first_field, reasons = next(iter(fields.items()))
        message = f"{first_field}: {reasons[0]}"
        response.data = error_body("invalid", message, request, fields)
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    code = getattr(exc, "default_code", "error")
    detail = getattr(exc, "detail", str(exc))
    response.data = error_body(str(code), str(detail), request)
    return response

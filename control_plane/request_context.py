"""Request id and source address, attached to every request and echoed back.

A caller-supplied `X-Request-ID` is kept (so a trace crosses services) when it is a short token;
otherwise a new one is made. The id lands in every audit event of the request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_of(request: HttpRequest) -> str:
    supplied = request.headers.get("X-Request-ID", "")
    return supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex


def source_address_of(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_of(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response

"""A WSGI app for testing gunicorn workers: each request burns a few milliseconds of CPU, as a
read of the API does, and answers the pid of the worker that served it."""

from __future__ import annotations

import os
import time


def application(environ, start_response):
    deadline = time.process_time() + 0.003
    while time.process_time() < deadline:
        pass
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]

"""An in-process fake Kubernetes API server, spoken to over real HTTP.

Serves discovery, get, list, create (POST), server-side apply (PATCH with
`application/apply-patch+yaml`) and delete for the kinds in `kube_resources`, with `Status`
error bodies like the real server's. Tests inject faults (`fail_next`, `stall_next`) and count
requests (`requests()`, `write_count()`).

    with FakeKubeApiServer() as server:
        backend = KubernetesBackend(server.api_client())
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml
from kubernetes.client import ApiClient, Configuration

from tests.fakes import kube_resources
from tests.fakes.kube_state import ApiError, ClusterState, PodProblem

WRITE_VERBS = {"create", "apply", "delete"}
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_DEFAULT_MESSAGES = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected failure",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted",
}


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    verb: str  # discovery, get, list, create, apply, delete, or unsupported
    status: int


@dataclass
class _Fault:
    remaining: int
    method: str | None
    status: int | None = None
    message: str | None = None
    retry_after: float | None = None
    stall_seconds: float = 0.0


@dataclass(frozen=True)
class _Route:
    resource: kube_resources.ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client that gave up (a timeout fault, a test that stopped reading) leaves a broken pipe
    behind: the client's choice, not a server error worth a traceback in the test log."""

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class FakeKubeApiServer:
    def __init__(self) -> None:
        self.state = ClusterState()
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._log: list[RequestRecord] = []
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeKubeApiServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeKubeApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def api_client(self) -> ApiClient:
        """A client for this server, configured as the backend's own (no urllib3 retries)."""
        configuration = Configuration(host=self.url)
        configuration.retries = 0
        return ApiClient(configuration)

    # -- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        message: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `count` API requests (of `method`, if given) with an error.

        Discovery requests are never failed, so counts match the calls a test makes.
        """
        with self._lock:
            self._faults.append(
                _Fault(count, method, status=status, message=message, retry_after=retry_after)
            )

    def stall_next(self, count: int = 1, *, seconds: float, method: str | None = None) -> None:
        """Hold the next `count` API requests for `seconds` before answering them normally."""
        with self._lock:
            self._faults.append(_Fault(count, method, stall_seconds=seconds))

    def hand_edit(
        self, api_version: str, kind: str, namespace: str | None, name: str, edit
    ) -> None:
        self.state.hand_edit(api_version, kind, namespace, name, edit)

    def remove_finalizers(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> None:
        self.state.remove_finalizers(api_version, kind, namespace, name)

    def hold_pods(self, namespace: str, name: str, problem: PodProblem | None) -> None:
        self.state.hold_pods(namespace, name, problem)

    def set_replicas(self, namespace: str, name: str, replicas: int) -> None:
        """Scale a Deployment as an autoscaler would, through the scale subresource."""
        self.state.set_replicas(namespace, name, replicas)

    def requests(self, verb: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [record for record in self._log if verb is None or record.verb == verb]

    def write_count(self) -> int:
        return sum(1 for record in self.requests() if record.verb in WRITE_VERBS)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- request handling (called from handler threads) ---------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (None, method):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None


def _handler_for(server: FakeKubeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
        timeout = 10  # idle keep-alive connections end instead of holding a thread
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle and delayed ACKs
        # add 40 ms to every response.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the request log is kept in `server.requests()`

        def _serve(self) -> None:
            url = urlsplit(self.path)
            path = "/" + url.path.strip("/")
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            verb = "unsupported"
            try:
                discovery = _discovery(path)
                if discovery is not None:
                    verb = "discovery"
                    status, body, headers = 200, discovery, {}
                else:
                    route = _route(path)
                    verb = _verb(self.command, route)
                    fault = server._take_fault(self.command)
                    if fault is not None and fault.stall_seconds:
                        time.sleep(fault.stall_seconds)
                    if fault is not None and fault.status is not None:
                        status, body, headers = _fault_response(fault, self.command, route)
                    else:
                        status, body = _dispatch(
                            server.state, verb, route, query, raw_body, self.headers
                        )
                        headers = {}
            except ApiError as error:
                status, body, headers = error.code, error.status_body(), {}
            except Exception as error:
                traceback.print_exc()
                failure = ApiError(500, "InternalError", f"Internal error occurred: {error!r}")
                status, body, headers = 500, failure.status_body(), {}
            server._record(RequestRecord(self.command, self.path, verb, status))
            self._reply(status, body, headers)

        def _reply(self, status: int, body: dict, headers: dict[str, str]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _discovery(path: str) -> dict | None:
    if path == "/version":
        return kube_resources.version_document()
    if path == "/api":
        return kube_resources.core_versions_document()
    if path == "/apis":
        return kube_resources.group_list_document()
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    document = kube_resources.resource_list_document(group, version)
    if document is None:
        raise _no_such_path()
    return document


def _route(path: str) -> _Route:
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise _no_such_path()
    namespace = None
    # /namespaces/<ns>/<plural>/... is a namespaced path; /namespaces/<name>[/status] is the
    # Namespace object itself.
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise _no_such_path()
    resource = kube_resources.find(group, version, rest[0])
    if resource is None or (namespace is not None and not resource.namespaced):
        raise _no_such_path()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if resource.namespaced and name is not None and namespace is None:
        raise _no_such_path()
    if subresource is not None and subresource not in resource.subresources:
        raise _no_such_path()
    return _Route(resource, version, namespace, name, subresource)


def _no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def _verb(method: str, route: _Route) -> str:
    if route.subresource not in (None, "status"):
        return "unsupported"
    if method == "GET":
        return "get" if route.name else "list"
    if method == "POST" and route.name is None:
        return "create"
    if method == "PATCH" and route.name and route.subresource is None:
        return "apply"
    if method == "DELETE" and route.name and route.subresource is None:
        return "delete"
    return "unsupported"


def _dispatch(
    state: ClusterState, verb: str, route: _Route, query: dict, raw_body: bytes, headers
) -> tuple[int, dict]:
    resource, version, namespace, name = route.resource, route.version, route.namespace, route.name
    if verb == "get":
        return 200, state.get(resource, version, namespace, name)
    if verb == "list":
        if query.get("watch") in ("true", "1", "True"):
            raise ApiError(405, "MethodNotAllowed", "the fake API server does not serve watches")
        return 200, state.list(resource, version, namespace, query.get("labelSelector", ""))
    if verb == "create":
        return 201, state.create(resource, version, namespace, _parse_body(raw_body))
    if verb == "apply":
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/apply-patch+yaml":
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f'the fake API server only serves server-side apply, not "{content_type}"',
            )
        applied, created = state.apply(
            resource,
            version,
            namespace,
            name,
            _parse_body(raw_body),
            field_manager=query.get("fieldManager", ""),
            force=query.get("force", "").lower() in ("true", "1"),
        )
        # Server-side apply answers 201 when it created the object.
        return (201 if created else 200), applied
    if verb == "delete":
        return 200, state.delete(resource, namespace, name)
    raise ApiError(405, "MethodNotAllowed", "the fake API server does not serve this request")


def _parse_body(raw_body: bytes) -> dict:
    try:
        # apply-patch+yaml bodies may be JSON (the python client sends JSON) or YAML.
        body = json.loads(raw_body)
    except ValueError:
        body = _parse_yaml(raw_body)
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be an object")
    return body


def _parse_yaml(raw_body: bytes) -> object:
    try:
        return yaml.safe_load(raw_body)
    except yaml.YAMLError as error:
        raise ApiError(400, "BadRequest", f"error decoding the request body: {error}") from error


def _fault_response(fault: _Fault, method: str, route: _Route) -> tuple[int, dict, dict]:
    status = fault.status or 500
    name = route.name or ""
    message = fault.message or _DEFAULT_MESSAGES.get(
        status, f'{route.resource.qualified} "{name}" injected failure ({method})'
    )
    error = ApiError(status, _REASONS.get(status, "Unknown"), message, {"name": name})
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(fault.retry_after))
    return status, error.status_body(), headers


# What a platform team installs before the control plane: the namespaces of the KEDA HTTP
# add-on, the gateway and monitoring (tenant objects reference them).
PLATFORM_NAMESPACES = ("keda", "gateway-system", "monitoring")


def platform_namespaces() -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in PLATFORM_NAMESPACES
    ]

"""The HTTP side: vLLM's OpenAI-compatible routes, `/metrics`, `/health` and `/sim/config`."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from scaling.vllm_simulator.config import ConfigError, SimulatorConfig
from scaling.vllm_simulator.engine import Failure, Generation
from scaling.vllm_simulator.metrics import MAX_MODEL_LEN

if TYPE_CHECKING:
    from scaling.vllm_simulator.server import VllmSimulator


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, err_type: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.err_type, self.param = status, message, err_type, param


def _error_body(status: int, message: str, err_type: str, param: str | None = None) -> dict:
    # vLLM's ErrorResponse/ErrorInfo (vllm/entrypoints/openai/protocol.py): the OpenAI shape,
    # with `code` set to the HTTP status.
    return {"error": {"message": message, "type": err_type, "param": param, "code": status}}


def _bad_request(message: str, param: str | None = None) -> _HTTPError:
    return _HTTPError(400, message, "BadRequestError", param)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _token_text(position: int) -> str:
    return "tok" if position == 0 else " tok"


@dataclass(frozen=True)
class _Request:
    prompts: list[int]  # prompt tokens of each prompt of the batch
    max_tokens: int
    stream: bool
    include_usage: bool


def _prompt_tokens(prompt: Any) -> list[int]:
    if isinstance(prompt, str):
        return [_estimate_tokens(prompt)]
    if isinstance(prompt, list) and prompt:
        if all(_is_int(token) for token in prompt):
            return [len(prompt)]
        if all(isinstance(item, str) for item in prompt):
            return [_estimate_tokens(item) for item in prompt]
        if all(isinstance(item, list) and item and all(map(_is_int, item)) for item in prompt):
            return [len(item) for item in prompt]
    raise _bad_request(
        "`prompt` must be a string, a list of token ids, or a non-empty list of either.", "prompt"
    )


def _chat_prompt_tokens(messages: Any) -> int:
    if not isinstance(messages, list) or not messages:
        raise _bad_request("`messages` must be a non-empty list.", "messages")
    lines = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _bad_request("Each message must be an object with a string `role`.", "messages")
        content = message.get("content") or ""
        if isinstance(content, list):  # content parts: only text is counted
            content = " ".join(
                str(part.get("text", "")) for part in content if isinstance(part, dict)
            )
        if not isinstance(content, str):
            raise _bad_request("A message's `content` must be a string or a list.", "messages")
        lines.append(f"{message['role']}: {content}")
    return _estimate_tokens("\n".join(lines))


def _parse_request(body: Any, config: SimulatorConfig, chat: bool) -> _Request:
    if not isinstance(body, dict):
        raise _bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if model is not None and model != config.model:
        # As vLLM's `OpenAIServing._check_model` (vllm/entrypoints/openai/serving_engine.py):
        # 404, type NotFoundError, "The model `x` does not exist.".
        raise _HTTPError(404, f"The model `{model}` does not exist.", "NotFoundError", "model")
    prompts = (
        [_chat_prompt_tokens(body.get("messages"))] if chat else _prompt_tokens(body.get("prompt"))
    )

    field = "max_tokens"
    if chat and body.get("max_completion_tokens") is not None:
        field = "max_completion_tokens"
    max_tokens = body.get(field)
    if max_tokens is None:
        max_tokens = config.default_max_tokens
    elif not _is_int(max_tokens) or max_tokens < 1:
        raise _bad_request(f"`{field}` must be an integer >= 1.", field)
    if max(prompts) + max_tokens > MAX_MODEL_LEN:
        raise _bad_request(
            f"This model's maximum context length is {MAX_MODEL_LEN} tokens. However, you "
            f"requested {max(prompts) + max_tokens} tokens ({max(prompts)} in the prompt, "
            f"{max_tokens} in the completion). Please reduce the length of the prompt or "
            "completion.",
            field,
        )

    stream = body.get("stream") or False
    options = body.get("stream_options") or {}
    if not isinstance(stream, bool):
        raise _bad_request("`stream` must be a boolean.", "stream")
    if not isinstance(options, dict):
        raise _bad_request("`stream_options` must be an object.", "stream_options")
    return _Request(prompts, max_tokens, stream, bool(options.get("include_usage")))


# path -> {method: handler method name}
_ROUTES = {
    "/health": {"GET": "_health"},
    "/v1/models": {"GET": "_models"},
    "/v1/completions": {"POST": "_completions"},
    "/v1/chat/completions": {"POST": "_chat_completions"},
    "/metrics": {"GET": "_metrics"},
    "/sim/config": {"GET": "_get_config", "POST": "_post_config"},
}
# Responses `http_requests_total` leaves out. vLLM's instrumentator excludes /metrics and /health
# (`excluded_handlers` in vllm/entrypoints/serve/instrumentator/metrics.py,
# https://github.com/vllm-project/vllm/blob/main/vllm/entrypoints/serve/instrumentator/metrics.py);
# /sim/config is the simulator's own control route, which no vLLM serves.
_UNCOUNTED_HANDLERS = frozenset({"/metrics", "/health", "/sim/config"})
# A request that matches no route, or a route's path with another method (a partial match),
# counts under the handler "none", as prometheus-fastapi-instrumentator groups untemplated
# requests by default (https://pypi.org/project/prometheus-fastapi-instrumentator/).
_UNTEMPLATED_HANDLER = "none"


class Handler(BaseHTTPRequestHandler):
    server: SimulatorHTTPServer
    server_version = "vllm-simulator"
    # Every response closes its connection, so a stream needs neither chunked encoding nor a
    # Content-Length.
    protocol_version = "HTTP/1.0"
    # The status of the response's first status line; None while nothing is sent.
    status_sent: int | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # an access log per request would drown test and demo output

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # Other methods reach the router too, so that they answer 405 and count, as under FastAPI.
    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def send_response(self, code: int, message: str | None = None) -> None:
        # The first status line is what the client got: a stream that began with 200 and later
        # reported an error event stays a 200.
        if self.status_sent is None:
            self.status_sent = code
        super().send_response(code, message)

    def _dispatch(self, method: str) -> None:
        self.arrival = time.monotonic()
        self.status_sent = None
        path = urlsplit(self.path).path
        methods = _ROUTES.get(path) or {}
        handler = path if method in methods else _UNTEMPLATED_HANDLER
        try:
            if not methods:
                raise _HTTPError(404, f"Not Found: {path}", "NotFoundError")
            if method not in methods:
                raise _HTTPError(405, f"Method Not Allowed: {method} {path}", "MethodNotAllowed")
            getattr(self, methods[method])()
        except _HTTPError as error:
            body = _error_body(error.status, error.message, error.err_type, error.param)
            self._send_json(error.status, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away; its sequences were cancelled
        except Exception as exc:  # a bug here must still answer, not hang the client
            if self.status_sent is None:  # else the status line is out and cannot change
                self._send_json(500, _error_body(500, repr(exc), "InternalServerError"))
        finally:
            if self.status_sent is not None and handler not in _UNCOUNTED_HANDLERS:
                metrics = self.server.simulator.metrics
                metrics.count_http_response(method, self.status_sent, handler)

    def _read_json(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) if length > 0 else b"")
        except ValueError as exc:  # also JSONDecodeError and UnicodeDecodeError
            raise _bad_request(f"Invalid JSON body: {exc}")

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_event(self, payload: Any) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()

    def _health(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _models(self) -> None:
        simulator = self.server.simulator
        model = simulator.config.model
        card = {
            "id": model,
            "object": "model",
            "created": simulator.started_at,
            "owned_by": "vllm",
            "root": model,
            "parent": None,
            "max_model_len": MAX_MODEL_LEN,
        }
        self._send_json(200, {"object": "list", "data": [card]})

    def _metrics(self) -> None:
        body = generate_latest(self.server.simulator.metrics.registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _get_config(self) -> None:
        self._send_json(200, dataclasses.asdict(self.server.simulator.config))

    def _post_config(self) -> None:
        changes = self._read_json()
        if not isinstance(changes, dict):
            raise _bad_request("The request body must be a JSON object of config fields.")
        try:
            config = self.server.simulator.reconfigure(**changes)
        except ConfigError as error:
            raise _bad_request(str(error), error.field)
        self._send_json(200, dataclasses.asdict(config))

    def _completions(self) -> None:
        self._generate(chat=False)

    def _chat_completions(self) -> None:
        self._generate(chat=True)

    def _generate(self, chat: bool) -> None:
        simulator = self.server.simulator
        request = _parse_request(self._read_json(), simulator.config, chat)
        generation = simulator._engine.submit(request.prompts, request.max_tokens, self.arrival)
        header = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": simulator.config.model,
        }
        usage = {
            "prompt_tokens": sum(request.prompts),
            "completion_tokens": request.max_tokens * len(request.prompts),
            "total_tokens": sum(request.prompts) + request.max_tokens * len(request.prompts),
        }
        try:
            if request.stream:
                self._stream(request, generation, chat, header, usage)
            else:
                self._respond(request, generation, chat, header, usage)
        finally:
            # Frees the slots of sequences whose answer nobody will read.
            generation.cancelled.set()

    def _respond(
        self, request: _Request, generation: Generation, chat: bool, header: dict, usage: dict
    ) -> None:
        for event in generation.events():
            if isinstance(event, Failure):
                raise _HTTPError(event.status, event.message, event.err_type)
        text = " ".join(["tok"] * request.max_tokens)
        if chat:
            header["object"] = "chat.completion"
            message = {"role": "assistant", "content": text}
            choices = [{"index": 0, "message": message, "logprobs": None}]
        else:
            choices = [
                {"index": i, "text": text, "logprobs": None} for i in range(len(request.prompts))
            ]
        for choice in choices:
            choice.update(finish_reason="length", stop_reason=None)
        self._send_json(200, {**header, "choices": choices, "usage": usage})

    def _stream(
        self, request: _Request, generation: Generation, chat: bool, header: dict, usage: dict
    ) -> None:
        if chat:
            header["object"] = "chat.completion.chunk"
        started = False
        for event in generation.events():
            if isinstance(event, Failure):
                if not started:
                    raise _HTTPError(event.status, event.message, event.err_type)
                # Once the stream has begun vLLM reports an error as one more event.
                self._send_event(_error_body(event.status, event.message, event.err_type))
                break
            if not started:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                started = True
            choice: dict[str, Any] = {"index": event.index}
            text = _token_text(event.position)
            if chat:
                # The role rides on the first content delta, so there is one chunk per token.
                delta = {"role": "assistant", "content": text} if event.position == 0 else None
                choice["delta"] = delta or {"content": text}
            else:
                choice["text"] = text
            choice.update(logprobs=None, finish_reason="length" if event.last else None)
            self._send_event({**header, "choices": [choice]})
        else:
            if request.include_usage:
                self._send_event({**header, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops connections under a load test's burst.
    request_queue_size = 1024
    simulator: VllmSimulator

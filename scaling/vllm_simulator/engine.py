"""Sequences: FIFO admission into `max_num_seqs` slots, real-time prefill and decode, metrics."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scaling.vllm_simulator.config import SimulatorConfig
from scaling.vllm_simulator.metrics import SimulatorMetrics


class Closed(Exception):
    """The simulator is stopping; sequences still waiting are refused."""


class Scheduler:
    """Admits sequences in arrival order into at most `capacity` running slots."""

    def __init__(self, metrics: SimulatorMetrics, capacity: int) -> None:
        self._metrics = metrics
        self._capacity = capacity
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._running = 0
        self._kv_tokens = 0
        self._closed = False

    def _publish(self) -> None:
        self._metrics.set_scheduler_state(self._running, len(self._waiting), self._kv_tokens)

    def admit(self, prompt_tokens: int) -> None:
        ticket = object()
        with self._cond:
            if self._closed:
                raise Closed
            self._waiting.append(ticket)
            self._publish()
            while not self._closed and not (
                self._waiting[0] is ticket and self._running < self._capacity
            ):
                self._cond.wait()
            self._waiting.remove(ticket)
            if self._closed:
                self._publish()
                raise Closed
            self._running += 1
            self._kv_tokens += prompt_tokens
            self._publish()
            # Capacity may allow the next in line too.
            self._cond.notify_all()

    def grow(self, tokens: int) -> None:
        with self._cond:
            self._kv_tokens += tokens
            self._publish()

    def release(self, kv_tokens: int) -> None:
        with self._cond:
            self._running -= 1
            self._kv_tokens -= kv_tokens
            self._publish()
            self._cond.notify_all()

    def set_capacity(self, capacity: int) -> None:
        with self._cond:
            self._capacity = capacity
            self._cond.notify_all()

    def set_open(self, is_open: bool) -> None:
        with self._cond:
            self._closed = not is_open
            self._cond.notify_all()


@dataclass(frozen=True)
class Token:
    index: int  # which prompt of a batch (the choice index)
    position: int
    last: bool


@dataclass(frozen=True)
class Failure:
    status: int
    message: str
    err_type: str


_SEQUENCE_DONE = object()


class Generation:
    """The events of one HTTP request's sequences, in the order they happen."""

    def __init__(self, sequences: int) -> None:
        self._events: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._remaining = sequences
        self.cancelled = threading.Event()

    def put(self, event: object) -> None:
        self._events.put(event)

    def events(self) -> Iterator[Token | Failure]:
        while self._remaining:
            event = self._events.get()
            if event is _SEQUENCE_DONE:
                self._remaining -= 1
            else:
                yield event  # type: ignore[misc]


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


@dataclass(frozen=True)
class SequenceDraws:
    """What the random draws decided for one sequence, fixed for its whole life."""

    fails: bool
    ttft_multiplier: float  # of the TTFT's fixed part
    itl_multiplier: float  # of every inter-token latency


class Engine:
    """Runs each sequence in its own thread with real sleeps, recording vLLM's metrics.

    `config` returns the current configuration, so a reconfigure reaches sequences in flight.
    """

    def __init__(
        self, config: Callable[[], SimulatorConfig], metrics: SimulatorMetrics, seed: int | None
    ) -> None:
        self._config = config
        self._metrics = metrics
        self.scheduler = Scheduler(metrics, config().max_num_seqs)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def draw(self, config: SimulatorConfig) -> SequenceDraws:
        # All of a sequence's draws under one lock hold: with a seed, the set of draws a run makes
        # does not depend on how the sequences' threads interleave.
        with self._rng_lock:
            fails = self._rng.random() < config.error_rate
            # No draw at sigma 0: a seed then gives the same error draws as before sigmas existed.
            ttft = self._rng.lognormvariate(0.0, config.ttft_sigma) if config.ttft_sigma else 1.0
            itl = self._rng.lognormvariate(0.0, config.itl_sigma) if config.itl_sigma else 1.0
        return SequenceDraws(fails, ttft, itl)

    def submit(self, prompts: list[int], max_tokens: int, arrival: float) -> Generation:
        generation = Generation(len(prompts))
        for index, prompt_tokens in enumerate(prompts):
            threading.Thread(
                target=self._run,
                args=(generation, index, prompt_tokens, max_tokens, arrival),
                name="vllm-sim-sequence",
                daemon=True,
            ).start()
        return generation

    def _run(
        self, out: Generation, index: int, prompt_tokens: int, max_tokens: int, arrival: float
    ) -> None:
        try:
            self.scheduler.admit(prompt_tokens)
        except Closed:
            out.put(Failure(503, "The simulator is shutting down.", "ServiceUnavailableError"))
            out.put(_SEQUENCE_DONE)
            return
        kv_tokens = prompt_tokens
        try:
            kv_tokens = self._decode(out, index, prompt_tokens, max_tokens, arrival)
        except Exception as exc:  # a bug must fail the request, not answer it as a success
            out.put(Failure(500, repr(exc), "InternalServerError"))
            raise
        finally:
            self.scheduler.release(kv_tokens)
            out.put(_SEQUENCE_DONE)

    def _decode(
        self, out: Generation, index: int, prompt_tokens: int, max_tokens: int, arrival: float
    ) -> int:
        """Sleeps through prefill and decode; returns the KV tokens the sequence holds."""
        m = self._metrics
        config = self._config()
        admitted = time.monotonic()
        draws = self.draw(config)
        _sleep_until(admitted + config.prefill_seconds(prompt_tokens, draws.ttft_multiplier))
        if draws.fails:
            message = f"Simulated engine error (error_rate={config.error_rate})."
            out.put(Failure(500, message, "InternalServerError"))
            return prompt_tokens
        first = last = deadline = time.monotonic()
        m.time_to_first_token.observe(first - arrival)
        m.prompt_tokens.inc(prompt_tokens)
        for position in range(max_tokens):
            if position:
                # Read each step so that a reconfigure also slows sequences in flight.
                deadline += self._config().itl_seconds(draws.itl_multiplier)
                _sleep_until(deadline)
                now = time.monotonic()
                m.inter_token_latency.observe(now - last)
                last = now
            if out.cancelled.is_set():
                return prompt_tokens + position
            self.scheduler.grow(1)
            m.generation_tokens.inc()
            out.put(Token(index, position, position == max_tokens - 1))
        finished = time.monotonic()
        # Observed once per finished request, as vLLM does from its `finished_requests`.
        m.success["length"].inc()
        m.e2e_request_latency.observe(finished - arrival)
        m.request_queue_time.observe(admitted - arrival)
        m.request_prompt_tokens.observe(prompt_tokens)
        m.request_generation_tokens.observe(max_tokens)
        decode_tokens = max_tokens - 1
        m.request_time_per_output_token.observe(
            (finished - first) / decode_tokens if decode_tokens else 0.0
        )
        return prompt_tokens + max_tokens

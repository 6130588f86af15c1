"""One vLLM server: a waiting queue and continuous batching with chunked prefill.

Each engine step (vLLM V1 scheduler) first admits waiting requests while fewer than
`max_num_seqs` run and their KV blocks fit, then fills a `max_batched_tokens` budget: one token
per decoding sequence, the rest as prefill chunks of admitted requests in arrival order. The
step's duration comes from the profile (`hardware.py`): the tokens scheduled, the KV tokens the
decoding sequences attend to, and the prefill chunks' attention pairs. A request's first token
is out at the end of the step that completes its prefill.

Decode-only steps change only by one token of context per sequence until a sequence finishes or
a request arrives, so a run of them is one event: its step times form an arithmetic series,
`start_step` schedules the end of the step in which the next sequence finishes, and an arrival
`interrupt`s the run at the end of the step in progress, where vLLM would pick it up.

KV space is reserved for prompt + output (in whole blocks) at admission. vLLM allocates blocks
as tokens are generated and preempts when full; reserving up front admits a little less but
never preempts, which is the same steady-state throughput without modelling recomputation.
With prefix caching, a request's `cached` prompt tokens are not prefilled again but are attended.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

from scaling.simulator.hardware import ReplicaProfile, prefill_pairs

STARTING, READY, DRAINING, TERMINATED = "starting", "ready", "draining", "terminated"


@dataclass(slots=True)
class Job:
    """A request inside the simulation."""

    rid: int
    arrival_s: float
    prompt: int
    output: int
    prefill_left: int = 0
    first_token_s: float = -1.0
    cached: int = 0  # prompt tokens found in the prefix cache
    kv_held: int = 0  # KV tokens reserved at admission (whole blocks)


class Replica:
    __slots__ = (
        "_completing",
        "_decoded",
        "attended",
        "counter",
        "decoding",
        "in_step",
        "kv_used",
        "name",
        "prefilling",
        "profile",
        "provisioned_s",
        "state",
        "step_b",
        "step_dt",
        "step_k",
        "step_n",
        "step_start",
        "terminated_s",
        "version",
        "waiting",
    )

    def __init__(self, name: int, profile: ReplicaProfile, provisioned_s: float) -> None:
        self.name = name
        self.profile = profile
        self.provisioned_s = provisioned_s
        self.terminated_s = -1.0
        self.state = STARTING
        self.waiting: deque[Job] = deque()
        self.prefilling: deque[Job] = deque()
        # (decode-step count at which the sequence emits its last token, rid, job)
        self.decoding: list[tuple[int, int, Job]] = []
        self.counter = 0
        self.kv_used = 0
        # Context tokens (prompt + generated) of the decoding sequences: what a decode step reads.
        self.attended = 0
        self.in_step = False
        self._completing: list[Job] = []
        self._decoded = False
        # The step run in progress: start, first step's seconds, growth per step, steps, decoding
        # sequences; `version` tells a current step-end event from one an interruption replaced.
        self.step_start = 0.0
        self.step_dt = 0.0
        self.step_b = 0.0
        self.step_k = 1
        self.step_n = 0
        self.version = 0

    @property
    def in_flight(self) -> int:
        # A request in its last prefill step has left `prefilling` and not yet reached
        # `decoding`; without `_completing` a replica prefilling its only request looked idle,
        # so the router sent the next prompt there (to wait behind that step, up to ~0.2 s on
        # a 16k prompt) and a scale-down released it as if empty.
        return len(self.waiting) + len(self.prefilling) + len(self._completing) + len(self.decoding)

    def _run_s(self, k: int) -> float:
        """Seconds of the first k steps of the current run."""
        return k * self.step_dt + self.step_b * k * (k - 1) / 2

    def start_step(self, now: float) -> float | None:
        """Schedule the next step; its end time, or None when there is nothing to run."""
        p = self.profile
        waiting, prefilling = self.waiting, self.prefilling
        while waiting and len(prefilling) + len(self.decoding) < p.max_num_seqs:
            job = waiting[0]
            need = p.blocks_tokens(job.prompt + job.output)
            if self.kv_used + need > p.kv_capacity_tokens:
                break
            waiting.popleft()
            self.kv_used += need
            job.kv_held = need
            job.prefill_left = job.prompt - job.cached
            prefilling.append(job)
        n_decode = len(self.decoding)
        budget = p.max_batched_tokens - n_decode
        prefill_tokens = 0
        pairs = 0.0
        completing = self._completing
        for job in prefilling:
            if budget <= 0:
                break
            take = min(job.prefill_left, budget)
            pairs += prefill_pairs(job.prompt - job.prefill_left, take)
            job.prefill_left -= take
            budget -= take
            prefill_tokens += take
            if job.prefill_left == 0:
                completing.append(job)
        for _ in completing:
            prefilling.popleft()
        if n_decode == 0 and not completing and prefill_tokens == 0:
            self.in_step = False
            return None
        self.in_step = True
        self._decoded = n_decode > 0
        self.step_start = now
        self.step_n = n_decode
        self.step_dt = p.step_s(max(1, n_decode + prefill_tokens), self.attended, pairs)
        if prefill_tokens == 0 and not completing:
            # Without prefill work the next change is the first sequence to finish; each step
            # adds one attended token per sequence.
            self.step_k = self.decoding[0][0] - self.counter
            self.step_b = n_decode * p.kv_s_per_token
        else:
            self.step_k = 1
            self.step_b = 0.0
        return now + self._run_s(self.step_k)

    def interrupt(self, now: float) -> float | None:
        """A request arrived during a run of decode steps: the new, earlier end of the run."""
        if not self.in_step or self.step_k == 1:
            return None
        elapsed = now - self.step_start
        a, b = self.step_dt, self.step_b
        # Steps completed by `now`: the largest j with j*a + b*j*(j-1)/2 <= elapsed.
        if b > 0:
            half = b / 2
            j = int((-(a - half) + math.sqrt((a - half) ** 2 + 4 * half * elapsed)) / b)
        else:
            j = int(elapsed / a)
        while j > 0 and self._run_s(j) > elapsed:
            j -= 1
        while self._run_s(j + 1) <= elapsed:
            j += 1
        k = j + 1
        if k >= self.step_k:
            return None
        self.step_k = k
        self.version += 1
        return self.step_start + self._run_s(k)

    def finish_step(self, now: float) -> tuple[list[Job], list[Job]]:
        """Close the running step: (jobs that got their first token, jobs that finished)."""
        finished: list[Job] = []
        decoding = self.decoding
        if self._decoded:
            self.counter += self.step_k
            self.attended += self.step_n * self.step_k
            while decoding and decoding[0][0] <= self.counter:
                job = heapq.heappop(decoding)[2]
                self.kv_used -= job.kv_held
                self.attended -= job.prompt + job.output
                finished.append(job)
        first = self._completing
        self._completing = []
        for job in first:
            job.first_token_s = now
            if job.output <= 1:
                self.kv_used -= job.kv_held
                finished.append(job)
            else:
                # Context: the prompt and the first token; one more per decode step.
                self.attended += job.prompt + 1
                heapq.heappush(decoding, (self.counter + job.output - 1, job.rid, job))
        self.in_step = False
        return first, finished

    def drop_all(self) -> list[Job]:
        """Empty the replica (end of simulation); the jobs it still held."""
        jobs = list(self.waiting) + list(self.prefilling) + [j for _, _, j in self.decoding]
        jobs += [j for j in self._completing if j.first_token_s < 0]
        self.waiting.clear()
        self.prefilling.clear()
        self.decoding.clear()
        self._completing = []
        return jobs

"""gunicorn's threaded worker, slow to accept a new connection while all its threads are busy.

Each gunicorn worker takes connections from the one listening socket, and a keep-alive
connection stays with the worker that accepted it. The stock gthread worker accepts whenever
the socket is readable, busy or not, so when many clients connect at once (a deploy, a burst of
CI jobs, an ingress filling its upstream pool) one worker can end up with most of them, and
its clients wait longer for the life of their connections (docs/benchmarks/api.md: 50 clients
of the read benchmark split 38/12 or 47/3, and their p99 is 280-310 ms where 25/25 gives 160).

A worker with a thread free accepts at once; a worker whose threads are all busy accepts at
most one connection per `BUSY_ACCEPT_INTERVAL_S`, leaving the others in the kernel's backlog
for a worker that can serve them now. Never accepting while busy is not an option: under a
steady load of keep-alive clients no thread is ever free, and the connections left in the
backlog would wait for ever. Two saturated workers accept at the same pace, so connections
spread evenly; requests on connections already accepted are served as before. See
docs/decisions/0016-balanced-gunicorn-workers.md.
"""

from __future__ import annotations

import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# Long enough for an idle worker to win a connection the busy one is woken for too (both poll the
# socket), short enough that fifty connections opened at once are all accepted within a second.
BUSY_ACCEPT_INTERVAL_S = 0.02


class BalancedThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Requests handed to the thread pool and not finished. Counted on the worker's main
        # thread only: `enqueue_req` and `finish_request` run there (the latter through the
        # method queue).
        self.requests_in_flight = 0
        self.last_accept = 0.0

    def may_accept(self) -> bool:
        return (
            self.requests_in_flight < self.cfg.threads
            or time.monotonic() - self.last_accept >= BUSY_ACCEPT_INTERVAL_S
        )

    def enqueue_req(self, conn: Any) -> None:
        self.requests_in_flight += 1
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.requests_in_flight -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        # The run loop calls this on each turn while its own wish (room for more connections)
        # differs from the state, so a worker held back asks again on the next turn: after
        # each request it finishes (the method queue wakes the loop), or within a second.
        super().set_accept_enabled(enabled and self.may_accept())

    def accept(self, listener: Any) -> None:
        if not self.may_accept():
            super().set_accept_enabled(False)
            return
        self.last_accept = time.monotonic()
        super().accept(listener)

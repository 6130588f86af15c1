"""gunicorn's configuration, the same for `make run` and the image:
`gunicorn --config python:control_plane.gunicorn_conf control_plane.wsgi`.

Workers and threads come from the Django settings (GUNICORN_WORKERS, GUNICORN_THREADS), so one
environment variable set changes them everywhere. The bind address comes from the command line.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from prometheus_client import multiprocess

# Reading settings does not load the apps: the master forks workers before any of them runs.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")

wsgi_app = "control_plane.wsgi:application"
# gthread, spreading keep-alive connections over the workers (control_plane/gunicorn_worker.py).
worker_class = "control_plane.gunicorn_worker.BalancedThreadWorker"
# gthread (threads > 1), by default 2 workers x 2 threads, sized for the 2-core pods and
# machines we run on: one process per core (a process runs Python on one core at a time), and a
# second thread to overlap the first one's waits on PostgreSQL and on row locks. Measured with
# tests/bench/bench_api.py at 50 clients (docs/benchmarks/api.md): 4 sync workers (threads=1)
# served fewer requests in every workload, and they close the connection after every answer
# (the sync worker has no keep-alive); 3 or 4 workers x 4 threads did no better than 2 on 2
# cores, with more memory and more database connections (workers x threads per pod); 2 x 2
# served 8-18 % more reads than 2 x 4 with a lower p99 (four more threads only contend for the
# GIL once the CPU is busy), and the same writes.
workers = settings.GUNICORN_WORKERS
threads = settings.GUNICORN_THREADS
timeout = settings.GUNICORN_TIMEOUT_SECONDS
# Longer than the load balancer's idle timeout, so it never reuses a connection we closed.
keepalive = 75
accesslog = "-"
errorlog = "-"
# Kubernetes ends a pod with SIGTERM, then SIGKILL after terminationGracePeriodSeconds.
graceful_timeout = 25
# Headers that only a trusted ingress sets (X-Forwarded-Proto is handled by Django's
# TRUST_X_FORWARDED_PROTO); gunicorn must not trust them from arbitrary peers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 24+ opens a control socket under $HOME; nothing here uses it, and the pod's root
# filesystem is read-only.
control_socket_disable = True


def on_starting(server) -> None:
    """prometheus_client needs the directory to exist. Files of processes that ended stay and
    keep counting in the sums, as if those processes still ran: counters never go backwards."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)

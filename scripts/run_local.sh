#!/usr/bin/env bash
# `make run`: the service with demo data, using the embedded defaults (SQLite, the kombu
# filesystem broker, the directory cluster backend). Web (gunicorn, as in the image), Celery
# worker and beat run until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBUG="${DEBUG:-true}"
export RUN_DIR="${RUN_DIR:-$PWD/.run}"
PORT="${PORT:-8000}"
mkdir -p "$RUN_DIR"
# Every process (gunicorn's workers, Celery's pool) writes its metrics here; /metrics sums them.
export PROMETHEUS_MULTIPROC_DIR="$RUN_DIR/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ]; then
  [ -s "$RUN_DIR/secret_key" ] || .venv/bin/python -c \
    "import secrets; print(secrets.token_urlsafe(50))" > "$RUN_DIR/secret_key"
  export SECRET_KEY_FILE="$RUN_DIR/secret_key"
fi

.venv/bin/python manage.py migrate --no-input >/dev/null
.venv/bin/python manage.py seed_demo --url "http://127.0.0.1:$PORT/"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
.venv/bin/celery -A control_plane worker --loglevel WARNING --concurrency 2 \
  -Q celery,provisioning,analysis >"$RUN_DIR/worker.log" 2>&1 &
pids+=($!)
.venv/bin/celery -A control_plane beat --loglevel WARNING >"$RUN_DIR/beat.log" 2>&1 &
pids+=($!)
.venv/bin/gunicorn --config python:control_plane.gunicorn_conf --bind "127.0.0.1:$PORT" \
  --access-logfile "$RUN_DIR/access.log" &
pids+=($!)
wait -n

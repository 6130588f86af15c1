#!/bin/sh
# The image's entrypoint: one image, three roles (docs/deploy.md).
#   web     gunicorn on 0.0.0.0:8000 (GUNICORN_WORKERS, GUNICORN_THREADS)
#   worker  a Celery worker; CELERY_QUEUES names its queues (default: all three)
#   beat    Celery beat, the periodic ticks (exactly one per installation)
#   manage  manage.py with the remaining arguments (migrate, createsuperuser, audit_verify)
set -eu
role="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$role" in
  web)
    exec gunicorn --config python:control_plane.gunicorn_conf \
      --bind "0.0.0.0:${PORT:-8000}" "$@"
    ;;
  worker)
    exec celery -A control_plane worker --loglevel "${LOG_LEVEL:-INFO}" \
      -Q "${CELERY_QUEUES:-celery,provisioning,analysis}" "$@"
    ;;
  beat)
    # The schedule file is state beat rewrites: it lives on the writable /tmp.
    exec celery -A control_plane beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    echo "unknown role '$role': use web, worker, beat or manage" >&2
    exit 64
    ;;
esac

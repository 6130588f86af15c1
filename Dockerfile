# syntax=docker/dockerfile:1
# The control plane's image: web (gunicorn), Celery worker and beat from one build, chosen by the
# first argument (scripts/container-entrypoint.sh). Build: `make image` (docs/deploy.md).
#
# The base is pinned by its exact tag. Pin its digest as well when you publish, so a rebuild
# cannot pick up a different base under the same tag:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm   # prints "Digest: sha256:..."
#   docker build --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- builder: the virtualenv and the collected static files ------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# What the service runs, at the versions requirements.txt pins (-c); the test and development
# tools in that file stay out. Wheels only: nothing is compiled, so no compiler is needed here
# either. tests/serving/test_dockerfile.py checks this list covers every import of the app.
RUN /opt/venv/bin/pip install --only-binary=:all: -c /tmp/requirements.txt \
      Django djangorestframework django-filter drf-spectacular drf-spectacular-sidecar \
      django-htmx mozilla-django-oidc dj-database-url cryptography \
      celery kombu redis "psycopg[binary]" \
      kubernetes PyYAML requests urllib3 \
      prometheus_client prometheus-api-client numpy matplotlib \
      gunicorn whitenoise
WORKDIR /app
COPY . /app
# Hashed names (whitenoise's CompressedManifestStaticFilesStorage), collected once at build.
RUN DEBUG=false SECRET_KEY=collectstatic-only STATIC_MANIFEST=true RUN_DIR=/app/run \
      /opt/venv/bin/python manage.py collectstatic --no-input --verbosity 0 \
 && rm -rf /app/run/broker

# --- runtime: the venv, the code, no build tools ------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="llm-control-plane" \
      org.opencontainers.image.description="Control plane for multi-tenant LLM inference on Kubernetes"
# pip and setuptools of the base are not needed at run time.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel 2>/dev/null || true \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /run/prometheus && chown 10001:10001 /run/prometheus
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=10001:10001 /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=control_plane.settings \
    RUN_DIR=/app/run \
    STATIC_MANIFEST=true \
    PROMETHEUS_MULTIPROC_DIR=/run/prometheus
WORKDIR /app
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["/app/scripts/container-entrypoint.sh"]
CMD ["web"]

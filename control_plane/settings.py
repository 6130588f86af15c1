"""Django settings. Every value comes from an environment variable listed in the README.

Unset variables fall back to the embedded defaults of `make run` (SQLite, the kombu filesystem
broker, the directory cluster backend, no Prometheus), so a fresh clone runs with no servers.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from control_plane.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = Path(env_str("RUN_DIR", str(BASE_DIR / ".run")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
_LOCAL_SECRET_FILE = RUN_DIR / "secret_key"
if not SECRET_KEY and _LOCAL_SECRET_FILE.is_file():
    # Written by `make run` (scripts/run_local.sh): the README's commands, run beside it, find
    # the same key without exporting anything. A deployment sets SECRET_KEY (or _FILE).
    SECRET_KEY = _LOCAL_SECRET_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set (or DEBUG=true for a local run)")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # htmx itself ships in django-htmx's static files, Swagger UI and Redoc in the sidecar: the
    # console works without a CDN, as air-gapped GPU clusters need.
    "django_htmx",
    "drf_spectacular_sidecar",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "control_plane.audit",
    "tenants",
    "endpoints",
    "scaling",
    "frontend",
]

MIDDLEWARE = [
    "control_plane.request_context.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "control_plane.urls"
WSGI_APPLICATION = "control_plane.wsgi.application"
ASGI_APPLICATION = "control_plane.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.console.navigation",
            ],
        },
    },
]

DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)


def database_settings(url: str) -> dict:
    """One DATABASES entry for `url`. On PostgreSQL, psycopg binds parameters on the server and
    prepares a statement the connection has run 5 times, so PostgreSQL stops parsing and
    planning the same few queries of every API request again (2-3x less of its CPU per read,
    docs/benchmarks/api.md). Django leaves both off by default (`server_side_binding`,
    `prepare_threshold` in its PostgreSQL notes); a transaction pooler that does not track
    prepared statements (PgBouncer before 1.21, or without `max_prepared_statements`) needs
    DATABASE_PREPARED_STATEMENTS=false."""
    database = dj_database_url.parse(
        url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    )
    if DATABASE_PREPARED_STATEMENTS and database["ENGINE"] == "django.db.backends.postgresql":
        database.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
    return database


DATABASES = {
    "default": database_settings(
        env_str("DATABASE_URL", f"sqlite:///{RUN_DIR / 'control-plane.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = RUN_DIR / "static"

# Secure by default outside DEBUG: cookies over HTTPS only, and HSTS. Plain-HTTP development
# without DEBUG opts out with SECURE_COOKIES=false. TLS usually ends at the ingress: set
# TRUST_X_FORWARDED_PROTO=true behind one that sets X-Forwarded-Proto, and SECURE_SSL_REDIRECT
# if nothing in front redirects HTTP.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 31_536_000 if SESSION_COOKIE_SECURE else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Failed sign-ins and API-key attempts (control_plane/auth/lockout.py). The counters live in the
# cache: set CACHE_URL (redis://...) when several processes serve requests.
AUTH_FAILURE_LIMIT = env_int("AUTH_FAILURE_LIMIT", 10, minimum=1)
AUTH_FAILURE_WINDOW_SECONDS = env_int("AUTH_FAILURE_WINDOW_SECONDS", 300, minimum=1)
# Repeated denials of one principal, action and target within this many seconds are one audit
# event with a count, so a client looping on a 403 cannot flood the trail.
AUDIT_DENIED_AGGREGATE_SECONDS = env_int("AUDIT_DENIED_AGGREGATE_SECONDS", 60, minimum=0)
_CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
        if _CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiKeyAuthentication",
        "tenants.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "control_plane.api.pagination.BoundedPageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "control_plane.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["control_plane.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": None,
    # OPTIONS would describe forms by instantiating views outside their routes; the OpenAPI
    # schema already describes every operation.
    "DEFAULT_METADATA_CLASS": None,
    # Content negotiation by Accept header only; `?format=` would shadow query parameters.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LLM inference control plane API",
    "DESCRIPTION": "Tenants, quotas, API keys, model endpoints and the audit trail.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RolloutStateEnum": "endpoints.models.Rollout.State",
        "RolloutStrategyEnum": "endpoints.models.Rollout.Strategy",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "control_plane.api.schema.add_error_responses",
    ],
}
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50, minimum=1)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500, minimum=1)

# Celery: JSON only, acknowledged after the task ran so a killed worker's task is redelivered.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = RUN_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # kombu keeps its exchange tables in "control" relative to the working directory unless
        # told otherwise (kombu/transport/filesystem.py, `control_folder`).
        "control_folder": str(_broker_dir / "control"),
        # How long a worker sleeps when its queue is empty (kombu's virtual transports: 1 s).
        "polling_interval": 0.01,
    }
    # A worker polls each queue it consumes in turn and sleeps when one is empty, so its
    # remote-control queue, always empty, cost a second after every task: one task a second,
    # and a backlog of thousands after a minute of writes. Nothing here uses remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
    for _folder in ("out", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30 if CELERY_TASK_TIME_LIMIT > 60 else None
CELERY_BEAT_SCHEDULE_FILENAME = str(RUN_DIR / "celerybeat-schedule")
RESYNC_INTERVAL_SECONDS = env_int("RESYNC_INTERVAL_SECONDS", 30, minimum=1)
READINESS_RECHECK_SECONDS = env_int("READINESS_RECHECK_SECONDS", 20, minimum=1)
PRUNE_ORPHANS_INTERVAL_SECONDS = env_int("PRUNE_ORPHANS_INTERVAL_SECONDS", 600, minimum=10)
RESYNC_STALE_AFTER_SECONDS = env_int("RESYNC_STALE_AFTER_SECONDS", 600, minimum=1)
# A heartbeat renews the lease every third of it while the reconcile runs (control_plane/
# reconcile.py): a reconcile of any length keeps its object, a killed worker's wait this long.
RECONCILE_LEASE_SECONDS = env_int("RECONCILE_LEASE_SECONDS", 45, minimum=5)
# Tasks outside the apps' `tasks` modules (the project shell's periodic tasks).
CELERY_IMPORTS = ["control_plane.resync"]
CELERY_BEAT_SCHEDULE = {
    "resync": {
        "task": "control_plane.resync",
        "schedule": float(RESYNC_INTERVAL_SECONDS),
        # A tick not run within its interval is dropped: after an outage the queued ticks do
        # not run back to back (the next one covers everything anyway).
        "options": {"expires": float(RESYNC_INTERVAL_SECONDS)},
    },
    "prune-orphans": {
        "task": "control_plane.prune_orphans",
        "schedule": float(PRUNE_ORPHANS_INTERVAL_SECONDS),
    },
}

# Cluster backends (control_plane/cluster/).
CLUSTER_BACKEND = env_choice("CLUSTER_BACKEND", "directory", ("directory", "kubernetes"))
CLUSTER_DIRECTORY = env_str("CLUSTER_DIRECTORY", str(RUN_DIR / "manifests"))
KUBECONFIG = env_str("KUBECONFIG", "")
KUBE_CONTEXT = env_str("KUBE_CONTEXT", "")
KUBE_IN_CLUSTER = env_bool("KUBE_IN_CLUSTER", False)
CLUSTER_FIELD_MANAGER = env_str("CLUSTER_FIELD_MANAGER", "llm-control-plane")
GATEWAY_NAME = env_str("GATEWAY_NAME", "inference-gateway")
GATEWAY_NAMESPACE = env_str("GATEWAY_NAMESPACE", "gateway-system")
MONITORING_NAMESPACE = env_str("MONITORING_NAMESPACE", "monitoring")
KEDA_HTTP_NAMESPACE = env_str("KEDA_HTTP_NAMESPACE", "keda")
# Names of the KEDA HTTP add-on's services, as its Helm chart installs them.
KEDA_HTTP_INTERCEPTOR_SERVICE = env_str(
    "KEDA_HTTP_INTERCEPTOR_SERVICE", "keda-add-ons-http-interceptor-proxy"
)
KEDA_HTTP_INTERCEPTOR_PORT = env_int("KEDA_HTTP_INTERCEPTOR_PORT", 8080, minimum=1)
KEDA_HTTP_SCALER_ADDRESS = env_str(
    "KEDA_HTTP_SCALER_ADDRESS", "keda-add-ons-http-external-scaler.keda:9090"
)
# The Prometheus that KEDA's triggers query from inside the cluster (not PROMETHEUS_URL, which
# is how this service reaches Prometheus and may differ).
KEDA_PROMETHEUS_ADDRESS = env_str(
    "KEDA_PROMETHEUS_ADDRESS", "http://prometheus-operated.monitoring.svc:9090"
)
ENDPOINT_BASE_DOMAIN = env_str("ENDPOINT_BASE_DOMAIN", "inference.example.com")
HF_TOKEN_SECRET_NAME = env_str("HF_TOKEN_SECRET_NAME", "hf-token")


def _gpu_pools() -> list[dict]:
    raw = env_str("GPU_POOLS", "")
    if not raw:
        return [
            {
                "name": "h100",
                "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ],
                "gpu_product": "NVIDIA H100 80GB HBM3",
                "gpu_memory_gb": 80,
                "mig_profiles": [],
            },
            {
                "name": "a100-mig",
                "node_selector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ],
                "gpu_product": "NVIDIA A100 80GB (MIG mixed strategy)",
                "gpu_memory_gb": 80,
                "mig_profiles": ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"],
            },
        ]
    try:
        pools = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"GPU_POOLS must be a JSON list: {error}") from error
    if not isinstance(pools, list) or not all(isinstance(p, dict) and "name" in p for p in pools):
        raise ImproperlyConfigured("GPU_POOLS must be a JSON list of objects with a name")
    return pools


GPU_POOLS = _gpu_pools()

# Telemetry: empty means no Prometheus (the console says so; canary analysis is inconclusive).
PROMETHEUS_URL = env_str("PROMETHEUS_URL", "")
PROMETHEUS_TIMEOUT_SECONDS = env_int("PROMETHEUS_TIMEOUT_SECONDS", 10, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Serving (docs/deploy.md): gunicorn runs the web in `make run` and in the image; WhiteNoise
# serves the static files from the web process; the probe paths answer before host checks.
GUNICORN_WORKERS = env_int("GUNICORN_WORKERS", 2, minimum=1)
GUNICORN_THREADS = env_int("GUNICORN_THREADS", 2, minimum=1)
GUNICORN_TIMEOUT_SECONDS = env_int("GUNICORN_TIMEOUT_SECONDS", 60, minimum=1)
READINESS_TIMEOUT_SECONDS = env_int("READINESS_TIMEOUT_SECONDS", 2, minimum=1)
# A Celery worker serves its metrics on this port when set (0: not served); the web serves them
# at /metrics. Several processes per pod need PROMETHEUS_MULTIPROC_DIR (control_plane/metrics.py).
CELERY_METRICS_PORT = env_int("CELERY_METRICS_PORT", 0, minimum=0)
# Probes and scrapes first (control_plane/health.py), then the request metrics, so that every
# other middleware's time and errors count.
MIDDLEWARE[0:0] = [
    "control_plane.health.ProbeMiddleware",
    "control_plane.metrics.RequestMetricsMiddleware",
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
# The image collects static files with hashed names at build time and sets STATIC_MANIFEST;
# without it (make run, tests) WhiteNoise serves them straight from the apps.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
if not STATIC_MANIFEST:
    # Nothing was collected into STATIC_ROOT: the finders serve everything, so WhiteNoise's
    # warning that the folder is missing says nothing useful.
    warnings.filterwarnings("ignore", message="No directory at: ")

# Rollouts (endpoints/rollouts/). The analysis tick claims rollouts whose `next_check_at` is due.
ROLLOUT_TICK_SECONDS = env_int("ROLLOUT_TICK_SECONDS", 5, minimum=1)
# The shortest analysis interval a rollout may ask for: four samples at a 15 s scrape interval
# need a minute; below 10 s a window holds too few samples for `increase` to mean anything.
ROLLOUT_MIN_INTERVAL_SECONDS = env_int("ROLLOUT_MIN_INTERVAL_SECONDS", 10, minimum=1)
# How long a retired revision (the canary after a rollback, the old stable after a promotion)
# keeps its pods once the HTTPRoute no longer sends it traffic: the preStop drain plus the
# longest response the route allows (endpoints/manifests.py), so no in-flight generation is cut.
ROLLOUT_DRAIN_SECONDS = env_int("ROLLOUT_DRAIN_SECONDS", 15 + 300, minimum=0)
CELERY_BEAT_SCHEDULE["analyse-rollouts"] = {
    "task": "endpoints.analyse_rollouts",
    "schedule": float(ROLLOUT_TICK_SECONDS),
    "options": {"expires": float(ROLLOUT_TICK_SECONDS), "queue": "analysis"},
}

# Single sign-on through OpenID Connect (mozilla-django-oidc), on when a client id is set. People
# who sign in this way for the first time get a user with no tenant: a tenant admin adds them.
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = "openid email profile"
LOGIN_REDIRECT_URL_FAILURE = "/login/"
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "mozilla_django_oidc.auth.OIDCAuthenticationBackend",
    ]

# Audit exports (control_plane/audit/, docs/decisions/0010-verifiable-audit-exports.md).
# The Ed25519 key that signs export manifests and checkpoints. Unset, it is RUN_DIR's
# audit-signing.pem, created on first use for `make run`; a path set here must exist.
AUDIT_SIGNING_KEY_FILE = env_str("AUDIT_SIGNING_KEY_FILE", "") or str(RUN_DIR / "audit-signing.pem")
AUDIT_SIGNING_KEY_GENERATE = not env_str("AUDIT_SIGNING_KEY_FILE", "")
# Signed checkpoints of every chain go here, outside the database (a mounted volume, or a
# directory a GitOps job or an object-store sync picks up).
AUDIT_CHECKPOINT_DIRECTORY = env_str(
    "AUDIT_CHECKPOINT_DIRECTORY", str(RUN_DIR / "audit-checkpoints")
)
AUDIT_CHECKPOINT_INTERVAL_SECONDS = env_int("AUDIT_CHECKPOINT_INTERVAL_SECONDS", 300, minimum=10)
# Rows fetched per round trip by the exports' server-side cursor: memory stays constant.
AUDIT_EXPORT_CHUNK_SIZE = env_int("AUDIT_EXPORT_CHUNK_SIZE", 2000, minimum=1)
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": "audit.checkpoint",
    "schedule": float(AUDIT_CHECKPOINT_INTERVAL_SECONDS),
    "options": {"expires": float(AUDIT_CHECKPOINT_INTERVAL_SECONDS)},
}

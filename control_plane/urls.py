from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from control_plane.api import schema  # noqa: F401  (registers the schema extensions)
from control_plane.api.routes import api_urlpatterns
from control_plane.health import healthz, readyz
from control_plane.metrics import metrics_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include(api_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("", include("frontend.urls")),
]

# Single sign-on: mozilla-django-oidc's authenticate and callback views, when configured.
oidc_urlpatterns = [path("oidc/", include("mozilla_django_oidc.urls"))]
if settings.OIDC_ENABLED:
    urlpatterns += oidc_urlpatterns

# Console pages answer in the console's layout (the API answers JSON through its own catch-all).
handler403 = "frontend.views.forbidden"
handler404 = "frontend.views.not_found"

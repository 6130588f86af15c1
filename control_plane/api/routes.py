"""Every route of /api/v1/. Nested tenant routes are spelled out so the URL shape is visible
in one place."""

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path, register_converter
from django.views.decorators.csrf import csrf_exempt

from control_plane.audit.api import AuditEventViewSet, export_urlpatterns
from endpoints.api.rollouts import RolloutViewSet
from endpoints.api.views import EndpointViewSet, ModelVersionViewSet
from scaling.api.recommendation import ScalingRecommendationView
from tenants.api.users import UserViewSet
from tenants.api.views import ApiKeyViewSet, MembershipViewSet, QuotaViewSet, TenantViewSet


@csrf_exempt
def unknown_route(request: HttpRequest, path: str) -> JsonResponse:
    """Unmatched /api/ URLs answer in the API's error shape, not with Django's HTML page."""
    body = {"code": "not_found", "message": f"No API route /api/v1/{path}."}
    request_id = getattr(request, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JsonResponse({"error": body}, status=404)


class SegmentConverter:
    """A path segment without control characters: `beta%00` is no name the database could
    hold (PostgreSQL refuses NUL in text), so it is an unknown route (404), not a 500."""

    regex = r"[^/\x00-\x1f\x7f]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SegmentConverter, "segment")

collection = {"get": "list", "post": "create"}
item = {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}

api_urlpatterns = [
    path("tenants/", TenantViewSet.as_view(collection), name="tenant-list"),
    path("tenants/<segment:slug>/", TenantViewSet.as_view(item), name="tenant-detail"),
    path(
        "tenants/<segment:slug>/quota/",
        QuotaViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="tenant-quota",
    ),
    path(
        "tenants/<segment:slug>/members/",
        MembershipViewSet.as_view(collection),
        name="tenant-member-list",
    ),
    path(
        "tenants/<segment:slug>/members/<segment:username>/",
        MembershipViewSet.as_view(item),
        name="tenant-member-detail",
    ),
    path(
        "tenants/<segment:slug>/endpoints/",
        EndpointViewSet.as_view(collection),
        name="endpoint-list",
    ),
    path(
        "tenants/<segment:slug>/endpoints/<segment:name>/",
        EndpointViewSet.as_view(item),
        name="endpoint-detail",
    ),
    path(
        "tenants/<segment:slug>/endpoints/<segment:name>/manifests/",
        EndpointViewSet.as_view({"get": "manifests"}),
        name="endpoint-manifests",
    ),
    path(
        "tenants/<segment:slug>/endpoints/<segment:name>/scaling-comparison/",
        EndpointViewSet.as_view({"get": "scaling_comparison"}),
        name="endpoint-scaling-comparison",
    ),
    path(
        "tenants/<segment:slug>/endpoints/<segment:name>/scaling-recommendation/",
        ScalingRecommendationView.as_view(),
        name="endpoint-scaling-recommendation",
    ),
    path(
        "tenants/<segment:slug>/endpoints/<segment:name>/rollouts/",
        RolloutViewSet.as_view(collection),
        name="rollout-list",
    ),
    path(
        "tenants/<segment:slug>/endpoints/<segment:name>/rollouts/<int:pk>/",
        RolloutViewSet.as_view({"get": "retrieve"}),
        name="rollout-detail",
    ),
    *(
        path(
            f"tenants/<segment:slug>/endpoints/<segment:name>/rollouts/<int:pk>/{action}/",
            RolloutViewSet.as_view({"post": action}),
            name=f"rollout-{action}",
        )
        for action in ("pause", "resume", "promote", "abort")
    ),
    path("model-versions/", ModelVersionViewSet.as_view(collection), name="modelversion-list"),
    path(
        "model-versions/<int:pk>/",
        ModelVersionViewSet.as_view(item),
        name="modelversion-detail",
    ),
    path(
        "model-versions/<int:pk>/deprecate/",
        ModelVersionViewSet.as_view({"post": "deprecate"}),
        name="modelversion-deprecate",
    ),
    path("users/", UserViewSet.as_view(collection), name="user-list"),
    path(
        "users/<segment:username>/",
        UserViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="user-detail",
    ),
    path("api-keys/", ApiKeyViewSet.as_view(collection), name="apikey-list"),
    path(
        "api-keys/<segment:prefix>/",
        ApiKeyViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="apikey-detail",
    ),
    path("audit-events/", AuditEventViewSet.as_view({"get": "list"}), name="auditevent-list"),
    path(
        "audit-events/<int:pk>/",
        AuditEventViewSet.as_view({"get": "retrieve"}),
        name="auditevent-detail",
    ),
    *export_urlpatterns,
    # `[\s\S]`, not `.`: a path with an encoded newline must get the JSON 404 too.
    re_path(r"^(?P<path>[\s\S]*)$", unknown_route),
]

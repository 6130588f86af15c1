from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import (
    audit_pages,
    catalog_pages,
    endpoint_pages,
    people_pages,
    rollout_pages,
    telemetry_pages,
    tenant_pages,
    views,
)
from frontend.sign_in import ThrottledLoginView

ENDPOINT = "tenants/<slug:slug>/endpoints/<slug:name>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("catalog/", catalog_pages.catalog_page, name="catalog"),
    path("catalog/<int:pk>/deprecate/", catalog_pages.deprecate, name="catalog-deprecate"),
    path("audit/", audit_pages.audit_page, name="audit"),
    path("tenants/", tenant_pages.tenant_create, name="tenant-create"),
    path("switch/", tenant_pages.tenant_switch, name="tenant-switch"),
    path("tenants/<slug:slug>/", tenant_pages.tenant_page, name="tenant"),
    path("tenants/<slug:slug>/endpoints/", tenant_pages.endpoint_create, name="endpoint-create"),
    path("tenants/<slug:slug>/members/", tenant_pages.member_add, name="member-add"),
    path("tenants/<slug:slug>/quota/", tenant_pages.quota_update, name="quota-update"),
    path(ENDPOINT, endpoint_pages.endpoint_page, name="endpoint"),
    path(f"{ENDPOINT}scaling/", views.endpoint_scaling, name="endpoint-scaling"),
    path(
        f"{ENDPOINT}scaling/recommendation/",
        endpoint_pages.scaling_recommendation,
        name="scaling-recommendation",
    ),
    path(
        f"{ENDPOINT}scaling/recommendation/apply/",
        endpoint_pages.scaling_recommendation_apply,
        name="scaling-recommendation-apply",
    ),
    path(f"{ENDPOINT}scale/", endpoint_pages.endpoint_scale, name="endpoint-scale"),
    path(f"{ENDPOINT}scale/preview/", endpoint_pages.scale_preview, name="scale-preview"),
    path(f"{ENDPOINT}delete/", endpoint_pages.endpoint_delete, name="endpoint-delete"),
    path(f"{ENDPOINT}telemetry/", telemetry_pages.endpoint_telemetry, name="endpoint-telemetry"),
    path(f"{ENDPOINT}rollouts/", endpoint_pages.rollout_start, name="rollout-start"),
    path(f"{ENDPOINT}rollouts/<int:pk>/", rollout_pages.rollout_page, name="rollout"),
    path(
        f"{ENDPOINT}rollouts/<int:pk>/<slug:action>/",
        rollout_pages.rollout_action,
        name="rollout-action",
    ),
    path("users/", people_pages.users_page, name="users"),
    path("users/new/", people_pages.user_create, name="user-create"),
    path("users/<str:username>/<slug:change>/", people_pages.user_update, name="user-update"),
    path("keys/", people_pages.keys_page, name="keys"),
    path("keys/new/", people_pages.key_create, name="key-create"),
    path("keys/<str:prefix>/revoke/", people_pages.key_revoke, name="key-revoke"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

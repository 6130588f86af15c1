from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views
from frontend.sign_in import ThrottledLoginView

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "tenants/<slug:slug>/endpoints/<slug:name>/scaling/",
        views.endpoint_scaling,
        name="endpoint-scaling",
    ),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

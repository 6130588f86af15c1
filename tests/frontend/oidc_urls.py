"""The project's URLs with single sign-on switched on, as `OIDC_RP_CLIENT_ID` does at start."""

from control_plane.urls import oidc_urlpatterns, urlpatterns

urlpatterns = oidc_urlpatterns + urlpatterns

"""Single sign-on through OpenID Connect: offered on the sign-in page when configured, and the
authenticate view sends the browser to the provider with our client id."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PROVIDER = "https://sso.example.com/oauth2"


@pytest.fixture
def oidc(settings):
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = "control-plane"
    settings.OIDC_RP_CLIENT_SECRET = "s3cret"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{PROVIDER}/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{PROVIDER}/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{PROVIDER}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{PROVIDER}/jwks"
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "mozilla_django_oidc.auth.OIDCAuthenticationBackend",
    ]
    settings.ROOT_URLCONF = "tests.frontend.oidc_urls"


def test_without_a_client_id_sign_in_offers_no_single_sign_on(settings):
    assert "single sign-on" not in Client().get("/login/").content.decode()


def test_the_sign_in_page_offers_single_sign_on_that_redirects_to_the_provider(oidc):
    assert "Sign in with single sign-on" in Client().get("/login/").content.decode()
    response = Client().get("/oidc/authenticate/")
    assert response.status_code == 302
    target = urlparse(response.url)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{PROVIDER}/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == ["control-plane"]
    assert query["response_type"] == ["code"]
    assert "openid" in query["scope"][0]

"""People and keys: platform admins manage users; everyone manages their own API keys (a new
key is shown once, on the page that created it)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.errors import NotFound
from frontend.console import actor_of, attempt
from tenants import services as tenant_services
from tenants import users
from tenants.selectors import api_keys_of


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=users.USERNAME_MAX_LENGTH)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, max_length=4096)


class PasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, max_length=4096, label="New password")


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Key name")


def _users_page(request, actor, form=None, status=200) -> HttpResponse:
    context = {
        "users": users.users_visible_to(actor=actor),
        "form": form or UserCreateForm(),
        "can_manage": actor.is_platform_admin,
    }
    return render(request, "frontend/users.html", context, status=status)


@login_required
def users_page(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not actor.reads_all_tenants:
        raise Http404("No such page.")
    return _users_page(request, actor)


@login_required
@require_POST
def user_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = UserCreateForm(request.POST)
    if not form.is_valid():
        return _users_page(request, actor, form, 400)
    ok, result = attempt(
        request, lambda: users.user_create(actor=actor, **form.cleaned_data), form=form
    )
    if not ok:
        return _users_page(request, actor, form, result.status)
    messages.success(request, f"User {result.username} created.")
    return redirect("users")


@login_required
@require_POST
def user_update(request: HttpRequest, username: str, change: str) -> HttpResponse:
    actor = actor_of(request)
    try:
        user = users.user_for(actor=actor, username=username)
    except NotFound as error:
        raise Http404(error.message) from error
    if change == "password":
        form = PasswordForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give the new password.")
            return redirect("users")
        changes = {"password": form.cleaned_data["password"]}
    elif change in ("deactivate", "activate"):
        changes = {"is_active": change == "activate"}
    else:
        raise Http404(f"No change {change!r}.")
    ok, _ = attempt(request, lambda: users.user_update(actor=actor, user=user, **changes))
    if ok:
        messages.success(request, f"{username}: {change} done.")
    return redirect("users")


def _keys_page(request, actor, *, form=None, new_key: str = "", status=200) -> HttpResponse:
    context = {
        "keys": api_keys_of(actor=actor).order_by("-created_at"),
        "form": form or ApiKeyForm(),
        "new_key": new_key,
    }
    return render(request, "frontend/keys.html", context, status=status)


@login_required
def keys_page(request: HttpRequest) -> HttpResponse:
    return _keys_page(request, actor_of(request))


@login_required
@require_POST
def key_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, actor, form=form, status=400)
    ok, result = attempt(
        request,
        lambda: tenant_services.api_key_create(actor=actor, name=form.cleaned_data["name"]),
        form=form,
    )
    if not ok:
        return _keys_page(request, actor, form=form, status=result.status)
    # Rendered, not redirected: the plaintext exists only in this response.
    return _keys_page(request, actor, new_key=result[1], status=201)


@login_required
@require_POST
def key_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    actor = actor_of(request)
    key = api_keys_of(actor=actor).filter(prefix=prefix).first()
    if key is None:
        raise Http404(f"No API key {prefix!r}.")
    ok, _ = attempt(request, lambda: tenant_services.api_key_revoke(actor=actor, key=key))
    if ok:
        messages.success(request, f"Key {prefix} revoked.")
    return redirect("keys")

"""The console's sign-in, throttled like API keys (control_plane/auth/lockout.py)."""

from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.http import HttpResponse

from control_plane.auth import lockout
from control_plane.request_context import source_address_of


class ThrottledLoginView(LoginView):
    template_name = "frontend/login.html"

    def post(self, request, *args, **kwargs) -> HttpResponse:
        locked = lockout.locked_out(source=source_address_of(request), identity=self._identity())
        if locked is not None:
            # Refused before the password is checked: a guess during a lockout learns nothing.
            context = self.get_context_data(form=self.get_form_class()(request), lockout=locked)
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(locked.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form) -> HttpResponse:
        lockout.record_failure(
            source=source_address_of(self.request),
            identity=self._identity(),
            request_id=getattr(self.request, "request_id", ""),
        )
        return super().form_invalid(form)

    def _identity(self) -> str:
        return f"user {self.request.POST.get('username', '')[:150]}"

"""A URLconf with one view that fails, to see a server error counted per route."""

from django.http import HttpRequest
from django.urls import path


def fails(request: HttpRequest):
    raise RuntimeError("a bug")


urlpatterns = [path("fails/<int:number>/", fails, name="always-fails")]

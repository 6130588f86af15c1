import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
application = get_wsgi_application()
# Import the URL configuration, and with it every view, now rather than in the first request:
# half a second a process, during which a new gunicorn worker would hold the connections it
# accepted while the others took the rest (docs/decisions/0016-balanced-gunicorn-workers.md).
# A broken URL configuration now fails the boot, not the first request.
get_resolver().url_patterns  # noqa: B018 - the import is the point

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def allow_flush_after_transactional_tests(request):
    """Transactional tests end with a TRUNCATE of every table (Django's flush), which the audit
    table's append-only trigger refuses; it is switched off for that flush. The test of the
    trigger switches it back on inside its own transaction."""
    yield
    if request.node.get_closest_marker("django_db") and request.node.get_closest_marker(
        "django_db"
    ).kwargs.get("transaction"):
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_truncate")

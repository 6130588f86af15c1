"""PostgreSQL connections prepare the statements they repeat (control_plane/settings.py)."""

from __future__ import annotations

import pytest
from django.db import connection

from control_plane.settings import database_settings
from tenants.models import Tenant


def test_a_postgresql_url_binds_on_the_server_and_prepares_repeated_statements():
    options = database_settings("postgres://u@db:5432/cp")["OPTIONS"]
    assert options == {"server_side_binding": True, "prepare_threshold": 5}


def test_prepared_statements_switched_off_leave_postgresql_binding_on_the_client(monkeypatch):
    monkeypatch.setattr("control_plane.settings.DATABASE_PREPARED_STATEMENTS", False)
    assert not database_settings("postgres://u@db:5432/cp").get("OPTIONS")


def test_a_sqlite_url_gets_no_postgresql_options():
    assert not database_settings("sqlite:///x.sqlite3").get("OPTIONS")


@pytest.mark.django_db
def test_the_test_database_prepares_a_query_run_five_times():
    for _ in range(6):
        list(Tenant.objects.filter(slug="nobody"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%"tenants_tenant"%'],
        )
        assert cursor.fetchone()[0] >= 1

"""The grants of the application's own database role: it does not own the audit tables, so it
cannot disable their triggers (only an owner may ALTER TABLE), and holds no UPDATE, DELETE or
TRUNCATE on the events. Migrations run as the owner, which runs these grants once.
"""

from __future__ import annotations

import re

from django.db import connection

_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
EVENTS_TABLE = "audit_auditevent"
# The head row is locked (SELECT ... FOR UPDATE needs UPDATE) and moved on every append; it is no
# evidence itself: the chain and the signed checkpoints are.
HEADS_TABLE = "audit_auditchainhead"


def app_role_grants(role: str) -> list[str]:
    """SQL, run as the tables' owner, that lets `role` run the application and no more on the
    audit events than INSERT and SELECT. PostgreSQL only."""
    if not _ROLE.match(role):
        raise ValueError(f"{role!r} is not a plain PostgreSQL role name")
    quoted = connection.ops.quote_name(role)
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"REVOKE ALL ON {EVENTS_TABLE} FROM {quoted}",
        f"GRANT SELECT, INSERT ON {EVENTS_TABLE} TO {quoted}",
        f"REVOKE ALL ON {HEADS_TABLE} FROM {quoted}",
        f"GRANT SELECT, INSERT, UPDATE ON {HEADS_TABLE} TO {quoted}",
        # Retention deletes only through this function (migration 0003), as the owner.
        f"GRANT EXECUTE ON FUNCTION audit_delete_archived(text, bigint) TO {quoted}",
        # Tables later migrations create (as the owner) are the application's too.
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
    ]


def grant_app_role(role: str) -> list[str]:
    if connection.vendor != "postgresql":
        raise ValueError("database roles are a PostgreSQL feature; SQLite has none")
    statements = app_role_grants(role)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements

"""The one way to delete audit events: `audit_delete_archived(chain, through_sequence)`, a
SECURITY DEFINER function that deletes a chain's prefix only once the chain holds an
`audit.archive` event naming that prefix's last sequence and hash (written after the prefix was
exported). The append-only trigger lets a DELETE through only inside that function.

PostgreSQL only: on SQLite (the embedded default) events are never deleted.
"""

from django.db import migrations

TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('audit.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
ARCHIVE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_delete_archived(p_chain text, p_through bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    deleted bigint;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM audit_auditevent archive
        WHERE archive.chain = p_chain
          AND archive.action = 'audit.archive'
          AND archive.sequence > p_through
          AND (archive.changes->>'through_sequence')::bigint = p_through
          AND archive.changes->>'through_hash' = (
              SELECT hash FROM audit_auditevent WHERE chain = p_chain AND sequence = p_through)
    ) THEN
        RAISE EXCEPTION 'no audit.archive event of % covers sequence %', p_chain, p_through
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('audit.archiving', 'on', true);
    DELETE FROM audit_auditevent WHERE chain = p_chain AND sequence <= p_through;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM set_config('audit.archiving', 'off', true);
    RETURN deleted;
END;
$$;
REVOKE ALL ON FUNCTION audit_delete_archived(text, bigint) FROM PUBLIC;
"""
RESTORE_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP FUNCTION IF EXISTS audit_delete_archived(text, bigint);
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No parameters: the function bodies hold a literal %.
        schema_editor.execute(TRIGGER_FUNCTION + ARCHIVE_FUNCTION, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RESTORE_TRIGGER_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [migrations.RunPython(install, remove)]

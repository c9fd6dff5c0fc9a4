"""Every change to an alias notifies `<schema>.aliases` with `adapter\\nalias` when its transaction
commits, so each worker's alias cache drops the entry (adaptloop_registry.infra.alias_cache).
PostgreSQL only; nothing on SQLite (no cache there).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION notify_alias_change() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.aliases',
                          (SELECT name FROM adapters WHERE id = OLD.adapter_id) || E'\\n' || OLD.alias);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.aliases',
                          (SELECT name FROM adapters WHERE id = NEW.adapter_id) || E'\\n' || NEW.alias);
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    op.execute("CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE ON aliases "
               "FOR EACH ROW EXECUTE FUNCTION notify_alias_change()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS aliases_notify ON aliases")
    op.execute("DROP FUNCTION IF EXISTS notify_alias_change()")

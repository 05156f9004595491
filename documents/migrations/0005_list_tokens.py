"""List tokens (models.ListToken) and the PostgreSQL triggers that keep them.

A document's token changes in the same transaction as any insert, update or delete of its
annotations or of their tag links; the token of row 0 with any change to the codebook or to
the users (a name shown as an author). Triggers rather than code in the services: an edit in
the admin, a bulk statement or a shell changes the token as surely as an API call, and the
cache that trusts the tokens (serializers.document_annotations_body) can never serve a list
other than the one they name.

The triggers fire once per statement and read the statement's transition tables, so that a
COPY of a million annotations marks each document once; documents are marked in id order,
so that two statements marking several documents take their row locks in the same order.
An annotation never moves to another document (its offsets point into one text), and the
link triggers rely on it: they find a link's document through its annotation as their own
transaction sees it, without waiting for another transaction that might be moving it.

SQLite, for single-user first runs, gets no triggers: Django rebuilds a SQLite table to
alter it, which drops the table's triggers and breaks those of other tables that name it.
Without tokens its lists are formatted on each request.
"""

from django.db import migrations, models

TABLE = "documents_listtoken"


def _mark_documents(ids: str) -> str:
    """A statement of a trigger function giving each document whose id the query `ids`
    selects a new token: in id order, so that two statements marking several documents
    lock their rows in the same order. Written into each function rather than called, so
    that PL/pgSQL keeps its plan."""
    return f"""
        INSERT INTO "{TABLE}" ("document_id", "token")
        SELECT "id", gen_random_uuid() FROM (SELECT DISTINCT "id" FROM ({ids}) AS ids) AS marked
        WHERE "id" IS NOT NULL
        ORDER BY "id"
        ON CONFLICT ("document_id") DO UPDATE SET "token" = EXCLUDED."token";"""


def _linked(links: str) -> str:
    return (
        'SELECT a."document_id" AS "id" FROM "documents_annotation" a '
        f'WHERE a."id" IN (SELECT "annotation_id" FROM {links})'
    )


def _watch(table: str, function: str) -> list[str]:
    """Triggers running `function` after every statement that inserts, updates or deletes
    rows of `table` (with those rows as transition tables), and forgetting every
    document's token after a TRUNCATE."""
    transitions = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }
    return [
        *(
            f'CREATE TRIGGER list_token_{event} AFTER {event.upper()} ON "{table}" '
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            for event, tables in transitions.items()
        ),
        f'CREATE TRIGGER list_token_truncate AFTER TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_forget()",
    ]


POSTGRESQL = [
    f"""CREATE FUNCTION documents_list_token_annotations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_mark_documents('SELECT "document_id" AS "id" FROM new_rows')}
    ELSIF TG_OP = 'DELETE' THEN
        {_mark_documents('SELECT "document_id" AS "id" FROM old_rows')}
    ELSE
        {_mark_documents(
            'SELECT "document_id" AS "id" FROM old_rows '
            'UNION SELECT "document_id" FROM new_rows'
        )}
    END IF;
    RETURN NULL;
END
$$""",
    f"""CREATE FUNCTION documents_list_token_links() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_mark_documents(_linked("new_rows"))}
    ELSIF TG_OP = 'DELETE' THEN
        {_mark_documents(_linked("old_rows"))}
    ELSE
        {_mark_documents(_linked("(SELECT * FROM old_rows UNION SELECT * FROM new_rows) AS l"))}
    END IF;
    RETURN NULL;
END
$$""",
    f"""CREATE FUNCTION documents_list_token_every_list() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO "{TABLE}" ("document_id", "token") VALUES (0, gen_random_uuid())
    ON CONFLICT ("document_id") DO UPDATE SET "token" = EXCLUDED."token";
    RETURN NULL;
END
$$""",
    # TRUNCATE leaves no rows to name documents by: forget every document's token (a list
    # without one is not kept).
    f"""CREATE FUNCTION documents_list_token_forget() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM "{TABLE}" WHERE "document_id" <> 0;
    RETURN NULL;
END
$$""",
    f"""CREATE FUNCTION documents_list_token_document_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM "{TABLE}" WHERE "document_id" IN (SELECT "id" FROM old_rows);
    RETURN NULL;
END
$$""",
    *_watch("documents_annotation", "documents_list_token_annotations"),
    *_watch("documents_annotation_tags", "documents_list_token_links"),
    """CREATE TRIGGER list_token_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON "documents_tag"
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_every_list()""",
    """CREATE TRIGGER list_token_rename AFTER UPDATE OF "username" ON "auth_user"
    FOR EACH ROW WHEN (OLD."username" IS DISTINCT FROM NEW."username")
    EXECUTE FUNCTION documents_list_token_every_list()""",
    # A user deleted and another inserted with the same id would put a new name on the
    # annotations (foreign keys are checked only at the commit).
    """CREATE TRIGGER list_token_users AFTER INSERT OR DELETE OR TRUNCATE ON "auth_user"
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_every_list()""",
    """CREATE TRIGGER list_token_delete AFTER DELETE ON "documents_document"
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_document_deleted()""",
    f"""INSERT INTO "{TABLE}" ("document_id", "token")
SELECT "document_id", gen_random_uuid()
FROM (SELECT DISTINCT "document_id" FROM "documents_annotation") AS annotated
UNION ALL SELECT 0, gen_random_uuid()""",
]

POSTGRESQL_REVERSE = [
    statement.strip()
    for statement in """
DROP TRIGGER list_token_insert ON "documents_annotation";
DROP TRIGGER list_token_update ON "documents_annotation";
DROP TRIGGER list_token_delete ON "documents_annotation";
DROP TRIGGER list_token_truncate ON "documents_annotation";
DROP TRIGGER list_token_insert ON "documents_annotation_tags";
DROP TRIGGER list_token_update ON "documents_annotation_tags";
DROP TRIGGER list_token_delete ON "documents_annotation_tags";
DROP TRIGGER list_token_truncate ON "documents_annotation_tags";
DROP TRIGGER list_token_change ON "documents_tag";
DROP TRIGGER list_token_rename ON "auth_user";
DROP TRIGGER list_token_users ON "auth_user";
DROP TRIGGER list_token_delete ON "documents_document";
DROP FUNCTION documents_list_token_annotations();
DROP FUNCTION documents_list_token_links();
DROP FUNCTION documents_list_token_every_list();
DROP FUNCTION documents_list_token_forget();
DROP FUNCTION documents_list_token_document_deleted();
""".split(";")
    if statement.strip()
]

def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in POSTGRESQL:
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in POSTGRESQL_REVERSE:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("documents", "0004_annotation_document_index_in_composite"),
    ]

    operations = [
        migrations.CreateModel(
            name="ListToken",
            fields=[
                ("document_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("token", models.UUIDField()),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]

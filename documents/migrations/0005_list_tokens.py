"""List tokens (models.ListToken) and the database triggers that keep them.

A document's token changes in the same transaction as any insert, update or delete of its
annotations or of their tag links; the token of row 0 with any change to the codebook or to
a user name. Triggers rather than code in the services: an edit in the admin, a bulk
statement or a shell changes the token as surely as an API call, and the cache that trusts
the tokens (serializers.document_annotations_body) can never serve a list older than they
say.

On PostgreSQL the triggers fire once per statement and read the statement's transition
tables, so that a COPY of a million annotations marks each document once; the documents are
marked in id order, so that two statements marking several documents take their row locks
in the same order. SQLite, for single-user first runs, fires them per row.
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
    """CREATE TRIGGER list_token_insert AFTER INSERT ON "documents_annotation"
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_annotations()""",
    """CREATE TRIGGER list_token_update AFTER UPDATE ON "documents_annotation"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_annotations()""",
    """CREATE TRIGGER list_token_delete AFTER DELETE ON "documents_annotation"
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_annotations()""",
    """CREATE TRIGGER list_token_truncate AFTER TRUNCATE ON "documents_annotation"
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_forget()""",
    """CREATE TRIGGER list_token_insert AFTER INSERT ON "documents_annotation_tags"
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_links()""",
    """CREATE TRIGGER list_token_update AFTER UPDATE ON "documents_annotation_tags"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_links()""",
    """CREATE TRIGGER list_token_delete AFTER DELETE ON "documents_annotation_tags"
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_links()""",
    """CREATE TRIGGER list_token_truncate AFTER TRUNCATE ON "documents_annotation_tags"
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_forget()""",
    """CREATE TRIGGER list_token_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON "documents_tag"
    FOR EACH STATEMENT EXECUTE FUNCTION documents_list_token_every_list()""",
    """CREATE TRIGGER list_token_rename AFTER UPDATE OF "username" ON "auth_user"
    FOR EACH ROW WHEN (OLD."username" IS DISTINCT FROM NEW."username")
    EXECUTE FUNCTION documents_list_token_every_list()""",
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
DROP TRIGGER list_token_delete ON "documents_document";
DROP FUNCTION documents_list_token_annotations();
DROP FUNCTION documents_list_token_links();
DROP FUNCTION documents_list_token_every_list();
DROP FUNCTION documents_list_token_forget();
DROP FUNCTION documents_list_token_document_deleted();
""".split(";")
    if statement.strip()
]

# SQLite's triggers fire per row; a token is 16 random bytes in the hex form Django keeps a
# UUIDField in on SQLite. A document is marked with an UPDATE and an INSERT of a missing row
# rather than INSERT OR REPLACE: SQLite applies the conflict clause of the statement that
# fired the trigger to the trigger's own statements, and Django adds tag links with INSERT
# OR IGNORE, which would leave the token as it was.
_NEW_TOKEN = "lower(hex(randomblob(16)))"


def _mark(document_id: str) -> str:
    """Statements giving the document named by the SQL expression a new token."""
    return f"""
        UPDATE "{TABLE}" SET "token" = {_NEW_TOKEN} WHERE "document_id" = ({document_id});
        INSERT INTO "{TABLE}" ("document_id", "token")
        SELECT ({document_id}), {_NEW_TOKEN}
        WHERE ({document_id}) IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM "{TABLE}" WHERE "document_id" = ({document_id}));"""


def _linked(annotation_id: str) -> str:
    return f'SELECT "document_id" FROM "documents_annotation" WHERE "id" = {annotation_id}'


_EVERY_LIST = _mark("0")

SQLITE = [
    f"""CREATE TRIGGER list_token_annotation_insert AFTER INSERT ON "documents_annotation"
    BEGIN {_mark('NEW."document_id"')} END""",
    f"""CREATE TRIGGER list_token_annotation_update AFTER UPDATE ON "documents_annotation"
    BEGIN {_mark('OLD."document_id"')} {_mark('NEW."document_id"')} END""",
    f"""CREATE TRIGGER list_token_annotation_delete AFTER DELETE ON "documents_annotation"
    BEGIN {_mark('OLD."document_id"')} END""",
    f"""CREATE TRIGGER list_token_link_insert AFTER INSERT ON "documents_annotation_tags"
    BEGIN {_mark(_linked('NEW."annotation_id"'))} END""",
    f"""CREATE TRIGGER list_token_link_update AFTER UPDATE ON "documents_annotation_tags"
    BEGIN {_mark(_linked('OLD."annotation_id"'))} {_mark(_linked('NEW."annotation_id"'))} END""",
    f"""CREATE TRIGGER list_token_link_delete AFTER DELETE ON "documents_annotation_tags"
    BEGIN {_mark(_linked('OLD."annotation_id"'))} END""",
    f"""CREATE TRIGGER list_token_tag_insert AFTER INSERT ON "documents_tag"
    BEGIN {_EVERY_LIST} END""",
    f"""CREATE TRIGGER list_token_tag_update AFTER UPDATE ON "documents_tag"
    BEGIN {_EVERY_LIST} END""",
    f"""CREATE TRIGGER list_token_tag_delete AFTER DELETE ON "documents_tag"
    BEGIN {_EVERY_LIST} END""",
    f"""CREATE TRIGGER list_token_rename AFTER UPDATE OF "username" ON "auth_user"
    WHEN OLD."username" IS NOT NEW."username"
    BEGIN {_EVERY_LIST} END""",
    f"""CREATE TRIGGER list_token_document_delete AFTER DELETE ON "documents_document"
    BEGIN DELETE FROM "{TABLE}" WHERE "document_id" = OLD."id"; END""",
    f"""INSERT INTO "{TABLE}" ("document_id", "token")
    SELECT "document_id", {_NEW_TOKEN}
    FROM (SELECT DISTINCT "document_id" FROM "documents_annotation")
    UNION ALL SELECT 0, {_NEW_TOKEN}""",
]

SQLITE_TRIGGERS = [
    "list_token_annotation_insert",
    "list_token_annotation_update",
    "list_token_annotation_delete",
    "list_token_link_insert",
    "list_token_link_update",
    "list_token_link_delete",
    "list_token_tag_insert",
    "list_token_tag_update",
    "list_token_tag_delete",
    "list_token_rename",
    "list_token_document_delete",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(vendor)
    if statements is None:
        raise NotImplementedError(f"No list-token triggers for {vendor}.")
    for statement in statements:
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in POSTGRESQL_REVERSE:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


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

"""A GiST index on each live annotation's span, per document (PostgreSQL only).

Every write in the workspace redraws the paragraphs it touched, reading the annotations that
overlap them. A B-tree on (document, start) finds those starting before the paragraph's end,
which in a long document are half of its annotations; this index finds only the overlapping
ones. It needs the btree_gist extension (shipped with PostgreSQL, and trusted: the
database's owner may create it). The index is built CONCURRENTLY, so that writes go on
while it is built on a large table. SQLite, for single-user first runs, does without.
"""

from django.db import migrations

INDEX = "documents_annotation_live_span"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "documents_annotation" '
        'USING gist ("document_id", int8range("start", "end")) WHERE "deleted_at" IS NULL'
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("documents", "0002_import_batches")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]

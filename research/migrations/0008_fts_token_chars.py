"""SQLite: the chunks' terms in the FTS5 table written again by sqlite.terms_text, which
keeps a term holding ASCII punctuation or a space ("⑴" is "(1)") one token. Only such terms
change; PostgreSQL's tsvectors already kept them whole."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from research import sqlite
from research.terms import index_terms


def rewrite(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    Chunk = apps.get_model("research", "Chunk")
    Document = apps.get_model("documents", "Document")
    texts = Document.objects.order_by("pk").values_list("pk", "text")
    for document_id, text in texts.iterator(chunk_size=100):
        chunks = Chunk.objects.filter(document_id=document_id).values_list("pk", "start", "end")
        rows = [(pk, sqlite.terms_text(index_terms(text[start:end]))) for pk, start, end in chunks]
        sqlite.replace([pk for pk, _ in rows], rows)


class Migration(migrations.Migration):
    dependencies = [
        ("research", "0007_document_terms_buckets"),
    ]

    # Backwards, the terms stay as written: the code before reads all but the few
    # punctuated terms the same.
    operations = [migrations.RunPython(rewrite, migrations.RunPython.noop)]

"""The documents' terms spread over rows by a hash of the term, and on PostgreSQL
partitioned by it (models.DocumentTerms): the table is made anew and its rows written
again from the documents' chunks (on PostgreSQL; SQLite keeps the table empty): 72 s for
the benchmark's 10,000 documents of 202 MB."""

from collections.abc import Callable, Iterable
from typing import Any

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from research.terms import document_terms, lexeme_parts, lexeme_rows

#: As terms.TERM_BUCKETS, when this was written (tests check that they agree).
BUCKETS = 16

GIN = django.contrib.postgres.indexes.GinIndex(fields=["terms"], name="document_terms")


def _write(apps: StateApps, rows: Callable[[set[str]], Iterable[dict[str, Any]]]) -> None:
    Document = apps.get_model("documents", "Document")
    DocumentTerms = apps.get_model("research", "DocumentTerms")
    made = []
    texts = Document.objects.order_by("pk").values_list("pk", "text")
    for document_id, text in texts.iterator(chunk_size=100):
        made.extend(
            DocumentTerms(document_id=document_id, **row) for row in rows(document_terms(text))
        )
        if len(made) >= 2000:
            DocumentTerms.objects.bulk_create(made)
            made = []
    DocumentTerms.objects.bulk_create(made)


def drop_old_table(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.delete_model(apps.get_model("research", "DocumentTerms"))


def make_old_table(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Backwards: the table of one row a document (several parts for very many terms)."""
    model = apps.get_model("research", "DocumentTerms")
    postgresql = schema_editor.connection.vendor == "postgresql"
    indexes = model._meta.indexes
    # The GIN index is PostgreSQL's only (as migration 0005 made it).
    model._meta.indexes = [index for index in indexes if postgresql or index.name != GIN.name]
    try:
        schema_editor.create_model(model)
    finally:
        model._meta.indexes = indexes
    if postgresql:
        _write(
            apps,
            lambda terms: (
                {"part": part, "terms": value} for part, value in enumerate(lexeme_parts(terms))
            ),
        )


def make_table(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """On PostgreSQL, the table partitioned by bucket, one partition a bucket: what Django
    makes for the model, with its partitions (Django has no words for them)."""
    model = apps.get_model("research", "DocumentTerms")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.create_model(model)
        return
    # table_sql leaves the foreign key to the schema editor's deferred statements, run
    # at the end of the migration.
    sql, params = schema_editor.table_sql(model)
    schema_editor.execute(f"{sql} PARTITION BY LIST (bucket)", params or None)
    table = schema_editor.quote_name(model._meta.db_table)
    for bucket in range(BUCKETS):
        partition = schema_editor.quote_name(f"{model._meta.db_table}_{bucket}")
        schema_editor.execute(
            f"CREATE TABLE {partition} PARTITION OF {table} FOR VALUES IN ({bucket:d})"
        )


def drop_table(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Dropping the partitioned table drops its partitions.
    schema_editor.delete_model(apps.get_model("research", "DocumentTerms"))


def add_gin(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("research", "DocumentTerms"), GIN)


def remove_gin(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("research", "DocumentTerms"), GIN)


def write_rows(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _write(
            apps,
            lambda terms: (
                {"bucket": bucket, "part": part, "terms": value}
                for bucket, part, value in lexeme_rows(terms)
            ),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("research", "0006_document_terms_split"),
    ]

    operations = [
        migrations.RunPython(drop_old_table, make_old_table),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="DocumentTerms")]
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DocumentTerms",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "document_id", "bucket", "part", blank=True, editable=False,
                                primary_key=True, serialize=False,
                            ),
                        ),
                        (
                            "document",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="documents.document",
                            ),
                        ),
                        ("bucket", models.PositiveSmallIntegerField()),
                        ("part", models.PositiveSmallIntegerField(default=0)),
                        ("terms", django.contrib.postgres.search.SearchVectorField()),
                    ],
                    options={"verbose_name_plural": "document terms"},
                )
            ]
        ),
        migrations.RunPython(make_table, drop_table),
        migrations.RunPython(write_rows, migrations.RunPython.noop),
        # After the rows: an index built from them all is a third of the size of one
        # grown row by row, and made sooner.
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="documentterms", index=GIN)],
            database_operations=[migrations.RunPython(add_gin, remove_gin)],
        ),
    ]

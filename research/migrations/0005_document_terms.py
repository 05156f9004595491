import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from research.terms import index_terms, lexeme_parts

GIN = django.contrib.postgres.indexes.GinIndex(fields=["terms"], name="document_terms")


def create_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # SQLite finds documents through its FTS5 table of chunks: the table stays empty there.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("research", "DocumentTerms"), GIN)


def drop_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("research", "DocumentTerms"), GIN)


def index_existing(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """The terms of the documents already stored (research/index.py writes new ones)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    Document = apps.get_model("documents", "Document")
    DocumentTerms = apps.get_model("research", "DocumentTerms")
    made = []
    for document_id, text in Document.objects.values_list("pk", "text").iterator(chunk_size=100):
        for part, value in enumerate(lexeme_parts(index_terms(text))):
            made.append(DocumentTerms(document_id=document_id, part=part, terms=value))
        if len(made) >= 500:
            DocumentTerms.objects.bulk_create(made)
            made = []
    DocumentTerms.objects.bulk_create(made)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0015_document_title_order_state"),
        ("research", "0004_document_codes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DocumentTerms",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("part", models.PositiveSmallIntegerField(default=0)),
                ("terms", django.contrib.postgres.search.SearchVectorField()),
                (
                    "document",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="documents.document",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "document terms",
                "constraints": [
                    models.UniqueConstraint(fields=("document", "part"), name="document_terms_part")
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="documentterms", index=GIN)],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        ),
        migrations.RunPython(index_existing, migrations.RunPython.noop),
    ]

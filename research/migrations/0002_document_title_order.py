"""An index of the documents in title order, for the passages view.

The passages view lists a project's passages by document title, then each document's
passages in text order. Without an index on the title, PostgreSQL sorts every passage of the
project to show the first page of 50 (0.5-1 s for 1,000,000 passages, bench/bench_research.py);
with it, it reads the documents in title order and each one's passages through
`annotation_text_order`, and stops once the page is full (under 5 ms). The search lists
its documents in the same order.

The index is on the documents' table and made here, by the views that need it; the model
state records it in documents/0015, and Document.Meta declares it.
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

INDEX = models.Index(fields=["title", "id"], name="document_title_order")


def add_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.add_index(apps.get_model("documents", "Document"), INDEX)


def remove_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.remove_index(apps.get_model("documents", "Document"), INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("research", "0001_initial"),
        ("documents", "0012_annotation_text_order_index"),
    ]

    operations = [migrations.RunPython(add_index, remove_index)]

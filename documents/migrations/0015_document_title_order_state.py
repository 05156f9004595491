"""The index on the documents' (title, id), made in the database by research/0002, now
declared on the model: this records it in the model state only."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0014_attributes"),
        ("research", "0002_document_title_order"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="document",
                    index=models.Index(fields=["title", "id"], name="document_title_order"),
                )
            ],
            database_operations=[],
        )
    ]

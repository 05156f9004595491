"""Versions that the services raise instead of triggers that the database runs.

One document's list of annotations is named by its document's `annotations_version` and by
the one row of SharedVersion (codebook and user names); the services change them in the same
transaction as anything that list shows (documents/services/versions.py). The list tokens
and the PostgreSQL triggers that kept them (0005) go.
"""

import importlib
import uuid

from django.db import migrations, models

_tokens = importlib.import_module("documents.migrations.0005_list_tokens")


def drop_triggers(apps, schema_editor):
    # The triggers write into the table this migration drops: they go first.
    _tokens.drop_triggers(apps, schema_editor)


def create_triggers(apps, schema_editor):
    _tokens.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_list_tokens"),
    ]

    operations = [
        migrations.RunPython(drop_triggers, create_triggers, elidable=False),
        migrations.DeleteModel(name="ListToken"),
        migrations.CreateModel(
            name="SharedVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.UUIDField(default=uuid.uuid4)),
            ],
        ),
        migrations.AddField(
            model_name="document",
            name="annotations_version",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                help_text="Changes, in the same transaction, with anything the document's list "
                "of annotations shows (services/versions.py): the ETag and cache key of that "
                "list.",
            ),
        ),
    ]

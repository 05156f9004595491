import django.db.models.deletion
import uuid
from typing import Any

from django.db import migrations, models


def give_each_code_a_guid(apps: Any, schema_editor: Any) -> None:
    Tag = apps.get_model("documents", "Tag")
    for tag in Tag.objects.filter(uuid__isnull=True).only("pk"):
        Tag.objects.filter(pk=tag.pk).update(uuid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0015_document_title_order_state"),
        ("projects", "0002_analyze_memberships"),
    ]

    operations = [
        migrations.AddField(
            model_name="tag",
            name="example",
            field=models.ForeignKey(
                blank=True,
                help_text="A passage that shows the code well, chosen by the codebook's editors.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="documents.annotation",
            ),
        ),
        migrations.AddField(
            model_name="tag",
            name="exclusion",
            field=models.TextField(
                blank=True,
                help_text="Exclusion criteria: passages that look alike but do not get this code.",
                verbose_name="when not to use",
            ),
        ),
        migrations.AddField(
            model_name="tag",
            name="inclusion",
            field=models.TextField(
                blank=True,
                help_text="Inclusion criteria: passages that get this code.",
                verbose_name="when to use",
            ),
        ),
        migrations.AddField(
            model_name="tag",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                help_text="The code that took over this one's passages when it was merged.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="merged_from",
                to="documents.tag",
            ),
        ),
        # A default is computed once for every existing row: each code gets its own guid
        # before the column becomes required.
        migrations.AddField(
            model_name="tag",
            name="uuid",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_code_a_guid, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="tag",
            name="uuid",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                help_text="Names the code in REFI-QDA codebook exchange (.qdc), so that a codebook exported and imported again keeps its codes' identity.",
                verbose_name="REFI-QDA guid",
            ),
        ),
        migrations.AddConstraint(
            model_name="tag",
            constraint=models.UniqueConstraint(
                fields=("project", "uuid"),
                name="tag_uuid_unique",
                violation_error_message="Another code of the project has this REFI-QDA guid.",
            ),
        ),
    ]

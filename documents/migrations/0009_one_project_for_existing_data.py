"""Existing documents and codebook go into one project whose members are today's users:
admins as owners, everyone else as coders, so that nobody loses what they could read."""

from django.db import migrations
from django.db.models import Count

NAME = "Shared corpus"


def forwards(apps, schema_editor):
    Document = apps.get_model("documents", "Document")
    Tag = apps.get_model("documents", "Tag")
    ImportBatch = apps.get_model("documents", "ImportBatch")
    Project = apps.get_model("projects", "Project")
    Membership = apps.get_model("projects", "Membership")
    User = apps.get_model("auth", "User")
    if not (Document.objects.exists() or Tag.objects.exists() or ImportBatch.objects.exists()):
        return
    project = Project.objects.create(
        name=NAME,
        description="The documents and codebook that were here before projects existed.",
        codebook_source="the codebook in use before projects existed",
    )
    Document.objects.filter(project__isnull=True).update(project=project)
    Tag.objects.filter(project__isnull=True).update(project=project)
    ImportBatch.objects.filter(project__isnull=True).update(project=project)
    Membership.objects.bulk_create(
        Membership(
            project=project,
            user_id=user.pk,
            role="owner" if user.is_staff or user.is_superuser else "coder",
        )
        for user in User.objects.filter(is_active=True).only("pk", "is_staff", "is_superuser")
    )


def backwards(apps, schema_editor):
    # The project columns go away with the previous migration reversed; the same text
    # in two projects would then break the old one-text-once rule.
    Document = apps.get_model("documents", "Document")
    duplicated = (
        Document.objects.values("sha256")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    if duplicated.exists():
        raise RuntimeError(
            "The same text is in more than one project: delete the copies before going back "
            "to a version without projects."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0008_projects"),
        ("projects", "0001_projects"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

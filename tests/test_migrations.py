from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_pending_migrations():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_existing_data_moves_into_one_project_whose_members_are_the_users():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("documents", "0007_idempotency_keys"), ("projects", "0001_projects")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    User = old.get_model("auth", "User")
    admin = User.objects.create(username="admin", is_staff=True)
    analyst = User.objects.create(username="analyst")
    User.objects.create(username="gone", is_active=False)
    Document = old.get_model("documents", "Document")
    Tag = old.get_model("documents", "Tag")
    Document.objects.create(
        title="Old", text="Old text.", length=9, sha256="a" * 64, imported_by_id=admin.pk
    )
    Tag.objects.create(name="Old code", slug="old-code", colour="#123456")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    from documents.models import Document as NewDocument
    from documents.models import Tag as NewTag
    from projects.models import Membership, Project

    project = Project.objects.get()
    assert project.name == "Shared corpus"
    assert NewDocument.objects.get().project == project
    assert NewTag.objects.get().project == project
    roles = dict(Membership.objects.values_list("user__username", "role"))
    assert roles == {"admin": "owner", "analyst": "coder"}
    assert analyst.pk in set(Membership.objects.values_list("user_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_new_database_gets_no_project_of_its_own():
    from projects.models import Project

    assert not Project.objects.exists()

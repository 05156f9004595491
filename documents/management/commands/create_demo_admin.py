"""Create the demo's admin account with a random password, printed once, as the owner of
the projects there are (the sample corpus's, in the demo)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from projects.models import Membership, Project, Role


class Command(BaseCommand):
    help = (
        "Create an admin account with a random password (printed once) unless it exists, "
        "and make it an owner of every project that has no owner."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            self.stdout.write(
                f"The admin account {username!r} exists; its password was printed when it was "
                f"created. To set a new one: python manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(12)
        admin = users.objects.create_superuser(username=username, email="", password=password)
        # Site administrators see a project's data only as its members: the demo's admin
        # owns the sample project, so that the first login shows it.
        ownerless = Project.objects.exclude(memberships__role=Role.OWNER)
        Membership.objects.bulk_create(
            Membership(project=project, user=admin, role=Role.OWNER) for project in ownerless
        )
        self.stdout.write(f"Log in as {username!r} with the password {password} (shown only once).")
        if settings.MFA_REQUIRED_FOR_ADMINS:
            self.stdout.write(
                "Admins must set up two-factor authentication at their first login: have an "
                "authenticator app at hand (MFA_REQUIRED_FOR_ADMINS=0 turns this off)."
            )

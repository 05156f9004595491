"""Everything `make demo` shows: the sample corpus (its clean-up applied), the admin and
the analyst accounts, and the analyst's example annotations. Running it again changes
nothing and prints no password again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from documents import demo, refusals, sample
from projects.models import Role


class Command(BaseCommand):
    help = (
        "Load the sample corpus (with the clean-up the importer proposes), create the "
        "accounts 'admin' (site administrator, owner of the sample project) and 'analyst' "
        "(a coder in it) with random passwords printed once, and the analyst's example "
        "annotations. Adds only what is missing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                project, codes, documents = sample.load_sample_data(clean=True)
                admin, admin_account = demo.demo_account(username=demo.ADMIN, admin=True)
                analyst, analyst_account = demo.demo_account(username=demo.ANALYST)
                demo.demo_member(project=project, user=admin, role=Role.OWNER)
                demo.demo_member(project=project, user=analyst, role=Role.CODER)
                annotations = demo.load_demo_annotations(project=project, analyst=analyst)
        except (ValidationError, PermissionDenied) as exc:
            message = refusals.one_line(exc) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(f"The demo was not loaded: {message}") from None
        self.stdout.write(
            f"Project {project.name!r} (#{project.pk}): {codes} codes and {documents} "
            f"documents added, {annotations} example annotations by {demo.ANALYST!r}."
        )
        for account, what in ((admin_account, "site administrator"), (analyst_account, "coder")):
            if account.password is None:
                self.stdout.write(
                    f"The account {account.username!r} exists; its password was printed when "
                    f"it was made. To set a new one: python manage.py changepassword "
                    f"{account.username}"
                )
            else:
                self.stdout.write(
                    f"Log in as {account.username!r} ({what}) with the password "
                    f"{account.password} (shown only once)."
                )
        if settings.MFA_REQUIRED_FOR_ADMINS and admin_account.password is not None:
            self.stdout.write(
                "Admins must set up two-factor authentication at their first login: have an "
                "authenticator app at hand (MFA_REQUIRED_FOR_ADMINS=0 turns this off)."
            )

"""Create an account, optionally a member of a project, with a password typed in twice or
made up and printed once."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import AccessEvent
from accounts.services import access_event, user_create
from documents import refusals
from documents.models import MAX_ID
from projects.models import Role
from projects.services import membership_add


class Command(BaseCommand):
    help = (
        "Create the account USERNAME. Its password is made up and printed once, unless "
        "--prompt-password asks for it. With --project ID it becomes a member of that "
        "project (as a coder unless --role says otherwise); --admin makes a site "
        "administrator (who must set up two-factor authentication at the first login)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="For password reset by mail.")
        parser.add_argument(
            "--admin", action="store_true", help="A site administrator (staff, superuser)."
        )
        parser.add_argument("--project", type=int, metavar="ID", help="Add to this project.")
        parser.add_argument(
            "--role",
            choices=Role.values,
            help="The role in --project (default: coder).",
        )
        parser.add_argument(
            "--prompt-password",
            action="store_true",
            help="Ask for the password (twice) instead of making one up.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["role"] and options["project"] is None:
            raise CommandError(
                "--role is the role in a project: give the project with --project ID."
            )
        if options["project"] is not None and not 0 < options["project"] <= MAX_ID:
            raise CommandError(
                f"There is no project #{options['project']}: no account was created."
            )
        password = self._prompted() if options["prompt_password"] else None
        role = options["role"] or Role.CODER
        try:
            # One transaction: a refused membership leaves no account behind.
            with transaction.atomic():
                user, password = user_create(
                    username=options["username"],
                    password=password,
                    email=options["email"],
                    admin=options["admin"],
                )
                if options["project"] is not None:
                    membership = membership_add(
                        user=None,
                        project=options["project"],
                        username=user.get_username(),
                        role=role,
                    )
                    access_event(
                        kind=AccessEvent.Kind.MEMBERSHIP_CHANGED,
                        request=None,
                        detail={
                            "change": "added",
                            "member": user.get_username(),
                            "role": role,
                            "by": "command",
                        },
                        project_id=membership.project_id,
                    )
        except (ValidationError, PermissionDenied) as exc:
            message = refusals.one_line(exc) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(f"No account was created: {message}") from None
        name = user.get_username()
        where = f", a {role} of project #{options['project']}" if options["project"] else ""
        kind = "site administrator" if options["admin"] else "account"
        self.stdout.write(f"Created the {kind} {name!r}{where}.")
        if not options["prompt_password"]:
            self.stdout.write(f"Its password is {password} (shown only once).")

    def _prompted(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ: no account was created.")
        if not first:
            raise CommandError("The password is empty: no account was created.")
        return first

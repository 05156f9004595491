"""Create an API token for a user and print it (only the token, so scripts can capture it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import AccessEvent
from accounts.services import access_event
from documents import selectors, services


class Command(BaseCommand):
    help = (
        "Create an API token for USERNAME and print it. Only its hash is stored: the token "
        "cannot be shown again. Read-write unless --read-only. It reaches projects that "
        "require two-factor authentication while USERNAME has two-factor on."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--read-only", action="store_true", help="The token can read but change nothing."
        )
        parser.add_argument("--name", default="", help="What or who uses the token.")
        parser.add_argument(
            "--project",
            type=int,
            action="append",
            default=[],
            metavar="ID",
            help="Limit the token to this project (repeat for several); by default it "
            "reaches every project of the user.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = get_user_model().objects.get(username=options["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"There is no user named {options['username']!r}.") from None
        try:
            token, plain = services.api_token_create(
                actor=None,
                user=user,
                name=options["name"],
                read_only=options["read_only"],
                projects=options["project"],
                # Whoever runs this on the server holds the database already: a second
                # factor asked of them here would protect nothing.
                issued_with_mfa=True,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        access_event(
            kind=AccessEvent.Kind.TOKEN_CREATED,
            request=None,
            detail={
                "token": token.prefix,
                "owner": user.get_username(),
                "by": "command",
                "issued_with_mfa": True,
            },
        )
        note = selectors.token_unreached_note(token)
        if note:
            # On stderr: stdout holds the token only, for scripts to capture.
            self.stderr.write(note)
        self.stdout.write(plain)

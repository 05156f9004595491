"""A refusal (Django's ValidationError) as text: the one formatter the pages, the API, the
import and the commands share, so that the same refusal reads the same everywhere."""

from __future__ import annotations

from django.core.exceptions import ValidationError

#: Fields whose messages name what they concern themselves (the whole form, the files).
_WHOLE = ("__all__", "non_field_errors", "files")


def by_field(exc: ValidationError) -> dict[str, list[str]]:
    """{field: [messages]}, as the API answers a 400 (`non_field_errors` for the rest)."""
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def codes(exc: ValidationError) -> set[str | None]:
    """The codes of the refusal's errors, whatever their fields."""
    errors = exc.error_dict.values() if hasattr(exc, "error_dict") else [exc.error_list]
    return {error.code for field in errors for error in field}


def lines(exc: ValidationError) -> list[str]:
    """One line per message, each after the name of its field unless it concerns the whole:
    what a page shows beside a form."""
    return [
        message if field in _WHOLE else f"{field.capitalize()}: {message}"
        for field, messages in by_field(exc).items()
        for message in messages
    ]


def one_line(exc: ValidationError) -> str:
    """The whole refusal on one line, for lists of files and logs."""
    return "; ".join(
        " ".join(messages) if field in _WHOLE else f"{field}: {' '.join(messages)}"
        for field, messages in by_field(exc).items()
    )

"""The access log: who logged in, failed, exported or downloaded what, from where."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class AccessEvent(models.Model):
    """One event of the access log. Append-only: rows are never changed or deleted, by the
    code (`save` and `delete` refuse) or in the admin (read-only)."""

    class Kind(models.TextChoices):
        LOGIN = "login", "login"
        LOGIN_FAILED = "login_failed", "login failed"
        LOCKED_OUT = "locked_out", "locked out"
        LOGOUT = "logout", "logout"
        MFA_ENABLED = "mfa_enabled", "two-factor on"
        MFA_DISABLED = "mfa_disabled", "two-factor off"
        RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", "new recovery codes"
        EXPORT = "export", "export"
        ORIGINAL_DOWNLOAD = "original_download", "original file downloaded"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        MEMBERSHIP_CHANGED = "membership_changed", "project membership changed"

    created = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="access_events",
    )
    #: The user's name when the event happened (kept when the account is deleted), or the
    #: name typed into a failed login.
    username = models.CharField(max_length=150, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    detail = models.JSONField(default=dict, blank=True)
    #: The project the event concerns, once there are projects; null until then.
    project_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [
            models.Index(fields=["kind", "-created"], name="access_kind_created"),
            models.Index(fields=["user", "-created"], name="access_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.kind} {self.username}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("The access log is append-only: an event is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("The access log is append-only: an event is never deleted.")

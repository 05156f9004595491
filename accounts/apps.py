from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import sessions

        # Every way in (the login pages, a test's force_login) starts the session's clocks.
        user_logged_in.connect(sessions.start_clocks, dispatch_uid="accounts.start_clocks")

"""The access log (read-only) and users' two-factor devices (listed, turned off) in the admin.

django-otp's own admin pages are replaced: they let an admin read a user's authenticator
key (its QR code), which would let whoever holds an admin session stand in for any user.
Lockouts are lifted in django-axes' admin (Axes → Access attempts: delete the rows).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import services
from .models import AccessEvent


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnly, admin.ModelAdmin):
    """Append-only: shown, never added, changed or deleted here."""

    list_display = ["created", "kind", "username", "address", "user_agent", "detail"]
    list_filter = ["kind"]
    search_fields = ["username", "address"]
    date_hierarchy = "created"


for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(TOTPDevice)
class TwoFactorAdmin(ReadOnly, admin.ModelAdmin):
    """Who has two-factor on; an admin turns it off for a user who lost their phone and
    their recovery codes (the user then sets it up again)."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    actions = ["turn_off"]

    @admin.action(description="Turn two-factor off for the selected users")
    def turn_off(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        devices = list(queryset.select_related("user"))
        for device in devices:
            services.mfa_disable(user=device.user, request=request, by_admin=True)
        self.message_user(request, f"Two-factor turned off for {len(devices)} users.")

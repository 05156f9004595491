"""Memos in the Django admin: shown, never changed there (memos are changed on the memo
pages, where every change is a new version with its activity row)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Memo, MemoRevision


class ShownOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MemoRevisionInline(ShownOnly, admin.TabularInline):
    model = MemoRevision
    fields = ("version", "title", "text", "author", "created", "restored_from")
    readonly_fields = fields
    extra = 0


@admin.register(Memo)
class MemoAdmin(ShownOnly, admin.ModelAdmin):
    list_display = ("__str__", "project", "about", "author", "updated", "version", "deleted_at")
    list_filter = ("about", "project")
    list_select_related = ("project", "author")
    search_fields = ("title", "text")
    inlines = (MemoRevisionInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Memo]:
        # Memos are research data: shown to the members of their project, as on the pages.
        return Memo.objects.visible_to(request.user)

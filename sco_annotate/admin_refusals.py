"""What the apps' Django admin pages share: a service's refusal shown as a message."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class ServiceRefusals:
    """An admin whose saves and deletes go through a service: the form checks what it can,
    but the service may still refuse (the same text imported meanwhile, a token for
    projects its user is not in, a project's last owner). Nothing was saved then (each of
    these views runs in a transaction, or refuses before writing): say why and show the
    page again (after a refused delete, the object's page)."""

    def _refused(self, request: HttpRequest, exc: ValidationError, to: str) -> HttpResponse:
        self.message_user(  # type: ignore[attr-defined]
            request, " ".join(exc.messages), level=messages.ERROR
        )
        return HttpResponseRedirect(to)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            )
        except ValidationError as exc:
            return self._refused(request, exc, request.get_full_path())

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        except ValidationError as exc:
            opts = self.opts  # type: ignore[attr-defined]
            page = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            return self._refused(request, exc, page)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Its actions (a bulk delete) may be refused too.
        try:
            return super().changelist_view(request, extra_context)  # type: ignore[misc]
        except ValidationError as exc:
            return self._refused(request, exc, request.get_full_path())

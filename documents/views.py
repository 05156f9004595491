"""The analysts' pages: thin adapters over the querysets and services."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .models import Document


@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    documents = Document.objects.visible_to(request.user).without_text()
    return render(request, "documents/document_list.html", {"documents": documents})


@require_GET
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document.objects.visible_to(request.user), pk=pk)
    return render(request, "documents/document_detail.html", {"document": document})

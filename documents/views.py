"""The analysts' pages: thin adapters over the querysets and services.

The document page renders the text as one <div> per paragraph (id "p<offset>"), with the
highlights as <mark> elements built from `text.segments()`. A write returns only what
changed: the paragraphs its span touches (htmx out-of-band swaps) and its card in the side
panel, so its cost follows the paragraphs, not the document.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from . import services
from . import text as textlib
from .forms import (
    AnnotationCreateForm,
    AnnotationEditForm,
    AnnotationVersionForm,
    DocumentFilterForm,
)
from .models import Annotation, AnnotationQuerySet, Document, Tag, is_admin


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


DETAIL = "documents/document_detail.html"
#: Status of a refused write: htmx swaps it in (see the htmx-config in base.html).
UNPROCESSABLE = 422
#: How much of a quote a side-panel card shows.
EXCERPT_LENGTH = 160

# ---------------------------------------------------------------------------------------
# Highlights


@dataclass(frozen=True)
class _Span:
    pk: int
    start: int
    end: int
    #: The tag whose colour the highlight takes: the annotation's first in codebook order.
    tag_id: int
    own: bool


def _spans(
    rows: Iterable[tuple[int, int, int, int]], pairs: Iterable[tuple[int, int]], user: Any
) -> list[_Span]:
    """Spans from (pk, start, end, author id) rows and (annotation id, tag id) pairs."""
    first_tag: dict[int, int] = {}
    for annotation_id, tag_id in pairs:
        first_tag.setdefault(annotation_id, tag_id)
    return [
        _Span(pk, start, end, first_tag.get(pk, 0), author_id == user.pk)
        for pk, start, end, author_id in rows
    ]


def paragraphs_html(text: str, base: int, spans: Sequence[_Span], *, oob: bool = False) -> str:
    """The paragraphs of `text` (which starts at offset `base` of a document) with highlights.

    Each paragraph is a <div id="p<offset>" dir="auto"> holding its text up to and including
    its line break, so the text element's textContent is exactly the stored text. Each run
    of text covered by the same annotations is one <mark>: its colour is the innermost
    annotation's tag, its class d1-d3 the depth of nesting, "s" where an annotation starts.
    Plain string building: the 1 MB document has thousands of paragraphs and segments.
    """
    by_pk = {span.pk: span for span in spans}
    ordered = sorted(spans, key=lambda span: (span.start, -span.end, span.pk))
    swap = ' hx-swap-oob="true"' if oob else ""
    escape = html.escape
    out = [f'<div id="p{base}" dir="auto"{swap}>']
    position = base
    text_end = base + len(text)
    for segment in textlib.segments(
        text, ((span.start - base, span.end - base, span.pk) for span in ordered)
    ):
        opener = _mark_opener(segment.keys, base + segment.start, by_pk) if segment.keys else ""
        lines = segment.text.split("\n")
        last = len(lines) - 1
        for index, line in enumerate(lines):
            piece = line if index == last else line + "\n"
            if piece:
                if opener:
                    out.append(f"{opener}{escape(piece, quote=False)}</mark>")
                    # A mark split by a line break starts only once.
                    opener = _mark_opener(segment.keys, -1, by_pk)
                else:
                    out.append(escape(piece, quote=False))
                position += len(piece)
            if index != last:
                out.append("</div>")
                if position < text_end:
                    out.append(f'<div id="p{position}" dir="auto"{swap}>')
    if not text.endswith("\n"):
        out.append("</div>")
    return "".join(out)


def _mark_opener(keys: tuple[Any, ...], position: int, by_pk: dict[int, _Span]) -> str:
    spans = [by_pk[key] for key in keys]
    inner = spans[-1]
    classes = f"hl t{inner.tag_id} d{min(len(spans), 3)}"
    starts = any(span.start == position for span in spans)
    if starts:
        classes += " s"
    if any(span.own for span in spans):
        classes += " own"
    ids = " ".join(str(span.pk) for span in spans)
    focus = ' tabindex="0"' if starts else ""
    return f'<mark class="{classes}" data-a="{ids}"{focus}>'


def _changed_paragraphs(user: Any, document_id: int, start: int, end: int) -> SafeString:
    """The paragraphs that text[start:end] touches, as out-of-band swaps: three queries."""
    window = Document.objects.visible_to(user).paragraphs_around(document_id, start, end)
    if window is None:
        raise Http404("No such document.")
    first, text = window
    around = Annotation.objects.filter(document_id=document_id).alive()
    around = around.overlapping(first, first + len(text))
    spans = _spans(around.values_list("pk", "start", "end", "author_id"), around.tag_pairs(), user)
    return mark_safe(paragraphs_html(text, first, spans, oob=True))  # noqa: S308 (escaped above)


# ---------------------------------------------------------------------------------------
# Side-panel cards


class _Codebook:
    """All tags, read once per request; the codebook is small."""

    def __init__(self) -> None:
        self.tags = list(Tag.objects.all())
        self.by_id = {tag.pk: tag for tag in self.tags}
        self.active = [tag for tag in self.tags if tag.is_active]

    def filter_slugs(self, tag_ids: Iterable[int]) -> str:
        """The tags' slugs and their ancestors', for filtering cards by a broader tag."""
        slugs: dict[str, None] = {}
        for tag_id in tag_ids:
            tag = self.by_id.get(tag_id)
            while tag is not None and tag.slug not in slugs:
                slugs[tag.slug] = None
                tag = self.by_id.get(tag.parent_id) if tag.parent_id else None
        return " ".join(slugs)


def _annotations_url() -> str:
    # Cards are many: build their URLs from one reversed prefix, not one reverse() each.
    return reverse("documents:annotation_card", args=[0]).removesuffix("0/")


def _dress(
    annotation: Annotation,
    tag_ids: Sequence[int],
    codebook: _Codebook,
    user: Any,
    base_url: str,
    document_url: str,
) -> Any:
    """Attach what a card shows to an annotation (tags, excerpt, rights, URLs)."""
    card: Any = annotation
    card.tag_list = [codebook.by_id[tag_id] for tag_id in tag_ids if tag_id in codebook.by_id]
    card.tag_ids = list(tag_ids)
    card.filter_tags = codebook.filter_slugs(tag_ids)
    quote = annotation.quote
    card.excerpt = quote if len(quote) <= EXCERPT_LENGTH else quote[: EXCERPT_LENGTH - 1] + "…"
    card.own = annotation.author_id == user.pk
    card.editable = card.own or is_admin(user)
    card.url = f"{base_url}{annotation.pk}/"
    card.permalink = f"{document_url}#a{annotation.pk}"
    return annotation


def _card(annotation: Annotation, user: Any, codebook: _Codebook | None = None) -> Any:
    """One annotation dressed for its card (one query for its tags)."""
    codebook = codebook or _Codebook()
    tag_ids = [tag.pk for tag in annotation.tags.order_by("sort_order", "name")]
    document_url = reverse("documents:detail", args=[annotation.document_id])
    return _dress(annotation, tag_ids, codebook, user, _annotations_url(), document_url)


def _errors(exc: ValidationError) -> list[str]:
    """A service's or form's ValidationError as lines that say which field to fix."""
    if hasattr(exc, "error_dict"):
        return [
            message if field == "__all__" else f"{field.capitalize()}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return list(exc.messages)


def _form_errors(form: Any) -> ValidationError:
    return ValidationError({field: list(errors) for field, errors in form.errors.items()})


# ---------------------------------------------------------------------------------------
# Pages


@require_GET
def document_list(request: HtmxHttpRequest) -> HttpResponse:
    documents = Document.objects.visible_to(request.user).without_text()
    form = DocumentFilterForm(request.GET or None, documents=documents)
    found = form.filter(documents) if form.is_bound else documents
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    counts = (
        Annotation.objects.visible_to(request.user)
        .alive()
        .filter(document__in=[document.pk for document in page])
        .tag_counts_by_document()
    )
    tags = list(Tag.objects.all())
    for document in page:
        per_tag = counts.get(document.pk, {})
        document.tag_counts = [(tag, per_tag[tag.pk]) for tag in tags if tag.pk in per_tag]  # type: ignore[attr-defined]
    template = "documents/document_list.html" + ("#results" if request.htmx else "")
    return render(request, template, {"form": form, "page": page})


@require_GET
def document_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document.objects.visible_to(request.user), pk=pk)
    codebook = _Codebook()
    alive = document.annotations.alive()
    tag_ids: dict[int, list[int]] = {}
    pairs = list(alive.tag_pairs())
    for annotation_id, tag_id in pairs:
        tag_ids.setdefault(annotation_id, []).append(tag_id)
    base_url = _annotations_url()
    document_url = document.get_absolute_url()
    cards = [
        _dress(
            annotation,
            tag_ids.get(annotation.pk, []),
            codebook,
            request.user,
            base_url,
            document_url,
        )
        for annotation in alive.select_related("author").only(*_CARD_FIELDS).in_text_order()
    ]
    rows = [(card.pk, card.start, card.end, card.author_id) for card in cards]
    text_html = paragraphs_html(document.text, 0, _spans(rows, pairs, request.user))
    context: dict[str, Any] = {
        "document": document,
        "codebook": codebook,
        "annotations": cards,
        "authors": sorted({card.author.get_username() for card in cards}),
        "text_html": mark_safe(text_html),  # noqa: S308 (escaped in paragraphs_html)
    }
    return render(request, DETAIL, context)


_CARD_FIELDS = (
    "pk",
    "document_id",
    "start",
    "end",
    "quote",
    "note",
    "created",
    "version",
    "deleted_at",
    "author_id",
    "author__username",
)


@require_GET
def tag_styles(request: HtmxHttpRequest) -> HttpResponse:
    """The codebook's colours as a stylesheet (the pages carry no inline style for them)."""
    rules = [f".t{tag.pk}{{--tag:{tag.colour}}}" for tag in Tag.objects.only("pk", "colour")]
    response = HttpResponse("\n".join(rules) + "\n", content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "private, max-age=60"
    return response


# ---------------------------------------------------------------------------------------
# Annotations (htmx requests; a plain POST is redirected back to the document)


@require_POST
def annotation_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    form = AnnotationCreateForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        data = form.cleaned_data
        annotation = services.annotation_create(
            user=request.user,  # type: ignore[arg-type]
            document=pk,
            start=data["start"],
            end=data["end"],
            tags=data["tags"],
            note=data["note"],
            quote=data["quote"],
        )
    except ValidationError as exc:
        errors = {"errors": _errors(exc)}
        return render(request, DETAIL + "#create-errors", errors, status=UNPROCESSABLE)
    if not request.htmx:
        return redirect(annotation.get_absolute_url())
    following = (
        Annotation.objects.filter(document_id=pk)
        .alive()
        .after_in_text_order(annotation)
        .values_list("pk", flat=True)
        .first()
    )
    context: dict[str, Any] = {
        "a": _card(annotation, request.user),
        "next_id": following,
        "paragraphs": _changed_paragraphs(request.user, pk, annotation.start, annotation.end),
    }
    return render(request, DETAIL + "#annotation-created", context)


def _annotation(request: HtmxHttpRequest, pk: int) -> Annotation:
    """An annotation this user may read, with its author, or 404."""
    annotations: AnnotationQuerySet = Annotation.objects.visible_to(request.user)
    return get_object_or_404(annotations.select_related("author"), pk=pk)


@require_GET
def annotation_card(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    annotation = _annotation(request, pk)
    if not request.htmx:
        return redirect(annotation.get_absolute_url())
    partial = "#card-deleted" if annotation.is_deleted else "#card"
    return render(request, DETAIL + partial, {"a": _card(annotation, request.user)})


@require_http_methods(["GET", "POST"])
def annotation_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    annotation = _annotation(request, pk)
    codebook = _Codebook()
    card = _card(annotation, request.user, codebook)
    if request.method == "GET":
        # The service refuses the POST too; this only spares a form that cannot be saved.
        if not annotation.can_change(request.user):
            raise PermissionDenied("You can change only your own annotations.")
        context: dict[str, Any] = {
            "a": card,
            "codebook": codebook,
            "version": annotation.version,
            "selected": [tag.slug for tag in card.tag_list],
            "note": annotation.note,
        }
        return render(request, DETAIL + "#edit-form", context)
    form = AnnotationEditForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        services.annotation_update(
            user=request.user,  # type: ignore[arg-type]
            annotation=annotation,
            expected_version=form.cleaned_data["version"],
            tags=form.cleaned_data["tags"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        context = {
            "a": card,
            "codebook": codebook,
            "version": request.POST.get("version", ""),
            "selected": request.POST.getlist("tags"),
            "note": request.POST.get("note", ""),
            "errors": _errors(exc),
        }
        return render(request, DETAIL + "#edit-form", context, status=UNPROCESSABLE)
    return _changed(request, annotation, codebook)


def _version_change(request: HtmxHttpRequest, pk: int, change: Any) -> HttpResponse:
    """Delete or restore, at the version the page showed."""
    annotation = _annotation(request, pk)
    form = AnnotationVersionForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        change(
            user=request.user, annotation=annotation, expected_version=form.cleaned_data["version"]
        )
    except ValidationError as exc:
        context: dict[str, Any] = {"a": _card(annotation, request.user), "errors": _errors(exc)}
        partial = "#card-deleted" if annotation.is_deleted else "#card"
        return render(request, DETAIL + partial, context, status=UNPROCESSABLE)
    return _changed(request, annotation)


@require_POST
def annotation_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _version_change(request, pk, services.annotation_delete)


@require_POST
def annotation_restore(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _version_change(request, pk, services.annotation_restore)


def _changed(
    request: HtmxHttpRequest, annotation: Annotation, codebook: _Codebook | None = None
) -> HttpResponse:
    """After an edit, delete or restore: the card, and the paragraphs of its span."""
    if not request.htmx:
        return redirect(annotation.get_absolute_url())
    context: dict[str, Any] = {
        "a": _card(annotation, request.user, codebook),
        "paragraphs": _changed_paragraphs(
            request.user, annotation.document_id, annotation.start, annotation.end
        ),
    }
    partial = "#deleted-response" if annotation.is_deleted else "#changed-response"
    return render(request, DETAIL + partial, context)

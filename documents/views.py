"""The analysts' pages: thin adapters over the querysets and services.

The document page renders the text as one <div> per paragraph (id "p<offset>"), with the
highlights as <mark> elements: the segments of `text.segments()`, split at line breaks (drawn
in one pass by `paragraphs_html`; a test checks the two agree). The side panel lists the
annotations a page at a time. A write returns only what changed: the paragraphs its span
touches (htmx out-of-band swaps) and its card, so its cost follows the paragraphs, not the
document or its number of annotations.
"""

from __future__ import annotations

import bisect
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from . import services
from .forms import (
    AnnotationCreateForm,
    AnnotationEditForm,
    AnnotationVersionForm,
    DocumentFilterForm,
)
from .models import (
    Annotation,
    AnnotationQuerySet,
    Document,
    Tag,
    document_text,
    highlight_rows,
)
from .text import parse_whole_number


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


DETAIL = "documents/document_detail.html"
#: Status of a refused write: htmx swaps it in (see the htmx-config in base.html).
UNPROCESSABLE = 422
#: How much of a quote a side-panel card shows.
EXCERPT_LENGTH = 160
#: Cards per page of the side panel; the next page loads when the last card comes into view.
PANEL_PAGE = 20

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


def _spans(rows: Iterable[tuple[int, int, int, int, Any, Any]], user: Any) -> list[_Span]:
    """Spans from highlight_rows(): one row per tag, the first row of each in codebook order."""
    spans: dict[int, _Span] = {}
    for pk, start, end, author_id, tag_id, _name in rows:
        if pk not in spans:
            spans[pk] = _Span(pk, start, end, tag_id or 0, author_id == user.pk)
    return list(spans.values())


def paragraphs_html(text: str, base: int, spans: Sequence[_Span], *, oob: bool = False) -> str:
    """The paragraphs of `text` (which starts at offset `base` of a document) with highlights.

    Each paragraph is a <div id="p<offset>" dir="auto"> holding its text up to and including
    its line break, so the text element's textContent is exactly the stored text. Each run
    of text covered by the same annotations (a segment, as text.segments() splits them,
    further split at line breaks) is one <mark>: its colour is the innermost annotation's tag,
    its class d1-d3 the depth of nesting, "s" where an annotation starts.

    One pass over the boundaries with plain string building: the 1 MB document has
    thousands of paragraphs and segments, and this is most of its page's cost.
    """
    length = len(text)
    ordered = sorted(spans, key=lambda span: (span.start, -span.end, span.pk))
    opening: dict[int, list[int]] = {}
    closing: dict[int, list[int]] = {}
    starts = set()
    for order, span in enumerate(ordered):
        start, end = max(0, span.start - base), min(length, span.end - base)
        if start >= end:
            continue
        opening.setdefault(start, []).append(order)
        closing.setdefault(end, []).append(order)
        if span.start >= base:
            starts.add(start)
    paragraph_starts = set()
    position = text.find("\n")
    while position != -1:
        paragraph_starts.add(position + 1)
        position = text.find("\n", position + 1)
    boundaries = sorted({0, length, *opening, *closing, *paragraph_starts})
    swap = ' hx-swap-oob="true"' if oob else ""
    # Most texts hold no character that needs escaping: then skip thousands of calls.
    escape = html.escape if ("&" in text or "<" in text or ">" in text) else _as_is
    openers: dict[tuple[int, ...], tuple[str, str]] = {}
    active: list[int] = []
    out = [f'<div id="p{base}" dir="auto"{swap}>']
    for here, there in zip(boundaries, boundaries[1:], strict=False):
        for order in closing.get(here, ()):
            active.remove(order)
        for order in opening.get(here, ()):
            bisect.insort(active, order)
        piece = escape(text[here:there], quote=False)
        if active:
            key = tuple(active)
            opener = openers.get(key)
            if opener is None:
                opener = openers[key] = _mark_openers([ordered[order] for order in key])
            out.append(opener[here in starts] + piece + "</mark>")
        else:
            out.append(piece)
        if there in paragraph_starts:
            out.append("</div>")
            if there < length:
                out.append(f'<div id="p{base + there}" dir="auto"{swap}>')
    if not text.endswith("\n"):
        out.append("</div>")
    return "".join(out)


def _as_is(text: str, quote: bool = False) -> str:
    return text


def _mark_openers(spans: list[_Span]) -> tuple[str, str]:
    """The <mark> tag for a run covered by `spans` (outermost first): (inside, at a start)."""
    inner = spans[-1]
    classes = f"hl t{inner.tag_id} d{min(len(spans), 3)}"
    if any(span.own for span in spans):
        classes += " own"
    ids = " ".join(str(span.pk) for span in spans)
    return (
        f'<mark class="{classes}" data-a="{ids}">',
        f'<mark class="{classes} s" data-a="{ids}" tabindex="0">',
    )


def _changed_paragraphs(user: Any, annotation: Annotation) -> tuple[SafeString, list[Tag]]:
    """The paragraphs the annotation's span touches, as out-of-band swaps, and its tags (read
    with the paragraphs' highlights): one query, whatever the document's size.

    The annotation comes from the services or `_annotation`, with its document's pk and
    sha256 loaded and the document already checked as visible to the user.
    """
    document_id = annotation.document_id
    first, text = annotation.document.paragraphs_around(annotation.start, annotation.end)
    rows = highlight_rows(document_id, first, first + len(text))
    tags = [Tag(pk=row[4], name=row[5] or "") for row in rows if row[0] == annotation.pk and row[4]]
    html = paragraphs_html(text, first, _spans(rows, user), oob=True)
    return mark_safe(html), tags  # noqa: S308 (escaped in paragraphs_html)


# ---------------------------------------------------------------------------------------
# Side-panel cards


class _Codebook:
    """All tags, read once per request; the codebook is small."""

    def __init__(self) -> None:
        self.tags = list(Tag.objects.all())
        self.by_id = {tag.pk: tag for tag in self.tags}
        self.active = [tag for tag in self.tags if tag.is_active]


def _annotations_url() -> str:
    # Cards are many: build their URLs from one reversed prefix, not one reverse() each.
    return reverse("documents:annotation_card", args=[0]).removesuffix("0/")


def _dress(
    annotation: Annotation, tags: Sequence[Tag], user: Any, base_url: str, document_url: str
) -> Any:
    """Attach what a card shows to an annotation (tags, excerpt, rights, URLs)."""
    card: Any = annotation
    card.tag_list = list(tags)
    quote = annotation.quote
    card.excerpt = quote if len(quote) <= EXCERPT_LENGTH else quote[: EXCERPT_LENGTH - 1] + "…"
    card.own = annotation.author_id == user.pk
    card.editable = annotation.can_change(user)
    card.url = f"{base_url}{annotation.pk}/"
    card.permalink = f"{document_url}#a{annotation.pk}"
    return card


def _card(annotation: Annotation, user: Any, tags: Sequence[Tag] | None = None) -> Any:
    """One annotation dressed for its card (one query for its tags, unless given)."""
    document_url = reverse("documents:detail", args=[annotation.document_id])
    if tags is None:
        tags = list(annotation.tags.order_by("sort_order", "name"))
    return _dress(annotation, tags, user, _annotations_url(), document_url)


def _cards(annotations: AnnotationQuerySet, user: Any, document_id: int) -> list[Any]:
    """Annotations dressed for their cards (in their order): two queries."""
    found = list(annotations.select_related("author").only(*_CARD_FIELDS))
    by_annotation: dict[int, list[Tag]] = {}
    links = (
        Annotation.tags.through.objects.filter(annotation_id__in=[a.pk for a in found])
        .select_related("tag")
        .order_by("tag__sort_order", "tag__name")
    )
    for link in links:
        by_annotation.setdefault(link.annotation_id, []).append(link.tag)
    base_url = _annotations_url()
    document_url = reverse("documents:detail", args=[document_id])
    return [
        _dress(annotation, by_annotation.get(annotation.pk, []), user, base_url, document_url)
        for annotation in found
    ]


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


@dataclass(frozen=True)
class _PanelFilter:
    """The side panel's filters, as the filter form sends them."""

    tag: str = ""
    author: str = ""
    hide_others: bool = False

    @classmethod
    def from_query(cls, query: Any) -> _PanelFilter:
        return cls(
            tag=query.get("tag", "")[:100],
            author=query.get("author", "")[:150],
            hide_others=bool(query.get("hide_others")),
        )

    def apply(self, annotations: AnnotationQuerySet, user: Any) -> AnnotationQuerySet:
        if self.tag:
            annotations = annotations.tagged(self.tag)
        if self.author:
            annotations = annotations.filter(author__username=self.author)
        if self.hide_others:
            annotations = annotations.filter(author=user)
        return annotations

    def query(self, **extra: str) -> str:
        values = {"tag": self.tag, "author": self.author, "hide_others": "1" * self.hide_others}
        return urlencode({key: value for key, value in {**values, **extra}.items() if value})


def _panel(request: HtmxHttpRequest, document_id: int, panel: _PanelFilter) -> dict[str, Any]:
    """One page of the side panel: the cards after the `after` cursor, and the next page's URL.

    The cursor is the last card's "start.end.pk", so a page costs the same wherever it is.
    """
    annotations = Annotation.objects.visible_to(request.user).filter(document_id=document_id)
    annotations = panel.apply(annotations.alive(), request.user)
    parts = [parse_whole_number(part) for part in request.GET.get("after", "").split(".")]
    cursor = [part for part in parts if part is not None]
    if len(cursor) == 3 == len(parts):
        start, end, pk = cursor
        annotations = annotations.after_in_text_order(Annotation(pk=pk, start=start, end=end))
    cards = _cards(annotations.in_text_order()[: PANEL_PAGE + 1], request.user, document_id)
    more = ""
    if len(cards) > PANEL_PAGE:
        last = cards[PANEL_PAGE - 1]
        cards = cards[:PANEL_PAGE]
        more = "?" + panel.query(after=f"{last.start}.{last.end}.{last.pk}")
    return {"cards": cards, "more": more, "panel": panel, "document_id": document_id}


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
    documents = Document.objects.visible_to(request.user).defer("text")
    document = get_object_or_404(documents, pk=pk)
    # From this process's cache: a long text is not read and sent by the database each time.
    text = document_text(document.pk, document.sha256)
    rows = highlight_rows(document.pk)
    authors = User.objects.filter(pk__in={row[3] for row in rows}).order_by("username")
    context = {
        "document": document,
        "codebook": _Codebook(),
        "text_html": mark_safe(paragraphs_html(text, 0, _spans(rows, request.user))),  # noqa: S308
        "authors": authors.values_list("username", flat=True),
        **_panel(request, document.pk, _PanelFilter.from_query(request.GET)),
    }
    return render(request, DETAIL, context)


@require_GET
def annotation_panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A page of the side panel's cards, filtered (htmx: the filters, "load more")."""
    if not request.htmx:
        return redirect(reverse("documents:detail", args=[pk]) + "?" + request.GET.urlencode())
    context = _panel(request, pk, _PanelFilter.from_query(request.GET))
    return render(request, DETAIL + "#panel-page", context)


@require_GET
def annotation_summaries(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The summaries of a few annotations, for the card shown when hovering a highlight."""
    ids = [
        number
        for number in map(parse_whole_number, request.GET.get("ids", "").split(",")[:20])
        if number is not None
    ]
    annotations = Annotation.objects.visible_to(request.user).filter(document_id=pk, pk__in=ids)
    cards = _cards(annotations.alive().in_text_order(), request.user, pk)
    return render(request, DETAIL + "#summaries", {"cards": cards})


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
    # The new card goes to the side panel only if it passes the panel's filters (sent along
    # with the chooser); annotate.js puts it in text order among the cards shown.
    panel = _PanelFilter.from_query(request.POST)
    shown = (not panel.author or panel.author == request.user.get_username()) and (
        not panel.tag or Annotation.objects.filter(pk=annotation.pk).tagged(panel.tag).exists()
    )
    paragraphs, _ = _changed_paragraphs(request.user, annotation)
    context = {
        "a": _card(annotation, request.user, annotation.tag_list) if shown else None,  # type: ignore[attr-defined]
        "created": annotation.pk,
        "paragraphs": paragraphs,
    }
    return render(request, DETAIL + "#annotation-created", context)


def _annotation(request: HtmxHttpRequest, pk: int) -> Annotation:
    """An annotation this user may read, with its author and its document's pk and sha256
    (what showing the passage needs), or 404."""
    annotations: AnnotationQuerySet = Annotation.objects.visible_to(request.user)
    return get_object_or_404(
        annotations.select_related("author", "document").defer(
            *(f"document__{name}" for name in _DOCUMENT_HEAVY_FIELDS)
        ),
        pk=pk,
    )


# Document fields a write's response never needs (the text comes from the process cache).
_DOCUMENT_HEAVY_FIELDS = ("text", "notes", "import_report", "page_breaks")


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
    if request.method == "GET":
        # The service refuses the POST too; this only spares a form that cannot be saved.
        if not annotation.can_change(request.user):
            raise PermissionDenied("You can change only your own annotations.")
        card = _card(annotation, request.user)
        selected = [tag.slug for tag in card.tag_list]
        return _edit_form(request, card, annotation.version, selected, annotation.note)
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
        # The form comes back as the analyst filled it in, with the reason it was refused.
        return _edit_form(
            request,
            _card(annotation, request.user),
            request.POST.get("version", ""),
            request.POST.getlist("tags"),
            request.POST.get("note", ""),
            errors=_errors(exc),
        )
    return _changed(request, annotation)


def _edit_form(
    request: HtmxHttpRequest,
    card: Any,
    version: Any,
    selected: list[str],
    note: str,
    errors: list[str] | None = None,
) -> HttpResponse:
    context = {
        "a": card,
        "codebook": _Codebook(),
        "version": version,
        "selected": selected,
        "note": note,
        "errors": errors,
    }
    return render(request, DETAIL + "#edit-form", context, status=UNPROCESSABLE if errors else 200)


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


def _changed(request: HtmxHttpRequest, annotation: Annotation) -> HttpResponse:
    """After an edit, delete or restore: the card, and the paragraphs of its span."""
    if not request.htmx:
        return redirect(annotation.get_absolute_url())
    paragraphs, tags = _changed_paragraphs(request.user, annotation)
    # A deleted annotation has no highlight left to read its tags from.
    context = {
        "a": _card(annotation, request.user, None if annotation.is_deleted else tags),
        "paragraphs": paragraphs,
    }
    partial = "#deleted-response" if annotation.is_deleted else "#changed-response"
    return render(request, DETAIL + partial, context)

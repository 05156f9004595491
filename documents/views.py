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
import datetime
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from projects.models import Action, may

from . import cleanup, colours, refusals, selectors, services
from .forms import (
    AnnotationCreateForm,
    AnnotationEditForm,
    AnnotationExtentForm,
    AnnotationVersionForm,
    AttributeValuesForm,
    DocumentFilterForm,
)
from .models import Activity, Annotation, Document, Tag
from .originals import original_or_404, original_response
from .representations import REPRESENTATION_VERSION
from .selectors import AnnotationFilter, Highlight
from .shortcuts import found_or_404
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


def _spans(highlights: Iterable[Highlight], user: Any) -> list[_Span]:
    """What drawing needs of each highlight: its first tag in codebook order gives the colour."""
    return [
        _Span(h.pk, h.start, h.end, h.tags[0][0] if h.tags else 0, h.author_id == user.pk)
        for h in highlights
    ]


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


#: Overlapping annotations each draw a line under the text, in their first code's colour,
#: stacked outermost first; beyond this many, the innermost's fill tells the rest.
UNDERLINES = 3


def _mark_openers(spans: list[_Span]) -> tuple[str, str]:
    """The <mark> tag for a run covered by `spans` (outermost first): (inside, at a start).

    Its fill is the innermost annotation's first code (class t<tag>); each annotation over
    the run also draws a line under it (u<layer>-<tag>), so that an annotation covered by
    another stays visible over its whole extent. Colour is never all: hovering or focusing
    a highlight names its codes, as its card does."""
    inner = spans[-1]
    classes = f"hl t{inner.tag_id} d{min(len(spans), 3)}"
    for layer, span in enumerate(spans[:UNDERLINES], start=1):
        classes += f" u{layer}-{span.tag_id}"
    if any(span.own for span in spans):
        classes += " own"
    ids = " ".join(str(span.pk) for span in spans)
    return (
        f'<mark class="{classes}" data-a="{ids}">',
        f'<mark class="{classes} s" data-a="{ids}" tabindex="0">',
    )


def _changed_paragraphs(user: Any, annotation: Annotation) -> SafeString:
    """The paragraphs the annotation's span touches, as out-of-band swaps: their cost
    follows the paragraphs, whatever the document's size.

    The annotation comes from the services or `_annotation`, with its document's pk and
    sha256 loaded and the document already checked as visible to the user.
    """
    document = annotation.document
    first, text = selectors.document_paragraphs(document, annotation.start, annotation.end)
    highlights = selectors.highlight_rows(document, first, first + len(text))
    html = paragraphs_html(text, first, _spans(highlights, user), oob=True)
    return mark_safe(html)  # noqa: S308 (escaped in paragraphs_html)


# ---------------------------------------------------------------------------------------
# Side-panel cards


class _Codebook:
    """A project's codebook, read once per request (it is small); or just the tags given."""

    def __init__(
        self, user: Any, project_id: int | None = None, tags: Iterable[Tag] | None = None
    ) -> None:
        if tags is None:
            tags = selectors.tag_list(user=user, project=project_id)
        self.project_id = project_id
        self.tags = list(tags)
        self.by_slug = {tag.slug: tag for tag in self.tags}
        self.active = [tag for tag in self.tags if tag.is_active]

    @property
    def choices(self) -> list[_Choice]:
        """The active codes in tree order (each parent, then its children), each with its
        depth and its ancestors' names: what the tag chooser shows. A retired code is not
        offered, but its active children are, under its name."""
        children: dict[int | None, list[Tag]] = {}
        known = {tag.pk for tag in self.tags}
        for tag in self.tags:
            parent = tag.parent_id if tag.parent_id in known else None
            children.setdefault(parent, []).append(tag)
        out: list[_Choice] = []
        # Depth-first, iteratively; `seen` guards against a cycle that slipped past clean().
        pending: list[tuple[Tag, int, tuple[str, ...]]] = [
            (tag, 0, ()) for tag in reversed(children.get(None, []))
        ]
        seen: set[int] = set()
        while pending:
            tag, depth, path = pending.pop()
            if tag.pk in seen:
                continue
            seen.add(tag.pk)
            if tag.is_active:
                out.append(_Choice(tag=tag, depth=min(depth, 3), path=" › ".join(path)))
            below = (*path, tag.name)
            pending.extend(
                (child, depth + 1, below) for child in reversed(children.get(tag.pk, []))
            )
        return out


@dataclass(frozen=True)
class _Choice:
    """A code as the tag chooser offers it."""

    tag: Tag
    depth: int
    #: The names of its parent codes, outermost first ("Three evils › …"), or "".
    path: str


@dataclass
class _Card:
    """What a side-panel card shows of one annotation row (selectors.annotation_rows)."""

    pk: int
    start: int
    end: int
    excerpt: str
    note: str
    author: str
    created: datetime.datetime
    version: int
    is_deleted: bool
    tag_list: list[Tag]
    own: bool
    editable: bool
    url: str
    permalink: str
    project_id: int | None
    #: The passages view of the card's project, to which a code is appended (?code=).
    passages: str


def _cards(
    rows: Iterable[dict[str, Any]], user: Any, codebook: _Codebook, role: str | None
) -> list[_Card]:
    """Annotation rows dressed for their cards, in their order; `role` is the user's in
    the rows' project."""
    own_editable = may(role, Action.ANNOTATE)
    others_editable = may(role, Action.CHANGE_OTHERS)
    # Cards are many: their URLs come from one reversed prefix, not one reverse() each.
    base_url = reverse("documents:annotation_card", args=[0]).removesuffix("0/")
    document_url = reverse("documents:detail", args=[0]).removesuffix("0/")
    passages = (
        reverse("research:passages", args=[codebook.project_id]) + "?code="
        if codebook.project_id is not None
        else ""
    )
    cards = []
    for row in rows:
        quote, pk = row["quote"], row["id"]
        own = row["author_id"] == user.pk
        cards.append(
            _Card(
                pk=pk,
                start=row["start"],
                end=row["end"],
                excerpt=quote
                if len(quote) <= EXCERPT_LENGTH
                else quote[: EXCERPT_LENGTH - 1] + "…",
                note=row["note"],
                author=row["author"],
                created=datetime.datetime.fromisoformat(row["created"]),
                version=row["version"],
                is_deleted=row["deleted_at"] is not None,
                tag_list=[codebook.by_slug[slug] for slug in row["tags"]],
                own=own,
                editable=own_editable if own else others_editable,
                url=f"{base_url}{pk}/",
                permalink=f"{document_url}{row['document_id']}/#a{pk}",
                project_id=codebook.project_id,
                passages=passages,
            )
        )
    return cards


def _card(annotation: Annotation, user: Any) -> _Card:
    """One annotation's card: from the tags the services attached (`tag_list`), if they
    did, else read with its row. The user's role in its project comes with the annotation
    (selectors.annotation_get) or its document (services.annotation_create)."""
    tags = getattr(annotation, "tag_list", None)
    codebook = _Codebook(user, annotation.document.project_id, tags)
    role = getattr(annotation, "role", None) or getattr(annotation.document, "role", None)
    return _cards([selectors.annotation_row(annotation)], user, codebook, role)[0]


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

    def to_filter(self, document_id: int) -> AnnotationFilter:
        """The filter the selectors apply, as the API's query string would give it."""
        return AnnotationFilter(
            document=document_id,
            tags=(self.tag,) if self.tag else (),
            author=self.author,
            mine=self.hide_others,
        )

    def query(self, **extra: str) -> str:
        values = {"tag": self.tag, "author": self.author, "hide_others": "1" * self.hide_others}
        return urlencode({key: value for key, value in {**values, **extra}.items() if value})


def _panel(
    request: HtmxHttpRequest, document: Document, panel: _PanelFilter, codebook: _Codebook
) -> dict[str, Any]:
    """One page of the side panel: the cards after the `after` cursor, and the next page's URL.

    The cursor is the last card's "start.end.pk", so a page costs the same wherever it is.
    """
    document_id = document.pk
    annotations = selectors.document_annotation_list(
        document=document, user=request.user, filters=panel.to_filter(document_id)
    )
    parts = [parse_whole_number(part) for part in request.GET.get("after", "").split(".")]
    cursor = [part for part in parts if part is not None]
    if len(cursor) == 3 == len(parts):
        start, end, pk = cursor
        annotations = annotations.after_in_text_order(Annotation(pk=pk, start=start, end=end))
    rows = selectors.annotation_rows(annotations.in_text_order()[: PANEL_PAGE + 1])
    cards = _cards(rows, request.user, codebook, document.role)  # type: ignore[attr-defined]
    more = ""
    if len(cards) > PANEL_PAGE:
        last = cards[PANEL_PAGE - 1]
        cards = cards[:PANEL_PAGE]
        more = "?" + panel.query(after=f"{last.start}.{last.end}.{last.pk}")
    return {"cards": cards, "more": more, "panel": panel, "document_id": document_id}


def _form_errors(form: Any) -> ValidationError:
    return ValidationError({field: list(errors) for field, errors in form.errors.items()})


# ---------------------------------------------------------------------------------------
# Pages


@require_GET
def document_list(request: HtmxHttpRequest) -> HttpResponse:
    form = DocumentFilterForm(request.GET or None, user=request.user)
    documents = selectors.document_list(user=request.user, filters=form.to_filter()).select_related(
        "project"
    )
    page = Paginator(documents, 50).get_page(request.GET.get("page"))
    counts = selectors.tag_counts_by_document(
        user=request.user, document_ids=[document.pk for document in page]
    )
    tags = list(selectors.tag_list(user=request.user))
    for document in page:
        per_tag = counts.get(document.pk, {})
        document.tag_counts = [(tag, per_tag[tag.pk]) for tag in tags if tag.pk in per_tag]  # type: ignore[attr-defined]
    # One project's documents: its attributes are columns.
    if form.attributes:
        selectors.attach_attribute_values(list(page), form.attributes)
    template = "documents/document_list.html" + ("#results" if request.htmx else "")
    # An empty list says "import one" unless filters (beyond the project) emptied it.
    filtered = any(value for key, value in request.GET.items() if key not in {"project", "page"})
    context = {
        "form": form,
        "page": page,
        "columns": 7 + len(form.attributes),
        "filtered": filtered,
    }
    return render(request, template, context)


@require_GET
def document_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    document = found_or_404(selectors.document_get, user=request.user, pk=pk, original=True)
    text_html, author_ids = _highlighted_text(document, request.user)
    codebook = _Codebook(request.user, document.project_id)
    context = {
        **_metadata(request, document),
        "may_annotate": may(document.role, Action.ANNOTATE),  # type: ignore[attr-defined]
        "codebook": codebook,
        "text_html": mark_safe(text_html),  # noqa: S308 (escaped in paragraphs_html)
        "authors": selectors.authors(set(author_ids)),
        **_panel(request, document, _PanelFilter.from_query(request.GET), codebook),
    }
    return render(request, DETAIL, context)


@require_GET
def document_original(request: HttpRequest, pk: int) -> HttpResponse:
    """The file the document was imported from, as a download (every member who reads the
    document), recorded in the access log."""
    return original_response(request, original_or_404(user=request.user, pk=pk))


def _metadata(
    request: HttpRequest, document: Document, form: AttributeValuesForm | None = None
) -> dict[str, Any]:
    """What the document's header shows: its metadata, its attributes' values and, for its
    project's owners, the form that sets them."""
    attributes = list(selectors.attribute_list(user=request.user, project=document.project_id))
    selectors.attach_attribute_values([document], attributes)
    editable = may(document.role, Action.IMPORT) and bool(attributes)  # type: ignore[attr-defined]
    if editable and form is None:
        form = AttributeValuesForm(attributes=attributes, document=document)
    cleanup_applied, cleanup_not_applied = cleanup.applied_rows(document.import_report)
    return {
        "document": document,
        # Provenance: what the import's clean-up removed, by which rule (the original
        # file, linked beside it, keeps all of it).
        "cleanup_applied": cleanup_applied,
        "cleanup_not_applied": cleanup_not_applied,
        "attribute_rows": list(zip(attributes, document.attribute_cells, strict=True)),  # type: ignore[attr-defined]
        "attribute_form": form if editable else None,
    }


@require_http_methods(["GET", "POST"])
def document_attributes(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Set a document's attributes (its project's owners): the document page's form and a
    row of the project's table of documents post here; without htmx, a page of its own."""
    document = found_or_404(selectors.document_get, user=request.user, pk=pk)
    if not may(document.role, Action.IMPORT):  # type: ignore[attr-defined]
        raise PermissionDenied("Only the project's owners change its documents' attributes.")
    if request.method == "GET":
        return render(request, "documents/document_attributes.html", _metadata(request, document))
    attributes = list(selectors.attribute_list(user=request.user, project=document.project_id))
    # A row of the table (htmx targets it by id) has its own form ids.
    row = f"values-{pk}" if request.htmx and request.htmx.target == f"row-{pk}" else ""
    form = AttributeValuesForm(request.POST, attributes=attributes, document=document, form_id=row)
    try:
        services.attribute_values_set(
            user=request.user,  # type: ignore[arg-type]
            document=document,
            values=form.values(),
        )
    except ValidationError as exc:
        form.refused(exc)
        refused = True
    else:
        refused = False
        if not request.htmx:
            target = request.POST.get("next", "")
            if not url_has_allowed_host_and_scheme(target, allowed_hosts=None):
                target = document.get_absolute_url()
            return redirect(target)
    status = UNPROCESSABLE if refused else 200
    if row:
        selectors.attach_attribute_values([document], attributes)
        if not refused:  # the values as saved
            form = AttributeValuesForm(attributes=attributes, document=document, form_id=row)
        context = {"document": document, "form": form, "may_edit": True, "saved": not refused}
        return render(request, "projects/document_attributes.html#row", context, status=status)
    context = {**_metadata(request, document, form if refused else None), "saved": not refused}
    template = DETAIL + "#doc-meta" if request.htmx else "documents/document_attributes.html"
    return render(request, template, context, status=status)


#: The version of the highlights' markup (`paragraphs_html`), part of the cached text's key:
#: raise it when the markup changes, so that no server shows a text drawn the old way.
MARKUP_VERSION = 2
#: How long a document's highlighted text stays in the cache unread. Its key names the
#: document's list version, so a kept text is never stale.
PAGE_CACHE_SECONDS = 3600


def _highlighted_text(document: Any, user: Any) -> tuple[str, list[int]]:
    """The document's text as paragraphs with every highlight, and the ids of the authors
    of those highlights. Most of a long document's page: kept in the cache under what it
    shows, the document's list version (its annotations, the codebook's order) and the
    reader (their own highlights are marked)."""
    version = selectors.ListVersion(document, document.shared_token or "0")
    key = f"page:{document.pk}:{REPRESENTATION_VERSION}.{MARKUP_VERSION}.{version.key}:{user.pk}"
    kept = cache.get(key)
    if kept is not None:
        return kept
    highlights = selectors.highlight_rows(document)
    text_html = paragraphs_html(selectors.document_text(document), 0, _spans(highlights, user))
    made = (text_html, sorted({highlight.author_id for highlight in highlights}))
    cache.set(key, made, PAGE_CACHE_SECONDS)
    return made


@require_GET
def annotation_panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A page of the side panel's cards, filtered (htmx: the filters, "load more")."""
    if not request.htmx:
        return redirect(reverse("documents:detail", args=[pk]) + "?" + request.GET.urlencode())
    document = found_or_404(selectors.document_get, user=request.user, pk=pk)
    codebook = _Codebook(request.user, document.project_id)
    context = _panel(request, document, _PanelFilter.from_query(request.GET), codebook)
    return render(request, DETAIL + "#panel-page", context)


@require_GET
def annotation_summaries(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The summaries of a few annotations, for the card shown when hovering a highlight."""
    ids = [
        number
        for number in map(parse_whole_number, request.GET.get("ids", "").split(",")[:20])
        if number is not None
    ]
    document = found_or_404(selectors.document_get, user=request.user, pk=pk)
    annotations = selectors.annotation_list(
        user=request.user, filters=AnnotationFilter(document=pk)
    )
    rows = selectors.annotation_rows(annotations.filter(pk__in=ids).in_text_order())
    codebook = _Codebook(request.user, document.project_id)
    cards = _cards(rows, request.user, codebook, document.role)  # type: ignore[attr-defined]
    return render(request, DETAIL + "#summaries", {"cards": cards})


@require_GET
def tag_styles(request: HtmxHttpRequest) -> HttpResponse:
    """The codebook's colours as a stylesheet (the pages carry no inline style for them)."""
    # The ink (black or white) that contrasts more with the colour: text drawn over a code's
    # colour stays readable (WCAG AA) whatever colour the owners chose.
    rules = []
    for tag in selectors.tag_list(user=request.user):
        rules.append(f".t{tag.pk}{{--tag:{tag.colour};--tag-ink:{colours.ink_for(tag.colour)}}}")
        # A highlight's fill at each overlap depth (d1-d3), opaque, with its own ink.
        fills = colours.highlight_fills(tag.colour)
        rules.append(
            f"mark.t{tag.pk}{{"
            + ";".join(
                f"--hl{depth}:{fill};--hl{depth}-ink:{ink}"
                for depth, (fill, ink) in enumerate(fills, start=1)
            )
            + "}"
        )
        # The underlines of overlapping highlights (views._mark_openers), one per layer.
        layers = range(1, UNDERLINES + 1)
        rules.extend(f".u{layer}-{tag.pk}{{--u{layer}:{tag.colour}}}" for layer in layers)
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
        by_field = getattr(exc, "error_dict", {})
        if any(error.code == "unknown_document" for error in by_field.get("document", ())):
            raise Http404("No such document, or not one you can read.") from None
        refused = {"errors": refusals.lines(exc)}
        return render(request, DETAIL + "#create-errors", refused, status=UNPROCESSABLE)
    if not request.htmx:
        return redirect(annotation.get_absolute_url())
    # The new card goes to the side panel only if it passes the panel's filters (sent along
    # with the chooser); annotate.js puts it in text order among the cards shown.
    panel = _PanelFilter.from_query(request.POST)
    shown = panel == _PanelFilter() or (
        selectors.annotation_list(user=request.user, filters=panel.to_filter(pk))
        .filter(pk=annotation.pk)
        .exists()
    )
    context = {
        "a": _card(annotation, request.user) if shown else None,
        "created": annotation.pk,
        "paragraphs": _changed_paragraphs(request.user, annotation),
    }
    return render(request, DETAIL + "#annotation-created", context)


def _annotation(request: HtmxHttpRequest, pk: int) -> Annotation:
    """An annotation this user may read, with its author and its document's pk and sha256
    (what showing the passage needs), or 404."""
    annotation: Annotation = found_or_404(selectors.annotation_get, user=request.user, pk=pk)
    return annotation


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
        if not annotation.can_change(request.user, annotation.role):  # type: ignore[attr-defined]
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
            errors=refusals.lines(exc),
        )
    return _changed(request, annotation)


def _edit_form(
    request: HtmxHttpRequest,
    card: _Card,
    version: Any,
    selected: list[str],
    note: str,
    errors: list[str] | None = None,
) -> HttpResponse:
    context = {
        "a": card,
        "codebook": _Codebook(request.user, card.project_id),
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
        context: dict[str, Any] = {
            "a": _card(annotation, request.user),
            "errors": refusals.lines(exc),
        }
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
    context = {
        "a": _card(annotation, request.user),
        "paragraphs": _changed_paragraphs(request.user, annotation),
    }
    partial = "#deleted-response" if annotation.is_deleted else "#changed-response"
    return render(request, DETAIL + partial, context)


@require_http_methods(["GET", "POST"])
def annotation_extent(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Change an annotation's extent: its card asks for a new selection (GET), whose offsets
    and quote come back here (POST); the codes, note and id stay."""
    annotation = _annotation(request, pk)
    if not annotation.can_change(request.user, annotation.role):  # type: ignore[attr-defined]
        raise PermissionDenied("You can change only your own annotations.")
    if request.method == "GET":
        return _extent_form(request, annotation, {"version": annotation.version})
    form = AnnotationExtentForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        data = form.cleaned_data
        services.annotation_change_extent(
            user=request.user,  # type: ignore[arg-type]
            annotation=annotation,
            start=data["start"],
            end=data["end"],
            quote=data["quote"],
            expected_version=data["version"],
        )
    except ValidationError as exc:
        return _extent_form(request, annotation, request.POST, refusals.lines(exc))
    return _changed(request, annotation)


def _extent_form(
    request: HtmxHttpRequest,
    annotation: Annotation,
    values: Any,
    errors: list[str] | None = None,
) -> HttpResponse:
    context = {
        "a": _card(annotation, request.user),
        "version": values.get("version", ""),
        "start": values.get("start", ""),
        "end": values.get("end", ""),
        "quote": values.get("quote", ""),
        "errors": errors,
    }
    status = UNPROCESSABLE if errors else 200
    return render(request, DETAIL + "#extent-form", context, status=status)


# ---------------------------------------------------------------------------------------
# History: an annotation's changes, a document's activity, its deleted annotations

#: Changes an annotation's card lists; the document's activity page has them all.
HISTORY_LIMIT = 20
#: Rows per page of a document's activity and of its deleted annotations.
ACTIVITY_PAGE = 50

_ACTION_LABELS = {
    "annotation.create": "Created",
    "annotation.update": "Changed",
    "annotation.extent": "Extent changed",
    "annotation.delete": "Deleted (moved to the deleted annotations)",
    "annotation.restore": "Restored",
    "document.import": "Document imported",
    "document.update": "Document changed",
    "document.attributes": "Attributes set",
    "memo.create": "Memo written",
    "memo.update": "Memo changed",
    "memo.revert": "Memo brought back to an earlier version",
    "memo.delete": "Memo deleted",
    "memo.restore": "Memo restored",
}


@dataclass(frozen=True)
class _Entry:
    """One activity row as the history and the activity page show it."""

    label: str
    actor: str
    created: datetime.datetime
    changes: list[str]
    #: The annotation's permalink, for an annotation's row.
    link: str
    object_id: int


def _quoted(text: Any) -> str:
    text = str(text)
    return f"“{text if len(text) <= 80 else text[:79] + '…'}”"


def _span_text(values: dict[str, Any]) -> str:
    return f"[{values.get('start')}, {values.get('end')}) {_quoted(values.get('quote', ''))}"


def _changes(before: Any, after: Any, names: dict[str, str]) -> list[str]:
    """What an activity row's before and after differ in, as sentences."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}

    def tags(values: dict[str, Any]) -> list[str]:
        slugs = values.get("tags") or []
        return (
            [names.get(str(slug), str(slug)) for slug in slugs] if isinstance(slugs, list) else []
        )

    if not before:  # a creation: what it was made with
        out = []
        if after.get("tags"):
            out.append("Codes: " + ", ".join(tags(after)))
        if "quote" in after:
            out.append(
                f"Passage [{after.get('start')}, {after.get('end')}): {_quoted(after['quote'])}"
            )
        if after.get("note"):
            out.append(f"Note: {_quoted(after['note'])}")
        return out
    out = []
    added = [tag for tag in tags(after) if tag not in tags(before)]
    removed = [tag for tag in tags(before) if tag not in tags(after)]
    if added:
        out.append("Codes added: " + ", ".join(added))
    if removed:
        out.append("Codes removed: " + ", ".join(removed))
    if (before.get("start"), before.get("end")) != (after.get("start"), after.get("end")):
        out.append(f"Passage {_span_text(before)} → {_span_text(after)}")
    if before.get("note") != after.get("note") and "note" in after:
        out.append(f"Note: {_quoted(after['note'])}" if after["note"] else "Note removed")
    others = sorted(
        key
        for key in set(before) | set(after)
        if key not in {"tags", "start", "end", "quote", "note", "version", "deleted"}
        and before.get(key) != after.get(key)
    )
    if others:
        out.append("Changed: " + ", ".join(others))
    return out


def _entries(rows: Iterable[Activity], codebook: _Codebook) -> list[_Entry]:
    names = {tag.slug: tag.name for tag in codebook.tags}
    document_url = reverse("documents:detail", args=[0]).removesuffix("0/")
    entries = []
    for row in rows:
        label = _ACTION_LABELS.get(row.action, row.action)
        annotation = row.object_type == "annotation"
        if not annotation and row.action not in _ACTION_LABELS:
            label = f"{label} ({row.object_type} #{row.object_id})"
        entries.append(
            _Entry(
                label=label,
                actor=row.actor.username if row.actor else "(a command)",
                created=row.created,
                changes=_changes(row.before, row.after, names),
                link=f"{document_url}{row.document_id}/#a{row.object_id}" if annotation else "",
                object_id=row.object_id,
            )
        )
    return entries


@require_GET
def annotation_history(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """An annotation's changes, newest first, shown in its card (htmx)."""
    annotation = _annotation(request, pk)
    if not request.htmx:
        return redirect(reverse("documents:activity", args=[annotation.document_id]))
    rows = selectors.annotation_history(annotation, HISTORY_LIMIT)
    codebook = _Codebook(request.user, annotation.document.project_id)
    context = {
        "entries": _entries(rows[:HISTORY_LIMIT], codebook),
        "more": len(rows) > HISTORY_LIMIT,
        "annotation_id": pk,
        "document_id": annotation.document_id,
    }
    return render(request, DETAIL + "#history", context)


@require_GET
def document_activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Everything done to a document and its annotations, newest first, a page at a time:
    for every member who reads it."""
    document = found_or_404(selectors.document_get, user=request.user, pk=pk)
    page = Paginator(selectors.document_activity(document), ACTIVITY_PAGE).get_page(
        request.GET.get("page")
    )
    codebook = _Codebook(request.user, document.project_id)
    context = {"document": document, "page": page, "entries": _entries(page, codebook)}
    return render(request, "documents/document_activity.html", context)


@require_GET
def document_trash(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A document's deleted annotations, last deleted first, each with a button that restores
    it for those who may (its author, reviewers and owners)."""
    document = found_or_404(selectors.document_get, user=request.user, pk=pk)
    number = parse_whole_number(request.GET.get("page", "1")) or 1
    number = min(number, MAX_PAGE)
    rows = selectors.document_trash(document, ACTIVITY_PAGE, (number - 1) * ACTIVITY_PAGE)
    codebook = _Codebook(request.user, document.project_id)
    cards = _cards(rows[:ACTIVITY_PAGE], request.user, codebook, document.role)  # type: ignore[attr-defined]
    deleted = [
        (card, row["deleted_at"], row["deleted_by__username"])
        for card, row in zip(cards, rows, strict=False)
    ]
    context = {
        "document": document,
        "deleted": deleted,
        "number": number,
        "previous": number - 1 if number > 1 else None,
        "next": number + 1 if len(rows) > ACTIVITY_PAGE else None,
    }
    return render(request, "documents/document_trash.html", context)


#: The last page number the trash answers: beyond, its offset would read past any trash.
MAX_PAGE = 10_000

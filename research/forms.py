"""Forms of the research views: they parse the query string into the selectors' filters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from documents import selectors as document_selectors
from documents.forms import AttributeFilters
from documents.models import MAX_ID, DocumentType, Tag

from .models import Scope
from .selectors import PassageFilter, SearchFilter
from .terms import QueryError, parse_query


class _DocumentFields(AttributeFilters, forms.Form):
    """The documents' metadata and attributes, shared by the search and the passages view."""

    organisation = forms.ChoiceField(required=False)
    language = forms.ChoiceField(required=False)
    document_type = forms.ChoiceField(label="Type", required=False)
    published_after = forms.DateField(
        label="Published from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    published_before = forms.DateField(
        label="Published until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, user: Any, project: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

        # The organisations and languages of the project's documents, in one reading of
        # them: the pairs that occur (a few dozen), in the database's order of the
        # organisations (its collation); languages are codes.
        pairs = (
            document_selectors.document_list(
                user=user, filters=document_selectors.DocumentFilter(project=project)
            )
            .order_by("organisation", "language")
            .values_list("organisation", "language")
            .distinct()
        )
        organisations: dict[str, None] = {}
        languages: set[str] = set()
        for organisation, language in pairs:
            organisations[organisation] = None
            languages.add(language)

        def choices(values: Iterable[str]) -> list[tuple[str, str]]:
            return [("", "Any"), *((value, value) for value in values if value)]

        for name, values in (
            ("organisation", choices(organisations)),
            ("language", choices(sorted(languages))),
            ("document_type", [("", "Any"), *DocumentType.choices]),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = values
        self.add_attribute_fields(document_selectors.attribute_list(user=user, project=project))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        after, before = data.get("published_after"), data.get("published_before")
        if after and before and after > before:
            raise ValidationError("The first publication date must not come after the last.")
        self.check_attribute_ranges()
        return data

    def document_filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            name: data.get(name)
            or ("" if name in ("organisation", "language", "document_type") else None)
            for name in (
                "organisation",
                "language",
                "document_type",
                "published_after",
                "published_before",
            )
        } | {"attributes": self.attribute_conditions()}


class SearchForm(_DocumentFields):
    q = forms.CharField(label="Search", max_length=1000, required=False)
    coded = forms.ChoiceField(
        label="Hits",
        required=False,
        choices=[("", "All hits"), ("no", "Not yet coded"), ("yes", "Already coded")],
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("title", "Title"),
            ("published", "Oldest first"),
            ("-published", "Newest first"),
        ],
    )
    offset = forms.IntegerField(required=False, min_value=0, max_value=10**9)

    def clean_q(self) -> str:
        text: str = self.cleaned_data.get("q", "")
        if text.strip():
            try:
                self.query = parse_query(text)
            except QueryError as exc:
                raise ValidationError(str(exc)) from None
        return text

    def to_filter(self) -> SearchFilter | None:
        """The search to run; None when nothing was asked or the form has errors."""
        if not self.is_bound or not self.is_valid() or not self.cleaned_data.get("q", "").strip():
            return None
        return SearchFilter(
            project=self.project,
            query=self.query,
            coded=self.cleaned_data.get("coded") or "",
            sort=self.cleaned_data.get("sort") or "title",
            **self.document_filters(),
        )


class _CodesField(forms.TypedMultipleChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce=int, required=False, **kwargs)


class PassageForm(_DocumentFields):
    code = _CodesField(label="Codes")
    mode = forms.ChoiceField(
        label="Passages with",
        required=False,
        choices=[("any", "any of these codes"), ("all", "all of these codes")],
    )
    without = _CodesField(label="But none of")
    coder = forms.MultipleChoiceField(label="Coders", required=False)
    q = forms.CharField(label="Text in quote or note", max_length=200, required=False)
    coded_after = forms.DateField(
        label="Coded from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    coded_before = forms.DateField(
        label="Coded until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    document = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("document", "Document"),
            ("code", "Code"),
            ("-date", "Newest coding first"),
            ("date", "Oldest coding first"),
        ],
    )

    def __init__(self, *args: Any, user: Any, project: int, **kwargs: Any) -> None:
        super().__init__(*args, user=user, project=project, **kwargs)
        self.codebook = list(
            document_selectors.tag_list(user=user, project=project).order_by("sort_order", "name")
        )
        names = [(tag.pk, tag.name) for tag in self.codebook]
        for name in ("code", "without"):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = names
        coders = document_selectors.coder_names(user=user, project=project)
        coder = self.fields["coder"]
        assert isinstance(coder, forms.ChoiceField)
        coder.choices = [(name, name) for name in coders]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        after, before = data.get("coded_after"), data.get("coded_before")
        if after and before and after > before:
            raise ValidationError("The first coding date must not come after the last.")
        return data

    def to_filter(self) -> PassageFilter | None:
        """The passages to show; None when the form has errors."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return PassageFilter(
            project=self.project,
            codes=tuple(data.get("code") or ()),
            mode=data.get("mode") or "any",
            without=tuple(data.get("without") or ()),
            coders=tuple(data.get("coder") or ()),
            document=data.get("document"),
            q=data.get("q", ""),
            coded_after=data.get("coded_after"),
            coded_before=data.get("coded_before"),
            sort=data.get("sort") or "document",
            **self.document_filters(),
        )

    def chosen_codes(self) -> list[Tag]:
        chosen = set(self.cleaned_data.get("code") or ()) if self.is_valid() else set()
        return [tag for tag in self.codebook if tag.pk in chosen]


class _HitsField(forms.MultipleChoiceField):
    """Hits as the search page names them (document:start:end), checked by clean_hit."""

    def valid_value(self, value: Any) -> bool:
        return isinstance(value, str)


class CodeHitsForm(forms.Form):
    """Coding the hits of a search: which hits, with which code, how much around them."""

    code = forms.TypedChoiceField(coerce=int, label="Code")
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.SENTENCE, label="Code")
    hit = _HitsField(required=False)
    every = forms.BooleanField(required=False, label="Every hit of the search")
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args: Any, codebook: list[Tag], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codebook = codebook
        code = self.fields["code"]
        assert isinstance(code, forms.ChoiceField)
        code.choices = [(tag.pk, tag.name) for tag in codebook if tag.is_active]

    def clean_hit(self) -> list[tuple[int, int, int]]:
        hits = []
        # Ticked on the search page (one field each), or all of a preview's (one field).
        values = [*self.cleaned_data.get("hit", []), *self.data.get("hits", "").split()]
        for value in values:
            parts = value.split(":")
            if len(parts) != 3 or not all(
                part.isascii() and part.isdigit() and len(part) < 12 for part in parts
            ):
                raise ValidationError(f"{value!r} names no hit: search again and choose hits.")
            document, start, end = (int(part) for part in parts)
            hits.append((document, start, end))
        return hits

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("every") and not data.get("hit") and "hit" not in self.errors:
            # (clean_hit put the preview's "hits" into "hit".)
            raise ValidationError("Choose the hits to code, or every hit of the search.")
        return data

    def tag(self) -> Tag:
        return next(tag for tag in self.codebook if tag.pk == self.cleaned_data["code"])

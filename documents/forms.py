"""Forms of the analysts' pages: they parse input; the services decide what is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from .models import DocumentQuerySet, DocumentType


class TagSlugsField(forms.MultipleChoiceField):
    """Tag slugs as sent by the tag chooser. Which tags exist and are active is the service's
    business (annotation_create / annotation_update check it for every entry point)."""

    default_error_messages = {"required": "Choose at least one tag."}

    def valid_value(self, value: Any) -> bool:
        return isinstance(value, str)


class AnnotationCreateForm(forms.Form):
    start = forms.IntegerField(min_value=0)
    end = forms.IntegerField(min_value=1)
    # Never strip: the quote is compared character for character with the text.
    quote = forms.CharField(strip=False)
    tags = TagSlugsField()
    note = forms.CharField(required=False, strip=False)

    def clean_quote(self) -> str:
        # A form submission may turn line breaks into CRLF; the stored text has only LF.
        quote: str = self.cleaned_data["quote"]
        return quote.replace("\r\n", "\n")


class AnnotationEditForm(forms.Form):
    version = forms.IntegerField(min_value=1)
    tags = TagSlugsField()
    note = forms.CharField(required=False, strip=False)


class AnnotationVersionForm(forms.Form):
    version = forms.IntegerField(min_value=1)


class DocumentFilterForm(forms.Form):
    q = forms.CharField(label="Title", required=False, max_length=200)
    organisation = forms.ChoiceField(required=False)
    language = forms.ChoiceField(required=False)
    document_type = forms.ChoiceField(label="Type", required=False)
    year = forms.IntegerField(required=False, min_value=1, max_value=9999)

    def __init__(self, *args: Any, documents: DocumentQuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        def choices(field: str) -> list[tuple[str, str]]:
            values = documents.exclude(**{field: ""}).order_by(field).values_list(field, flat=True)
            return [("", "Any"), *((value, value) for value in values.distinct())]

        for name, values in (
            ("organisation", choices("organisation")),
            ("language", choices("language")),
            ("document_type", [("", "Any"), *DocumentType.choices]),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = values

    def filter(self, documents: DocumentQuerySet) -> DocumentQuerySet:
        """The documents that match the valid filters (invalid ones are shown as errors)."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("q"):
            documents = documents.filter(Q(title__icontains=data["q"]))
        for field in ("organisation", "language", "document_type"):
            if data.get(field):
                documents = documents.filter(**{field: data[field]})
        if data.get("year"):
            documents = documents.filter(published__year=data["year"])
        return documents

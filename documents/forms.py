"""Forms of the analysts' pages: they parse input; the services decide what is valid."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from projects.selectors import project_list

from . import selectors
from .models import DocumentType
from .selectors import DocumentFilter


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
    project = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    q = forms.CharField(label="Title", required=False, max_length=200)
    organisation = forms.ChoiceField(required=False)
    language = forms.ChoiceField(required=False)
    document_type = forms.ChoiceField(label="Type", required=False)
    year = forms.IntegerField(required=False, min_value=1, max_value=9999)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        def choices(field: str) -> list[tuple[str, str]]:
            values = selectors.document_choices(user=user, field=field)
            return [("", "Any"), *((value, value) for value in values)]

        self.projects = list(project_list(user=user).values_list("pk", "name"))
        for name, values in (
            ("project", [("", "Any"), *((str(pk), name) for pk, name in self.projects)]),
            ("organisation", choices("organisation")),
            ("language", choices("language")),
            ("document_type", [("", "Any"), *DocumentType.choices]),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = values

    def to_filter(self) -> DocumentFilter | None:
        """The valid filters as the selectors take them (invalid ones are shown as errors)."""
        if not self.is_bound:
            return None
        data = self.cleaned_data if self.is_valid() else {}
        year = data.get("year")
        return DocumentFilter(
            project=data.get("project"),
            q=data.get("q", ""),
            organisation=data.get("organisation", ""),
            language=data.get("language", ""),
            document_type=data.get("document_type", ""),
            published_after=datetime.date(year, 1, 1) if year else None,
            published_before=datetime.date(year, 12, 31) if year else None,
        )

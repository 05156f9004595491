"""Forms of the analysts' pages: they parse input; the services decide what is valid."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from projects.selectors import project_list

from . import refusals, selectors
from .models import (
    ATTRIBUTE_NUMBER_DIGITS,
    ATTRIBUTE_NUMBER_PLACES,
    ATTRIBUTE_TEXT_LENGTH,
    Attribute,
    AttributeKind,
    Document,
    DocumentType,
)
from .selectors import AttributeCondition, DocumentFilter


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


_SELECT_FIRST = {"required": "Select the new extent in the text first."}


class AnnotationExtentForm(forms.Form):
    """A new extent for an annotation, selected in the text."""

    version = forms.IntegerField(min_value=1)
    start = forms.IntegerField(
        min_value=0, error_messages={"required": "Select the new extent in the text first."}
    )
    end = forms.IntegerField(
        min_value=1, error_messages={"required": "Select the new extent in the text first."}
    )
    quote = forms.CharField(
        strip=False, error_messages={"required": "Select the new extent in the text first."}
    )

    def clean_quote(self) -> str:
        # As AnnotationCreateForm: the stored text has only LF.
        quote: str = self.cleaned_data["quote"]
        return quote.replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------
# Document attributes


class AttributeFilters:
    """Filters by the documents' attributes, for a form that holds the documents' other
    filters: a field per attribute, named attr.<slug> (a choice: any of those chosen; a
    text: equal, case aside), or attr.<slug>.min and attr.<slug>.max (a number or a date,
    inclusive). The same names in the pages' and the API's query strings."""

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]
    attributes: list[Attribute]

    def add_attribute_fields(self, attributes: Iterable[Attribute]) -> None:
        self.attributes = list(attributes)
        for attribute in self.attributes:
            name = f"attr.{attribute.slug}"
            if attribute.kind == AttributeKind.CHOICE:
                self.fields[name] = forms.MultipleChoiceField(
                    label=attribute.name,
                    required=False,
                    choices=[(choice, choice) for choice in attribute.choices],
                    widget=forms.SelectMultiple(attrs={"size": min(len(attribute.choices), 4)}),
                )
            elif attribute.kind == AttributeKind.TEXT:
                self.fields[name] = forms.CharField(
                    label=attribute.name, required=False, max_length=ATTRIBUTE_TEXT_LENGTH
                )
            elif attribute.kind == AttributeKind.NUMBER:
                for end, label in ((".min", "at least"), (".max", "at most")):
                    self.fields[name + end] = forms.DecimalField(
                        label=f"{attribute.name} {label}",
                        required=False,
                        max_digits=ATTRIBUTE_NUMBER_DIGITS,
                        decimal_places=ATTRIBUTE_NUMBER_PLACES,
                        widget=forms.NumberInput(attrs={"step": "any"}),
                    )
            else:
                for end, label in ((".min", "from"), (".max", "until")):
                    self.fields[name + end] = forms.DateField(
                        label=f"{attribute.name} {label}",
                        required=False,
                        widget=forms.DateInput(attrs={"type": "date"}),
                    )

    def attribute_fields(self) -> list[forms.BoundField]:
        """The attribute filters' bound fields, in the attributes' order (for templates)."""
        names = [name for name in self.fields if name.startswith("attr.")]
        return [self[name] for name in names]  # type: ignore[index]

    def check_attribute_ranges(self) -> None:
        """Refuse a range whose start comes after its end (as a form's clean() does)."""
        data = self.cleaned_data
        for attribute in self.attributes:
            low = data.get(f"attr.{attribute.slug}.min")
            high = data.get(f"attr.{attribute.slug}.max")
            if low is not None and high is not None and low > high:
                raise ValidationError(
                    f"{attribute.name}: the first value must not come after the last."
                )

    def attribute_conditions(self) -> tuple[AttributeCondition, ...]:
        """The attribute filters given, as the selectors take them (a valid form's)."""
        data = self.cleaned_data
        conditions = []
        for attribute in self.attributes:
            name = f"attr.{attribute.slug}"
            value = data.get(name)
            if attribute.kind == AttributeKind.CHOICE and value:
                conditions.append(AttributeCondition(attribute.slug, "any", tuple(value)))
            elif attribute.kind == AttributeKind.TEXT and value and value.strip():
                conditions.append(AttributeCondition(attribute.slug, "eq", " ".join(value.split())))
            for end in ("min", "max"):
                bound = data.get(f"{name}.{end}")
                if bound is not None:
                    conditions.append(AttributeCondition(attribute.slug, end, bound))
        return tuple(conditions)

    def attribute_descriptions(self) -> list[str]:
        """The attribute filters given, in words (a report's description)."""
        data = self.cleaned_data
        parts = []
        for field in self.attribute_fields():
            value = data.get(field.name)
            if value in (None, "", [], ()):
                continue
            if isinstance(value, list):
                value = " or ".join(value)
            parts.append(f"{field.label} {value}")
        return parts


class AttributeValuesForm(forms.Form):
    """A document's attributes as its project's owners set them: a field per attribute,
    named attr.<slug>. The form only carries what was typed: the services parse and check
    it (attribute_values_set), so that a page, the table and a CSV refuse alike."""

    def __init__(
        self,
        *args: Any,
        attributes: Sequence[Attribute],
        document: Document | None = None,
        form_id: str = "",
        **kwargs: Any,
    ) -> None:
        if document is not None:
            # Its own ids: the table of documents shows a form per row.
            kwargs.setdefault("auto_id", f"d{document.pk}-%s")
            values = getattr(document, "attribute_list", ())
            texts = {value.attribute_id: value.text for value in values}
            kwargs.setdefault(
                "initial", {f"attr.{a.slug}": texts.get(a.pk, "") for a in attributes}
            )
        super().__init__(*args, **kwargs)
        self.attributes = list(attributes)
        shared = {"form": form_id} if form_id else {}
        for attribute in self.attributes:
            widget: forms.Widget
            if attribute.kind == AttributeKind.CHOICE:
                choices = [("", "—"), *((choice, choice) for choice in attribute.choices)]
                widget = forms.Select(choices=choices, attrs=shared)
            elif attribute.kind == AttributeKind.NUMBER:
                widget = forms.NumberInput(attrs={"step": "any", **shared})
            elif attribute.kind == AttributeKind.DATE:
                widget = forms.DateInput(attrs={"type": "date", **shared})
            else:
                widget = forms.TextInput(attrs={"maxlength": ATTRIBUTE_TEXT_LENGTH, **shared})
            self.fields[f"attr.{attribute.slug}"] = forms.CharField(
                label=attribute.name, required=False, widget=widget
            )

    def values(self) -> dict[str, str]:
        """{slug: what was typed} of the attributes the request sent (one it did not send,
        made after the page was shown, say, is left as it is)."""
        return {
            attribute.slug: self.data[f"attr.{attribute.slug}"]
            for attribute in self.attributes
            if f"attr.{attribute.slug}" in self.data
        }

    def refused(self, exc: ValidationError) -> None:
        """Show a service's refusal beside the fields it names."""
        for slug, messages in refusals.by_field(exc).items():
            name = f"attr.{slug}"
            self.add_error(name if name in self.fields else None, messages)


class DocumentFilterForm(AttributeFilters, forms.Form):
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
        #: The one project whose documents are listed (chosen, or the only one): its
        #: attributes are filters and columns.
        self.one_project = self._one_project()
        self.add_attribute_fields(
            selectors.attribute_list(user=user, project=self.one_project)
            if self.one_project
            else ()
        )
        for name, values in (
            ("project", [("", "Any"), *((str(pk), name) for pk, name in self.projects)]),
            ("organisation", choices("organisation")),
            ("language", choices("language")),
            ("document_type", [("", "Any"), *DocumentType.choices]),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = values

    def _one_project(self) -> int | None:
        ids = [pk for pk, _ in self.projects]
        if len(ids) == 1:
            return ids[0]
        chosen = self.data.get("project", "") if self.is_bound else ""
        return int(chosen) if chosen.isdigit() and int(chosen) in ids else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.check_attribute_ranges()
        return data

    def to_filter(self) -> DocumentFilter | None:
        """The valid filters as the selectors take them (invalid ones are shown as errors)."""
        if not self.is_bound:
            return None
        valid = self.is_valid()
        data = self.cleaned_data if valid else {}
        year = data.get("year")
        return DocumentFilter(
            project=data.get("project"),
            q=data.get("q", ""),
            organisation=data.get("organisation", ""),
            language=data.get("language", ""),
            document_type=data.get("document_type", ""),
            published_after=datetime.date(year, 1, 1) if year else None,
            published_before=datetime.date(year, 12, 31) if year else None,
            attributes=self.attribute_conditions() if valid else (),
        )

"""Forms of the memo pages: the filters (which the API parses too) and what a write sends.
They parse and check types; memos.services checks the rest, with the same messages for the
pages and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from documents import selectors as document_selectors
from documents.models import MAX_ID

from .models import MAX_TEXT, MAX_TITLE, MAX_VERSION, About
from .selectors import MemoFilter, memo_authors


class MemoFilterForm(forms.Form):
    about = forms.ChoiceField(
        label="About",
        required=False,
        choices=[
            ("", "Anything"),
            *((value, str(label).capitalize()) for value, label in About.choices),
        ],
        error_messages={
            "invalid_choice": "About is project, code or document, not %(value)s.",
        },
    )
    author = forms.ChoiceField(
        label="Written by",
        required=False,
        error_messages={
            "invalid_choice": "Nobody named %(value)s is a member of this project or wrote "
            "one of its memos."
        },
    )
    code = forms.TypedChoiceField(
        label="Code",
        required=False,
        coerce=int,
        empty_value=None,
        error_messages={"invalid_choice": "There is no code #%(value)s in this project."},
    )
    document = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        widget=forms.HiddenInput,
        error_messages={"invalid": "Give a document's id, a whole number."},
    )
    include_deleted = forms.BooleanField(label="Show deleted memos", required=False)

    def __init__(self, *args: Any, user: Any, project: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.project = user, project
        self.codebook = list(document_selectors.tag_list(user=user, project=project))
        code = self.fields["code"]
        assert isinstance(code, forms.ChoiceField)
        code.choices = [("", "Any"), *((tag.pk, tag.name) for tag in self.codebook)]
        author = self.fields["author"]
        assert isinstance(author, forms.ChoiceField)
        author.choices = [
            ("", "Anyone"),
            *((name, name) for name in memo_authors(user=user, project=project)),
        ]

    def clean_document(self) -> int | None:
        pk = self.cleaned_data.get("document")
        if pk is None:
            return None
        documents = document_selectors.document_list(
            user=self.user, filters=document_selectors.DocumentFilter(project=self.project)
        )
        if not documents.filter(pk=pk).exists():
            raise ValidationError(f"There is no document #{pk} in this project.")
        return int(pk)

    def to_filter(self) -> MemoFilter | None:
        """The memos to list; None when the form has errors."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return MemoFilter(
            project=self.project,
            about=data.get("about") or "",
            author=data.get("author") or "",
            code=data.get("code"),
            document=data.get("document"),
            include_deleted=bool(data.get("include_deleted")),
        )


def _id_field() -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        widget=forms.HiddenInput,
        error_messages={"invalid": "Give an id, a whole number."},
    )


class MemoForm(forms.Form):
    """A memo as written on the pages: title and text (checked by the service), what it is
    about (a code, a document or, with neither, the project), and for a change the version
    the form was filled in from."""

    title = forms.CharField(
        required=False,
        strip=False,
        widget=forms.TextInput(attrs={"maxlength": MAX_TITLE, "dir": "auto"}),
    )
    text = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_TEXT, "dir": "auto"}),
    )
    code = _id_field()
    document = _id_field()
    version = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        widget=forms.HiddenInput,
        error_messages={"invalid": "The form's version is not a number: reload the page."},
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class MemoVersionForm(forms.Form):
    """A delete, or a restore of an earlier `revision`, at the `version` the page showed."""

    version = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        error_messages={"invalid": "The form's version is not a number: reload the page."},
    )
    revision = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        error_messages={"invalid": "Give the number of the version to restore."},
    )

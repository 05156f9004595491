"""Forms of the project pages: they parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms

from documents.models import AttributeKind

from .models import Role

#: The codebook copy's choice meaning "the default codebook", not a project.
DEFAULT_CODEBOOK = "default"


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.CharField(
        max_length=150, required=False, help_text="Username of the first owner (you if empty)."
    )


class ProjectSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    require_mfa = forms.BooleanField(
        required=False, label="Members must use two-factor authentication"
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CODER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class CodebookCopyForm(forms.Form):
    source = forms.ChoiceField()

    def __init__(self, *args: Any, sources: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["source"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (DEFAULT_CODEBOOK, "The default codebook"),
            *((str(pk), f"Project: {name}") for pk, name in sources),
        ]


class CodeForm(forms.Form):
    """A code of the project's codebook, as an owner adds or changes it."""

    name = forms.CharField(max_length=100)
    slug = forms.SlugField(
        max_length=100,
        required=False,
        help_text="Stable identifier for the API; made from the name if empty. Fixed once set.",
    )
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    inclusion = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    exclusion = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    colour = forms.RegexField(
        regex=r"^#[0-9a-fA-F]{6}$",
        initial="#ffd54f",
        error_messages={"invalid": "Give the colour as #rrggbb, e.g. #1f77b4."},
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    parent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    shortcut = forms.CharField(max_length=1, required=False, strip=False)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    #: When the code was last changed, as the page showed it (a change made meanwhile by
    #: someone else is not overwritten unseen).
    seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, parents: list[tuple[int, str]], **kwargs: Any) -> None:
        # Its own ids: the project page holds the settings form's "name" field too.
        kwargs.setdefault("auto_id", "code_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["parent"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "None (top level)"), *((str(pk), name) for pk, name in parents)]


class CodeMergeForm(forms.Form):
    """The code that takes over another's passages."""

    into = forms.TypedChoiceField(coerce=int, label="Merge into")

    def __init__(self, *args: Any, targets: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["into"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a code"), *((str(pk), name) for pk, name in targets)]


class CodeExampleForm(forms.Form):
    """The passage shown as a code's example (none: no example)."""

    annotation = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Example passage"
    )

    def __init__(self, *args: Any, passages: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["annotation"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "No example"), *((str(pk), label) for pk, label in passages)]


class CodebookImportForm(forms.Form):
    """A REFI-QDA codebook file (.qdc) to add to the project's codebook."""

    file = forms.FileField(label="REFI-QDA codebook (.qdc)")


class AttributeForm(forms.Form):
    """A document attribute, as an owner defines it; the services check it."""

    name = forms.CharField(max_length=100)
    slug = forms.SlugField(
        max_length=100,
        required=False,
        help_text="Identifier in filters, CSV headers and the API; made from the name if "
        "empty. Fixed once set.",
    )
    kind = forms.ChoiceField(choices=AttributeKind.choices, initial=AttributeKind.TEXT)
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For a choice attribute: the values it allows, one per line.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: the project page holds the settings form's "name" field too.
        kwargs.setdefault("auto_id", "attribute_%s")
        super().__init__(*args, **kwargs)


class AttributeEditForm(AttributeForm):
    sort_order = forms.IntegerField(
        label="Order",
        min_value=-(10**6),
        max_value=10**6,
        help_text="Attributes are listed by this number, smallest first.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].disabled = True


class AttributesUploadForm(forms.Form):
    file = forms.FileField(label="CSV file")
    add_choices = forms.BooleanField(
        required=False,
        label="Allow new choices: add values that a choice attribute does not list yet to "
        "its choices",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "upload_%s")
        super().__init__(*args, **kwargs)

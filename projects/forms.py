"""Forms of the project pages: they parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import QueryDict

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

    #: The fields of a code that its page changes.
    CODE_FIELDS = (
        "name",
        "definition",
        "inclusion",
        "exclusion",
        "colour",
        "parent",
        "shortcut",
        "is_active",
    )

    def __init__(self, *args: Any, parents: list[tuple[int, str]], **kwargs: Any) -> None:
        # Its own ids: the project page holds the settings form's "name" field too.
        kwargs.setdefault("auto_id", "code_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["parent"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "None (top level)"), *((str(pk), name) for pk, name in parents)]

    @classmethod
    def of(cls, data: Any, tag: Any, parents: list[tuple[int, str]]) -> CodeForm:
        """The change form of code `tag`: its fields as they are, each also sent back as
        the page showed it (to tell what the owner changed), the slug fixed."""
        form = cls(data, parents=parents, initial=cls.values_of(tag))
        form.fields["slug"].disabled = True  # fixed once set: API clients and exports name it
        for name in cls.CODE_FIELDS:
            form.fields[name].show_hidden_initial = True
        return form

    @staticmethod
    def values_of(tag: Any) -> dict[str, Any]:
        return {
            "name": tag.name,
            "slug": tag.slug,
            "definition": tag.definition,
            "inclusion": tag.inclusion,
            "exclusion": tag.exclusion,
            "colour": tag.colour,
            "parent": tag.parent_id,
            "shortcut": tag.shortcut,
            "is_active": tag.is_active,
            "seen": tag.updated.isoformat(),
        }

    def changed_fields(self) -> set[str]:
        """The code's fields that the sender changed from what the page showed (each
        field's hidden initial value); every field a sender did not say it was shown (a
        client that posts the fields alone)."""
        changed = set(self.changed_data)
        return {
            name
            for name in self.CODE_FIELDS
            if name in changed or self.add_initial_prefix(name) not in self.data
        }

    def over(self, tag: Any) -> QueryDict:
        """What was sent, moved onto code `tag` as it is now: its values where the sender
        changed nothing, and as what the page shows, so that saving again writes only
        what the sender changed."""
        data = cast(QueryDict, self.data).copy()
        changed = self.changed_fields()
        for name, value in self.values_of(tag).items():
            posted = [] if value is None or value is False else ["on" if value is True else value]
            if name == "seen":
                data.setlist(name, posted)
            elif name in self.CODE_FIELDS:
                data.setlist(self.add_initial_prefix(name), posted)
                if name not in changed:
                    data.setlist(name, posted)
        return data


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

from __future__ import annotations

from typing import Any

from django import forms

from .models import AccessEvent
from .selectors import AccessEventFilter
from .services import check_code_format


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
    )

    def clean_code(self) -> str:
        try:
            return check_code_format(self.cleaned_data["code"])
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["code"]) from None


class AccessLogFilterForm(forms.Form):
    username = forms.CharField(label="User", max_length=150, required=False)
    kind = forms.ChoiceField(
        label="Kind", choices=[("", "any"), *AccessEvent.Kind.choices], required=False
    )

    def to_filter(self) -> AccessEventFilter:
        data: dict[str, Any] = self.cleaned_data if self.is_valid() else {}
        return AccessEventFilter(
            username=data.get("username", "").strip(), kind=data.get("kind", "")
        )

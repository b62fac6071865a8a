"""The query parameters of an alternative path's page, as a Form.

Like the SDR queue's filters, a bad value never makes the page fail: it is reported beside the
filters and that one filter is left off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from dashboards.selectors.paths import (
    SORT_NEWEST,
    SORT_OLDEST,
    STATE_ALL,
    STATE_HANDLED,
    STATE_WAITING,
)


class PathFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        strip=True,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email or company", "autocomplete": "off"}
        ),
    )
    reason = forms.ChoiceField(label="Why here", required=False)
    state = forms.ChoiceField(
        label="Show",
        required=False,
        choices=(
            (STATE_WAITING, "Waiting"),
            (STATE_HANDLED, "Handled"),
            (STATE_ALL, "Waiting and handled"),
        ),
    )
    sort = forms.ChoiceField(
        label="Order",
        required=False,
        choices=((SORT_NEWEST, "Newest first"), (SORT_OLDEST, "Oldest first")),
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, reasons: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reason = self.fields["reason"]
        assert isinstance(reason, forms.ChoiceField)
        reason.choices = [("", "Any rule"), *reasons]

    def value(self, name: str, default: Any = None) -> Any:
        """The cleaned value of a field, or `default` when it was missing or invalid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        found = self.cleaned_data.get(name)
        return default if found in (None, "") else found

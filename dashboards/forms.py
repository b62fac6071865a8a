"""Forms of the SDR pages: query parameters (queue filters, chart ranges) and feedback.

Query-parameter forms never make a page fail: a bad value is reported beside the filters and
that one filter is left unset (`cleaned_data` keeps only the valid fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from scoring.models import FeedbackReason, FeedbackVerdict

SLA_OVERDUE = "overdue"
SLA_DUE_SOON = "due_soon"
SORT_PRIORITY = "priority"
SORT_SLA = "sla"
SORT_NEWEST = "newest"

WEEK_CHOICES = ((8, "8 weeks"), (16, "16 weeks"), (26, "26 weeks"), (52, "52 weeks"))
DEFAULT_WEEKS = 16


class QueueFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        strip=True,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email or company", "autocomplete": "off"}
        ),
    )
    sla = forms.ChoiceField(
        label="SLA",
        required=False,
        choices=(("", "Any"), (SLA_OVERDUE, "Overdue"), (SLA_DUE_SOON, "Due within the hour")),
    )
    account = forms.TypedChoiceField(label="Account", required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(
        label="Order",
        required=False,
        choices=(
            (SORT_PRIORITY, "Priority"),
            (SORT_SLA, "SLA due first"),
            (SORT_NEWEST, "Newest first"),
        ),
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        accounts: Sequence[tuple[int, str]] = (),
        reps: Sequence[tuple[int, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        account_field = self.fields["account"]
        assert isinstance(account_field, forms.TypedChoiceField)
        account_field.choices = [("", "All accounts"), *accounts]
        # Only people who may look at other reps' queues get the rep picker; for everyone else
        # a `rep` parameter is not a field, so it is ignored rather than obeyed.
        if reps is not None:
            self.fields["rep"] = forms.TypedChoiceField(
                label="Rep",
                required=False,
                coerce=int,
                empty_value=None,
                choices=[("", "All reps"), *reps],
            )

    def value(self, name: str, default: Any = None) -> Any:
        """The cleaned value of a field, or `default` when it was missing or invalid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        found = self.cleaned_data.get(name)
        return default if found in (None, "") else found


class RepParamForm(forms.Form):
    """The queue's `rep` parameter alone: whose queue to show decides the other choices."""

    rep = forms.IntegerField(required=False, min_value=1)

    def rep_id(self) -> int | None:
        if not self.is_valid():
            return None
        value = self.cleaned_data.get("rep")
        return int(value) if value is not None else None


class WeeksForm(forms.Form):
    """How many weeks a chart looks back."""

    weeks = forms.TypedChoiceField(
        label="Show", required=False, coerce=int, choices=WEEK_CHOICES, empty_value=None
    )

    def weeks_or_default(self) -> int:
        if not self.is_valid():
            return DEFAULT_WEEKS
        value = self.cleaned_data.get("weeks")
        return int(value) if value else DEFAULT_WEEKS


class FeedbackForm(forms.Form):
    verdict = forms.ChoiceField(
        label="Verdict", choices=FeedbackVerdict.choices, widget=forms.RadioSelect
    )
    reason = forms.ChoiceField(
        label="Reason", choices=[("", "Choose a reason"), *FeedbackReason.choices]
    )
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What did you learn? (optional)"}),
    )
    # With "Not buying now": the day the lead resurfaces (blank: the timing trigger's default,
    # 90 days; the service checks it, scoring.feedback_revisit).
    revisit_on = forms.DateField(
        label="Revisit on",
        required=False,
        help_text="“Not buying now” only: when to hear again (blank: in 90 days).",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    # The assessment the rep was looking at: the label belongs to it, not to a newer one that
    # a re-qualification wrote while the page was open.
    qualification_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("verdict") == FeedbackVerdict.REJECT
            and cleaned.get("reason") == FeedbackReason.GOOD_FIT
        ):
            self.add_error("reason", "A rejection needs a reason other than “good fit”.")
        return cleaned

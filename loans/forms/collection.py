"""Forms for the collection day: they clean and convert amounts and dates; services do the rest."""


from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.forms.fields import CollectedAmountField, WorkingDayConfirmation
from organizations.forms import BusinessDateField
from organizations.models import SavingsGroup


class CollectionSheetCreateForm(WorkingDayConfirmation, forms.Form):
    working_day_field = "collection_on"

    group = forms.ModelChoiceField(label=_("Group"), queryset=SavingsGroup.objects.none())
    collection_on = BusinessDateField(label=_("Collection day"), help_text=_("dd/mm/yyyy"))

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups.filter(status=SavingsGroup.Status.ACTIVE).order_by("code")
        self.fields["group"].label_from_instance = lambda g: f"{g.code} – {g.name}"
        self.fields["collection_on"].initial = timezone.localdate()
        self.fields["collection_on"].widget.attrs.update({"placeholder": "dd/mm/yyyy", "inputmode": "numeric"})
        self.add_working_day_confirmation()

    def clean(self):
        data = super().clean()
        self.check_working_day(data)
        return data


class CollectionEntryForm(forms.Form):
    """One page for the whole sheet: per line, paid towards loans, savings deposit, savings withdrawal."""

    COLUMNS = ("paid", "savings_in", "savings_out")

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"paid_{line.pk}"] = CollectedAmountField(label=_("Paid towards loans"), initial=line.amount_paid or "")
            self.fields[f"savings_in_{line.pk}"] = CollectedAmountField(
                label=_("Savings deposit"), initial=line.savings_in or ""
            )
            self.fields[f"savings_out_{line.pk}"] = CollectedAmountField(
                label=_("Savings withdrawal"), initial=line.savings_out or ""
            )

    def rows(self):
        """(line, paid field, deposit field, withdrawal field) for the template."""
        return [(line, *(self[f"{column}_{line.pk}"] for column in self.COLUMNS)) for line in self.lines]

    def entries(self):
        data = self.cleaned_data
        return {line.pk: tuple(data[f"{column}_{line.pk}"] for column in self.COLUMNS) for line in self.lines}


class ReversalForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the reversal"),
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. amount entered for the wrong household")}),
    )


class ConfirmedReversalForm(ReversalForm):
    """Reversing one posting is asked twice: a reason, and a box ticked to confirm."""

    confirm = forms.BooleanField(
        label=_("Yes, ask for this posting to be reversed"),
        error_messages={"required": _("Tick the box to confirm the reversal.")},
    )


class ReversalDecisionForm(forms.Form):
    """District staff's decision on a reversal request: no decision preselected; a refusal says why."""

    APPROVE, REJECT = "approve", "reject"
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(APPROVE, _("Approve the reversal")), (REJECT, _("Refuse"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose approve or refuse.")},
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == self.REJECT and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", _("Say why the reversal is refused."))
        return cleaned


class CorrectionForm(forms.Form):
    """The right amounts for a reversed row, as they should have been entered on the collection day."""

    amount_paid = CollectedAmountField(label=_("Paid towards loans"))
    savings_in = CollectedAmountField(label=_("Savings deposit"))
    savings_out = CollectedAmountField(label=_("Savings withdrawal"))

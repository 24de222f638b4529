"""Forms for the collection day: they clean and convert amounts and dates; services do the rest."""


from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.forms.fields import CollectedAmountField, WorkingDayConfirmation
from loans.money import format_vnd
from loans.services.collection import Entry
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
    """One page for the whole sheet: per line, paid towards loans, savings deposit, savings withdrawal, and the row's
    version as the page showed it. A row whose three boxes are all empty is not entered; "0" is "paid nothing"."""

    COLUMNS = ("paid", "savings_in", "savings_out")
    LABELS = (_("Paid towards loans"), _("Savings deposit"), _("Savings withdrawal"))

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            # As the officer would type them (1.500.000); an entered "paid nothing" row shows its zeros.
            shown = ([format_vnd(v, symbol=False) for v in (line.amount_paid, line.savings_in, line.savings_out)]
                     if line.is_entered else ("", "", ""))
            for column, label, value in zip(self.COLUMNS, self.LABELS, shown, strict=True):
                self.fields[f"{column}_{line.pk}"] = CollectedAmountField(label=label, initial=value)
            self.fields[f"version_{line.pk}"] = forms.IntegerField(
                required=False, min_value=0, initial=line.version, widget=forms.HiddenInput)

    def rows(self):
        """(line, paid field, deposit field, withdrawal field, version field) for the template."""
        return [
            (line, *(self[f"{column}_{line.pk}"] for column in (*self.COLUMNS, "version"))) for line in self.lines
        ]

    def _blank(self, line):
        return not any(str(self.data.get(self.add_prefix(f"{column}_{line.pk}"), "")).strip()
                       for column in self.COLUMNS)

    def entries(self):
        data = self.cleaned_data
        return {
            line.pk: Entry(*(data[f"{column}_{line.pk}"] for column in self.COLUMNS), blank=self._blank(line),
                           version=data.get(f"version_{line.pk}"))
            for line in self.lines
        }

    def add_row_problems(self, problems):
        """Put a refusal's row errors under their fields; a row changed meanwhile gets its new version, so that
        sending the form again keeps this officer's amounts on purpose."""
        for line_pk, errors in problems.row_errors.items():
            for column, message in errors:
                self.add_error(f"{column}_{line_pk}", message)
        for line_pk, line in problems.conflicts.items():
            self.data = self.data.copy()
            self.data[self.add_prefix(f"version_{line_pk}")] = str(line.version)


class RowEntryForm(forms.Form):
    """One row of the sheet, saved as the officer leaves it (the page's script, or the "paid nothing" button)."""

    paid = CollectedAmountField(label=_("Paid towards loans"))
    savings_in = CollectedAmountField(label=_("Savings deposit"))
    savings_out = CollectedAmountField(label=_("Savings withdrawal"))
    version = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    nothing = forms.BooleanField(required=False, label=_("Paid nothing"))

    def entry(self):
        data = self.cleaned_data
        if data["nothing"]:
            return Entry(0, 0, 0, version=data["version"])
        blank = not any(str(self.data.get(name, "")).strip() for name in CollectionEntryForm.COLUMNS)
        return Entry(data["paid"], data["savings_in"], data["savings_out"], blank=blank, version=data["version"])


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

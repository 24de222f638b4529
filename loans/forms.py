"""Forms for changes to a loan and loan-use checks: they clean and convert; services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from loans.models import LoanChange, LoanUseCheck
from loans.money import format_vnd

DATE_WIDGET = forms.DateInput(format="%d/%m/%Y", attrs={"placeholder": "dd/mm/yyyy", "inputmode": "numeric"})


class LoanChangeRequestForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args, kind, instalments=(), months_max=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == LoanChange.Kind.TERM_ADJUSTMENT:
            self.fields["instalment"] = forms.TypedChoiceField(
                label=_("Instalment to move"),
                coerce=int,
                choices=[("", "---------")]
                + [(i.pk, f"{i.seq}. {i.due_on:%d/%m/%Y} – {format_vnd(i.principal)}") for i in instalments],
            )
            self.fields["new_due_on"] = forms.DateField(label=_("New due date"), widget=DATE_WIDGET)
        elif kind in (LoanChange.Kind.EXTENSION, LoanChange.Kind.FREEZE):
            self.fields["months"] = forms.IntegerField(
                label=_("Months"), min_value=1, max_value=months_max, widget=forms.NumberInput(attrs={"min": 1})
            )
        self.order_fields(["instalment", "new_due_on", "months", "reason"])


class LoanChangeDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(label=_("Note (required to reject)"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class LoanUseCheckForm(forms.Form):
    checked_on = forms.DateField(label=_("Checked on"), widget=DATE_WIDGET)
    result = forms.ChoiceField(label=_("Result"), choices=LoanUseCheck.Result.choices, widget=forms.RadioSelect)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class GroupInspectionForm(forms.Form):
    inspected_on = forms.DateField(label=_("Inspected on"), widget=DATE_WIDGET)
    findings = forms.CharField(label=_("Findings"), required=False, max_length=4000,
                               widget=forms.Textarea(attrs={"rows": 4}))


class MonthForm(forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%m/%Y"], required=False,
                            widget=forms.DateInput(format="%m/%Y", attrs={"placeholder": "mm/yyyy"}))

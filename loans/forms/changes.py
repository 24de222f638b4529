"""Forms for loan changes: 08/TD term adjustment, extension, freeze and write-off."""


from django import forms
from django.utils.translation import gettext_lazy as _

from loans.models import LoanChange
from loans.money import format_vnd
from organizations.forms import BusinessDateField


class LoanChangeRequestForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args, kind, instalments=(), months_max=None, months_min=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == LoanChange.Kind.TERM_ADJUSTMENT:
            self.fields["instalment"] = forms.TypedChoiceField(
                label=_("Instalment to move"),
                coerce=int,
                choices=[("", "---------")]
                + [(i.pk, f"{i.seq}. {i.due_on:%d/%m/%Y} – {format_vnd(i.principal)}") for i in instalments],
            )
            self.fields["new_due_on"] = BusinessDateField(label=_("New due date"), future_days=None)
        elif kind in (LoanChange.Kind.EXTENSION, LoanChange.Kind.FREEZE):
            self.fields["months"] = forms.IntegerField(
                label=_("Months"), min_value=months_min, max_value=months_max,
                widget=forms.NumberInput(attrs={"min": months_min, "max": months_max}),
                help_text=_("From %(min)s to %(max)s months.") % {"min": months_min, "max": months_max}
                if months_max else "",
            )
        self.order_fields(["instalment", "new_due_on", "months", "reason"])


class LoanChangeDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(label=_("Note (required to reject)"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

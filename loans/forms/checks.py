"""Forms for loan-use checks (06/TD) and group inspections (16/TD)."""


from django import forms
from django.utils.translation import gettext_lazy as _

from loans.models import LoanUseCheck
from organizations.forms import BusinessDateField


class LoanUseCheckForm(forms.Form):
    checked_on = BusinessDateField(label=_("Checked on"))
    result = forms.ChoiceField(label=_("Result"), choices=LoanUseCheck.Result.choices, widget=forms.RadioSelect)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class GroupInspectionForm(forms.Form):
    inspected_on = BusinessDateField(label=_("Inspected on"))
    findings = forms.CharField(label=_("Findings"), required=False, max_length=4000,
                               widget=forms.Textarea(attrs={"rows": 4}))

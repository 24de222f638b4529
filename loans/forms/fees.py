"""The month chooser of the fee statements."""


from django import forms
from django.utils.translation import gettext_lazy as _

from organizations.dates import date_window_error


class MonthForm(forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%m/%Y"], required=False,
                            widget=forms.DateInput(format="%m/%Y", attrs={"placeholder": "mm/yyyy"}))

    def clean_month(self):
        month = self.cleaned_data["month"]
        message = month and date_window_error(month, future_days=None)
        if message:
            raise forms.ValidationError(message)
        return month

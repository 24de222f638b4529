"""The month chooser of the fee statements."""


from django import forms
from django.utils.translation import gettext_lazy as _


class MonthForm(forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%m/%Y"], required=False,
                            widget=forms.DateInput(format="%m/%Y", attrs={"placeholder": "mm/yyyy"}))


"""Forms of the loans app: validate and convert, never save business state."""

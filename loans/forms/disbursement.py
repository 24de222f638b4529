"""The disbursement day form: one date, then the terms of each approved request."""


from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.forms.fields import LOAN_CEILING, AmountField, MarkedBoundField, WorkingDayConfirmation
from loans.models import Loan
from loans.services.disbursement import disbursement_refusals, repeated_loan_numbers
from organizations.codes import DigitCodeField
from organizations.forms import BusinessDateField


class DisbursementDayForm(WorkingDayConfirmation, forms.Form):
    """A transaction day: one date, then per approved request whether to disburse it and the loan's terms."""

    bound_field_class = MarkedBoundField

    on = BusinessDateField(label=_("Disbursement date"), attrs={"class": "form-control"})

    def __init__(self, *args, applications, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = timezone.localdate()
        self.add_working_day_confirmation()
        self.applications = list(applications)
        for application in self.applications:
            pk = application.pk
            self.fields[f"pick_{pk}"] = forms.BooleanField(
                required=False, label=_("Disburse"), widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
            )
            self.fields[f"loan_number_{pk}"] = DigitCodeField(
                required=False, max_length=16, label=_("Loan number"),
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "inputmode": "numeric",
                                              "placeholder": "16 chữ số", "maxlength": "16"}),
            )
            self.fields[f"amount_{pk}"] = AmountField(
                required=False, max_value=LOAN_CEILING, initial=application.amount_approved
            )
            self.fields[f"amount_{pk}"].widget.attrs["class"] = "form-control form-control-sm text-end"
            self.fields[f"term_{pk}"] = forms.IntegerField(
                required=False, min_value=1, max_value=600, initial=application.term_months,
                widget=forms.NumberInput(attrs={"class": "form-control form-control-sm", "style": "width:5.5rem"}),
            )
            self.fields[f"frequency_{pk}"] = forms.TypedChoiceField(
                choices=Loan.Frequency.choices, coerce=int, initial=Loan.Frequency.QUARTERLY, required=False,
                empty_value=None,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )

    def rows(self):
        return [
            {
                "application": a,
                "pick": self[f"pick_{a.pk}"],
                "loan_number": self[f"loan_number_{a.pk}"],
                "amount": self[f"amount_{a.pk}"],
                "term": self[f"term_{a.pk}"],
                "frequency": self[f"frequency_{a.pk}"],
            }
            for a in self.applications
        ]

    FIELD_NAMES = {"loan_number": "loan_number", "amount": "amount", "term_months": "term", "frequency": "frequency"}

    def clean(self):
        data = super().clean()
        self.check_working_day(data)
        self.items = []
        for application in self.applications:
            pk = application.pk
            if not data.get(f"pick_{pk}"):
                continue
            missing = False
            for name in ("loan_number", "amount", "term", "frequency"):
                if data.get(f"{name}_{pk}") in (None, ""):
                    if f"{name}_{pk}" not in self.errors:  # a value that did not parse already says why
                        self.add_error(f"{name}_{pk}", _("Required for a disbursement."))
                    missing = True
            if missing:
                continue
            item = {
                "application": application,
                "loan_number": data[f"loan_number_{pk}"],
                "amount": data[f"amount_{pk}"],
                "term_months": data[f"term_{pk}"],
                "frequency": data[f"frequency_{pk}"],
            }
            self.items.append(item)
            # The rule loan_disburse applies, here for every row at once so that one submit shows every refusal.
            refusals = disbursement_refusals(
                application=application, loan_number=item["loan_number"], amount=item["amount"],
                term_months=item["term_months"],
            )
            for field, message in refusals.items():
                self.add_error(f"{self.FIELD_NAMES[field]}_{pk}", message)
        repeated = repeated_loan_numbers([item["loan_number"] for item in self.items])
        for index, message in repeated.items():
            self.add_error(f"loan_number_{self.items[index]['application'].pk}", message)
        if not self.errors and not self.items:
            raise forms.ValidationError(_("Tick at least one request to disburse."))
        return data

    def error_summary_label(self, name):
        """Names the row's household in the page's error summary (templates/includes/error_summary.html)."""
        pk = name.rpartition("_")[2]
        application = next((a for a in self.applications if str(a.pk) == pk), None)
        return application.household.head_name if application is not None else ""

    def add_service_error(self, error):
        """Put a loans_disburse refusal ("<index>-<field>") on the row and field it concerns."""
        index, _sep, field = (error.field or "").partition("-")
        if index.isdigit() and int(index) < len(self.items):
            pk = self.items[int(index)]["application"].pk
            name = self.FIELD_NAMES.get(field)
            if field == "on":
                self.add_error("on", error.message)
                return
            if name:
                self.add_error(f"{name}_{pk}", error.message)
                return
        self.add_error(None, error.message)

"""Forms for requests (01/TD), the review meeting (10A/TD) and the ward certification of list 03/TD."""


from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.forms.fields import LOAN_CEILING, AmountField, ProgramChoiceField
from loans.models import LoanProgram
from loans.money import format_vnd
from loans.services.requests import application_refusals
from organizations.forms import BusinessDateField


class ApplicationForm(forms.Form):
    program = ProgramChoiceField(label=_("Loan program"), queryset=LoanProgram.objects.filter(is_active=True))
    amount = AmountField(label=_("Amount requested (₫)"), max_value=LOAN_CEILING)
    term_months = forms.IntegerField(label=_("Term (months)"), min_value=1, max_value=600)
    purpose = forms.CharField(label=_("Purpose"), max_length=300,
                              help_text=_("E.g. raising pigs, a small shop, clean water works."))
    planned_use = forms.CharField(
        label=_("Planned use of the money"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the household will buy, and how much each item costs."),
    )

    def __init__(self, *args, household=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.household = household

    def clean(self):
        # The program's rules for this household are checked here with the rule the service applies again when the
        # request is recorded (application_refusals), so that every refusal shows on the first submit.
        data = super().clean()
        program = data.get("program")
        if program is None:
            return data
        amount, term_months = data.get("amount"), data.get("term_months")
        if self.household is None:
            refusals = program.request_limit_errors(amount=amount, term_months=term_months).items()
        else:
            refusals = application_refusals(
                household=self.household, program=program, amount=amount, term_months=term_months
            )
        for field, message in refusals:
            self.add_error(field, message)
        return data


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason for withdrawing"), max_length=500)


class MeetingForm(forms.Form):
    held_on = BusinessDateField(label=_("Meeting date"))
    attendee_count = forms.IntegerField(
        label=_("Households attending"), min_value=1, max_value=60,
        error_messages={"required": _("Give the number of households that attended."),
                        "min_value": _("At least one household attends a review meeting.")},
    )
    attendees = forms.CharField(
        label=_("Who attended"), widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Names of the people present, separated by commas."),
        error_messages={"required": _("List who attended the meeting.")},
    )
    neighbourhood_head = forms.CharField(label=_("Neighbourhood head present"), max_length=200)
    branch_officer = forms.CharField(
        label=_("Ward branch officer present"), max_length=200,
        error_messages={"required": _("Name the ward branch officer who attended the meeting.")},
    )
    note = forms.CharField(label=_("Other notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # Shown only after the service warned that too few households attended (see the template).
    confirm_low_attendance = forms.BooleanField(
        label=_("Record the meeting although fewer households attended than the group's rules ask"), required=False,
    )

    # The order of the page (loans/meeting_form.html), so that the error summary lists the errors as they appear.
    field_order = ["held_on", "attendee_count", "neighbourhood_head", "branch_officer", "attendees", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["held_on"].initial = timezone.localdate()


class ReviewDecisionForm(forms.Form):
    """The outcome for one request, with the prefix r<application id>."""

    DECISIONS = [("approve", _("Approve")), ("reject", _("Reject")), ("defer", _("Not decided today"))]

    # Nothing is preselected (as on the district's approval page): the meeting states each outcome, and the
    # approved amount is typed, with the requested amount shown beside it.
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=DECISIONS,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": _("Choose approve, reject or not decided today for this request.")},
    )
    amount = AmountField(label=_("Approved amount (₫)"), required=False, max_value=LOAN_CEILING)
    reason = forms.CharField(label=_("Reason for rejection"), max_length=500, required=False)

    def __init__(self, *args, application, **kwargs):
        super().__init__(*args, prefix=f"r{application.pk}", **kwargs)
        self.application = application
        self.fields["amount"].widget.attrs["placeholder"] = format_vnd(application.amount_requested, symbol=False)
        self.fields["amount"].help_text = _("Requested: %(amount)s") % {
            "amount": format_vnd(application.amount_requested)
        }

    def error_summary_label(self, name):
        """Names the row's household in the page's error summary (templates/includes/error_summary.html)."""
        return self.application.household.head_name

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision == "approve":
            amount = data.get("amount")
            if amount is None and "amount" not in self.errors:
                self.add_error("amount", _("Give the approved amount."))
            elif amount is not None and amount > self.application.amount_requested:
                self.add_error("amount", _("The approved amount cannot exceed the amount requested."))
        if decision == "reject" and not data.get("reason", "").strip():
            self.add_error("reason", _("A rejection needs a reason."))
        return data


class CertifyForm(forms.Form):
    certified_on = BusinessDateField(label=_("Certified on"))
    signer = forms.CharField(label=_("Signed by"), max_length=200,
                             help_text=_("Name and title of who signed for the ward People's Committee."))
    reference = forms.CharField(label=_("Reference number"), max_length=50)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["certified_on"].initial = timezone.localdate()


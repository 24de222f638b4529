"""Forms for capital allocations, district approval and disbursement: they clean and convert, services decide."""

import re
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models import CapitalAllocation, Loan, LoanProgram


class AmountField(forms.CharField):
    """A whole-đồng amount typed the Vietnamese way: "30.000.000", "30000000" or "30 000 000"."""

    default_error_messages = {"invalid": _("Enter an amount in whole đồng, e.g. 30.000.000.")}

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "class": "form-control text-end", "autocomplete": "off",
                      "maxlength": "22"})
        return attrs

    def prepare_value(self, value):
        if isinstance(value, (int, Decimal)):
            return f"{int(value):,}".replace(",", ".")
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        text = re.sub(r"[\s.,₫đ]", "", value.replace("đồng", ""))
        if not text.isdigit() or len(text) > 18:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        amount = Decimal(text)
        if amount <= 0:
            raise forms.ValidationError(_("Enter an amount greater than zero."), code="min_value")
        return amount


def _date_field(**kwargs):
    return forms.DateField(
        input_formats=["%d/%m/%Y", "%Y-%m-%d"],
        widget=forms.DateInput(format="%d/%m/%Y", attrs={"class": "form-control", "placeholder": "dd/mm/yyyy"}),
        **kwargs,
    )


class CapitalPlanForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=None, label=_("District organization"))
    program = forms.ModelChoiceField(queryset=LoanProgram.objects.filter(is_active=True), label=_("Program"))
    year = forms.IntegerField(label=_("Plan year"), min_value=2000, max_value=2100)
    amount = AmountField(label=_("District total (đồng)"))
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        if organizations.count() == 1:
            self.fields["organization"].initial = organizations.first()
        self.fields["year"].initial = timezone.localdate().year


class AllocationProposalForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=None, label=_("Capital plan"))
    branch = forms.ModelChoiceField(queryset=None, label=_("Ward branch"))
    amount = AmountField(label=_("Amount needed (đồng)"))
    note = forms.CharField(
        label=_("Grounds"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )

    def __init__(self, *args, plans, branches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
        self.fields["branch"].queryset = branches
        self.fields["amount"].required = False
        if len(branches) == 1:
            self.fields["branch"].initial = branches[0].pk

    def clean(self):
        data = super().clean()
        plan, branch = data.get("plan"), data.get("branch")
        if plan and branch and branch.parent_id != plan.organization_id:
            self.add_error("branch", _("This branch does not belong to the plan's organization."))
        if not self.errors and not data.get("amount") and "submit" in self.data:
            self.add_error("amount", _("Enter the amount the branch needs."))
        return data


class AllocationDecisionForm(forms.Form):
    DECISIONS = [("approve", _("Approve")), ("reject", _("Reject"))]

    decision = forms.ChoiceField(choices=DECISIONS, label=_("Decision"), widget=forms.RadioSelect)
    amount = AmountField(label=_("Approved amount (đồng)"), required=False,
                         help_text=_("Leave as proposed, or lower it to cut the proposal."))
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        help_text=_("Required for a cut or a rejection."),
    )


class AdjustmentForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Take capital from"),
        empty_label=_("— the district's unallocated capital —"),
    )
    target = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Give capital to"),
        empty_label=_("— back to the district's unallocated capital —"),
    )
    amount = AmountField(label=_("Amount (đồng)"))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}))

    def __init__(self, *args, allocations, **kwargs):
        super().__init__(*args, **kwargs)
        allocations = allocations.filter(status=CapitalAllocation.Status.APPROVED)
        for name in ("source", "target"):
            self.fields[name].queryset = allocations
            self.fields[name].label_from_instance = lambda a: (
                f"{a.plan.year} · {a.plan.program.code} · {a.branch}"
            )


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason for rejection"), max_length=1000)


class ApproveForm(forms.Form):
    amount = AmountField(label=_("Approved amount (đồng)"))


class ListDecisionForm(forms.Form):
    """One decision per pending request of a 03/TD list: approve at an amount, or reject with a reason."""

    def __init__(self, *args, applications, **kwargs):
        super().__init__(*args, **kwargs)
        self.applications = list(applications)
        for application in self.applications:
            pk = application.pk
            self.fields[f"decision_{pk}"] = forms.ChoiceField(
                choices=[("approve", _("Approve")), ("reject", _("Reject")), ("later", _("Decide later"))],
                initial="approve",
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
            self.fields[f"amount_{pk}"] = AmountField(
                required=False, initial=application.amount_group_approved or application.amount_requested
            )
            self.fields[f"reason_{pk}"] = forms.CharField(
                required=False, max_length=1000,
                widget=forms.TextInput(
                    attrs={"class": "form-control form-control-sm", "placeholder": _("Reason, if rejected")}
                ),
            )

    def rows(self):
        return [
            (a, self[f"decision_{a.pk}"], self[f"amount_{a.pk}"], self[f"reason_{a.pk}"]) for a in self.applications
        ]

    def clean(self):
        data = super().clean()
        self.amounts, self.rejections = {}, {}
        for application in self.applications:
            pk = application.pk
            decision = data.get(f"decision_{pk}")
            if decision == "later":
                continue
            if decision == "reject":
                if not data.get(f"reason_{pk}"):
                    self.add_error(f"reason_{pk}", _("Give the reason for rejecting this request."))
                self.rejections[pk] = data.get(f"reason_{pk}")
            else:
                if not data.get(f"amount_{pk}"):
                    self.add_error(f"amount_{pk}", _("Enter the approved amount."))
                self.amounts[pk] = data.get(f"amount_{pk}")
        if not self.errors and not self.amounts and not self.rejections:
            raise forms.ValidationError(_("Approve or reject at least one request."))
        return data


class DisbursementDayForm(forms.Form):
    """A transaction day: one date, then per approved request whether to disburse it and the loan's terms."""

    on = _date_field(label=_("Disbursement date"))

    def __init__(self, *args, applications, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = timezone.localdate()
        self.applications = list(applications)
        for application in self.applications:
            pk = application.pk
            self.fields[f"pick_{pk}"] = forms.BooleanField(
                required=False, label=_("Disburse"), widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
            )
            self.fields[f"loan_number_{pk}"] = forms.CharField(
                required=False, max_length=16, label=_("Loan number"),
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "inputmode": "numeric",
                                              "placeholder": "16 chữ số", "maxlength": "16"}),
            )
            self.fields[f"amount_{pk}"] = AmountField(required=False, initial=application.amount_approved)
            self.fields[f"amount_{pk}"].widget.attrs["class"] = "form-control form-control-sm text-end"
            self.fields[f"term_{pk}"] = forms.IntegerField(
                required=False, min_value=1, initial=application.term_months,
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
        self.items = []
        for application in self.applications:
            pk = application.pk
            if not data.get(f"pick_{pk}"):
                continue
            missing = False
            for name in ("loan_number", "amount", "term", "frequency"):
                if data.get(f"{name}_{pk}") in (None, ""):
                    self.add_error(f"{name}_{pk}", _("Required for a disbursement."))
                    missing = True
            if missing:
                continue
            self.items.append(
                {
                    "application": application,
                    "loan_number": data[f"loan_number_{pk}"],
                    "amount": data[f"amount_{pk}"],
                    "term_months": data[f"term_{pk}"],
                    "frequency": data[f"frequency_{pk}"],
                }
            )
        if not self.errors and not self.items:
            raise forms.ValidationError(_("Tick at least one request to disburse."))
        return data

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

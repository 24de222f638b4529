"""Forms for requests (01/TD), the review meeting (10A/TD) and the ward certification of list 03/TD."""

import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models import CapitalAllocation, ImportBatch, Loan, LoanChange, LoanProgram, LoanUseCheck
from loans.money import format_vnd
from organizations.access import Role, role_of
from organizations.forms import BusinessDateField
from organizations.models import Organization, SavingsGroup
from organizations.selectors.scope import wards_for


class AmountField(forms.CharField):
    """Whole đồng, typed as 30000000 or 30.000.000 (spaces and ₫ allowed)."""

    default_error_messages = {
        "invalid": _("Enter an amount in whole đồng, e.g. 30.000.000."),
        "not_positive": _("The amount must be more than zero."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "class": "text-end"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, (int, Decimal)):
            return f"{int(value):,}".replace(",", ".")
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        text = re.sub(r"[\s₫đ]", "", str(value), flags=re.IGNORECASE)
        if text.startswith("-"):
            raise forms.ValidationError(self.error_messages["not_positive"], code="not_positive")
        if not re.fullmatch(r"\d{1,3}(\.\d{3})+|\d+", text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        amount = Decimal(text.replace(".", ""))
        if amount <= 0:
            raise forms.ValidationError(self.error_messages["not_positive"], code="not_positive")
        return amount


class ProgramChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} – {obj.name}"


class ApplicationForm(forms.Form):
    program = ProgramChoiceField(label=_("Loan program"), queryset=LoanProgram.objects.filter(is_active=True))
    amount = AmountField(label=_("Amount requested (₫)"))
    term_months = forms.IntegerField(label=_("Term (months)"), min_value=1, max_value=600)
    purpose = forms.CharField(label=_("Purpose"), max_length=300,
                              help_text=_("E.g. raising pigs, a small shop, clean water works."))
    planned_use = forms.CharField(
        label=_("Planned use of the money"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the household will buy, and how much each item costs."),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason for withdrawing"), max_length=500)


class MeetingForm(forms.Form):
    held_on = BusinessDateField(label=_("Meeting date"))
    attendee_count = forms.IntegerField(label=_("Households attending"), min_value=0, max_value=60)
    attendees = forms.CharField(
        label=_("Who attended"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Names of the people present, separated by commas."),
    )
    neighbourhood_head = forms.CharField(label=_("Neighbourhood head present"), max_length=200)
    branch_officer = forms.CharField(label=_("Ward branch officer present"), max_length=200, required=False)
    note = forms.CharField(label=_("Other notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["held_on"].initial = timezone.localdate()


class ReviewDecisionForm(forms.Form):
    """The outcome for one request, with the prefix r<application id>."""

    DECISIONS = [("approve", _("Approve")), ("reject", _("Reject")), ("defer", _("Not decided today"))]

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=DECISIONS,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        initial="approve",
    )
    amount = AmountField(label=_("Approved amount (₫)"), required=False)
    reason = forms.CharField(label=_("Reason for rejection"), max_length=500, required=False)

    def __init__(self, *args, application, **kwargs):
        super().__init__(*args, prefix=f"r{application.pk}", **kwargs)
        self.application = application
        self.fields["amount"].initial = application.amount_requested

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


"""Forms for capital allocations, district approval and disbursement: they clean and convert, services decide."""


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

    on = BusinessDateField(label=_("Disbursement date"), attrs={"class": "form-control"})

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


"""Forms for the collection day: they clean and convert amounts and dates; services do the rest."""


def parse_amount(value):
    """'1.500.000', '1 500 000' or '1500000' -> Decimal('1500000'); blank -> 0."""
    text = str(value or "").strip().replace(".", "").replace(" ", "").replace("\u00a0", "").replace("₫", "")
    if text.endswith("đ"):
        text = text[:-1]
    if not text:
        return Decimal(0)
    if text.startswith("-"):
        raise forms.ValidationError(_("Amounts cannot be negative."), code="negative")
    if not text.isdigit():
        raise forms.ValidationError(_("Enter an amount in whole đồng, e.g. 1.500.000."), code="invalid")
    return Decimal(text)


class CollectedAmountField(AmountField):
    """An amount collected at the transaction point: blank or zero means nothing was paid."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"class": "form-control-sm text-end"}))
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        return attrs

    def to_python(self, value):
        return parse_amount(forms.CharField.to_python(self, value))


class CollectionSheetCreateForm(forms.Form):
    group = forms.ModelChoiceField(label=_("Group"), queryset=SavingsGroup.objects.none())
    collection_on = BusinessDateField(label=_("Collection day"), help_text=_("dd/mm/yyyy"))

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups.filter(status=SavingsGroup.Status.ACTIVE).order_by("code")
        self.fields["group"].label_from_instance = lambda g: f"{g.code} – {g.name}"
        self.fields["collection_on"].initial = timezone.localdate()
        self.fields["collection_on"].widget.attrs.update({"placeholder": "dd/mm/yyyy", "inputmode": "numeric"})


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


"""Forms for changes to a loan and loan-use checks: they clean and convert; services decide."""




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
            self.fields["new_due_on"] = BusinessDateField(label=_("New due date"))
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
    checked_on = BusinessDateField(label=_("Checked on"))
    result = forms.ChoiceField(label=_("Result"), choices=LoanUseCheck.Result.choices, widget=forms.RadioSelect)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class GroupInspectionForm(forms.Form):
    inspected_on = BusinessDateField(label=_("Inspected on"))
    findings = forms.CharField(label=_("Findings"), required=False, max_length=4000,
                               widget=forms.Textarea(attrs={"rows": 4}))


class MonthForm(forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%m/%Y"], required=False,
                            widget=forms.DateInput(format="%m/%Y", attrs={"placeholder": "mm/yyyy"}))


"""Forms of the loans app: validate and convert, never save business state."""


class BankFileUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("The file holds"), choices=ImportBatch.Kind.choices)
    file = forms.FileField(
        label=_("Bank spreadsheet"),
        help_text=_(".xlsx, .xls or .csv (UTF-8) as the bank sends it, title block and total row included."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s MB; files up to %(limit)s MB are accepted.")
                % {"size": round(upload.size / 1024 / 1024, 1), "limit": limit // (1024 * 1024)}
            )
        if not upload.name.lower().endswith((".xlsx", ".xlsm", ".xls", ".csv")):
            raise forms.ValidationError(_("Upload an .xlsx, .xls or .csv file."))
        return upload


"""Forms of the loans app: the date and scope every dashboard and report is drawn for."""


class ReportScopeForm(forms.Form):
    """As of which date, and optionally which organization and ward, within what the user may see."""

    on = BusinessDateField(label=_("As of"), required=False, attrs={"class": "form-control form-control-sm"})
    organization = forms.ChoiceField(
        label=_("Organization"), required=False, widget=forms.Select(attrs={"class": "form-select form-select-sm"})
    )
    ward = forms.ModelChoiceField(
        label=_("Ward"),
        queryset=None,
        required=False,
        empty_label=_("All wards"),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        kinds = [(k, label) for k, label in Organization.Kind.choices if k in Organization.MEMBER_KINDS]
        self.fields["organization"].choices = [("", _("All organizations")), *kinds]
        self.fields["ward"].queryset = wards_for(user)
        self.fields["on"].initial = timezone.localdate()
        role = role_of(user)
        # District staff and ward officers already see one organization; a ward officer one ward.
        self.show_organization = role in (Role.ADMIN, Role.FRONT_SUPERVISOR)
        self.show_ward = role != Role.WARD_OFFICER

    def clean_on(self):
        on = self.cleaned_data.get("on") or timezone.localdate()
        if on > timezone.localdate():
            raise forms.ValidationError(_("Reports can only be drawn up to today."))
        return on

    def scope(self):
        """(on, organization, ward id) from valid data; today and everything in scope otherwise."""
        if not self.is_valid():
            return timezone.localdate(), None, None
        ward = self.cleaned_data.get("ward")
        return self.cleaned_data["on"], self.cleaned_data.get("organization") or None, ward.pk if ward else None

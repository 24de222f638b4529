"""Forms for capital plans, ward allocations and transfers of capital."""


from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.forms.fields import CAPITAL_CEILING, AmountField
from loans.models import CapitalAllocation, LoanProgram
from organizations.area import area_label
from organizations.forms import MapChoiceField


class CapitalPlanForm(forms.Form):
    # The labels name the top level as configured (organizations.area); __init__ sets them.
    organization = forms.ModelChoiceField(queryset=None, label=_("Organization"))
    program = forms.ModelChoiceField(queryset=LoanProgram.objects.filter(is_active=True), label=_("Program"))
    year = forms.IntegerField(label=_("Plan year"), min_value=2000, max_value=2100)
    amount = AmountField(max_value=CAPITAL_CEILING, label=_("Amount (đồng)"))
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        area = area_label()
        self.fields["organization"].label = _("Organization at %(area)s") % {"area": area}
        self.fields["amount"].label = _("Total of %(area)s (đồng)") % {"area": area}
        self.fields["organization"].queryset = organizations
        if organizations.count() == 1:
            self.fields["organization"].initial = organizations.first()
        self.fields["year"].initial = timezone.localdate().year


class AllocationProposalForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=None, label=_("Capital plan"))
    branch = MapChoiceField(label=_("Ward branch"))
    amount = AmountField(max_value=CAPITAL_CEILING, label=_("Amount needed (đồng)"))
    note = forms.CharField(
        label=_("Grounds"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )

    def __init__(self, *args, plans, branches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
        self.fields["branch"].set_units(branches)
        self.fields["amount"].required = False
        if len(self.fields["branch"].queryset) == 1:
            self.fields["branch"].initial = self.fields["branch"].queryset[0].pk

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
    amount = AmountField(max_value=CAPITAL_CEILING, label=_("Approved amount (đồng)"), required=False,
                         help_text=_("Leave as proposed, or lower it to cut the proposal."))
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
        help_text=_("Required for a cut or a rejection."),
    )


class AdjustmentForm(forms.Form):
    # "No allocation" means the top level's unallocated capital; __init__ names it as configured.
    source = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Take capital from"),
    )
    target = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Give capital to"),
    )
    amount = AmountField(max_value=CAPITAL_CEILING, label=_("Amount (đồng)"))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}))

    def __init__(self, *args, allocations, **kwargs):
        super().__init__(*args, **kwargs)
        allocations = allocations.filter(status=CapitalAllocation.Status.APPROVED)
        area = area_label()
        self.fields["source"].empty_label = _("— the unallocated capital of %(area)s —") % {"area": area}
        self.fields["target"].empty_label = _("— back to the unallocated capital of %(area)s —") % {"area": area}
        for name in ("source", "target"):
            self.fields[name].queryset = allocations
            self.fields[name].label_from_instance = lambda a: (
                f"{a.plan.year} · {a.plan.program.code} · {a.branch}"
            )


class CapitalDecisionForm(forms.Form):
    """A checker's decision on a proposed district total or adjustment: approve, or reject with a reason."""

    DECISIONS = [("approve", _("Approve")), ("reject", _("Reject"))]

    decision = forms.ChoiceField(choices=DECISIONS, label=_("Decision"))
    reason = forms.CharField(label=_("Reason"), max_length=1000, required=False,
                             help_text=_("Required for a rejection."))

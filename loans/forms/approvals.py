"""Forms for the district's decision on requests and 03/TD lists."""


from django import forms
from django.utils.translation import gettext_lazy as _

from loans.forms.fields import LOAN_CEILING, AmountField, MarkedBoundField
from loans.services.approvals import amount_refusal


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason for rejection"), max_length=1000)


class ApproveForm(forms.Form):
    amount = AmountField(label=_("Approved amount (đồng)"), max_value=LOAN_CEILING)


class ListDecisionForm(forms.Form):
    """One decision per pending request of a 03/TD list: approve at an amount, or reject with a reason."""

    bound_field_class = MarkedBoundField

    def __init__(self, *args, applications, **kwargs):
        super().__init__(*args, **kwargs)
        self.applications = list(applications)
        for application in self.applications:
            pk = application.pk
            # No decision is preselected: the officer states one for every request, "decide later" included.
            self.fields[f"decision_{pk}"] = forms.ChoiceField(
                label=_("Decision"),
                choices=[("", _("– Choose –")), ("approve", _("Approve")), ("reject", _("Reject")),
                         ("later", _("Decide later"))],
                error_messages={"required": _("Choose approve, reject or decide later for this request.")},
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
            self.fields[f"amount_{pk}"] = AmountField(
                label=_("Approved amount (đồng)"),
                required=False, max_value=LOAN_CEILING,
                initial=application.amount_group_approved or application.amount_requested,
                widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "form-control form-control-sm text-end"}),
            )
            self.fields[f"reason_{pk}"] = forms.CharField(
                label=_("Reason for rejection"),
                required=False, max_length=1000,
                widget=forms.TextInput(
                    attrs={"class": "form-control form-control-sm", "placeholder": _("Reason, if rejected")}
                ),
            )

    def rows(self):
        return [
            (a, self[f"decision_{a.pk}"], self[f"amount_{a.pk}"], self[f"reason_{a.pk}"]) for a in self.applications
        ]

    def error_summary_label(self, name):
        """Names the row's household in the page's error summary (templates/includes/error_summary.html)."""
        pk = name.rpartition("_")[2]
        application = next((a for a in self.applications if str(a.pk) == pk), None)
        return application.household.head_name if application is not None else ""

    def clean(self):
        data = super().clean()
        self.amounts, self.rejections = {}, {}
        for application in self.applications:
            pk = application.pk
            decision = data.get(f"decision_{pk}")
            if decision in (None, "", "later"):  # None: not chosen, already reported on its field
                continue
            if decision == "reject":
                if not data.get(f"reason_{pk}"):
                    self.add_error(f"reason_{pk}", _("Give the reason for rejecting this request."))
                self.rejections[pk] = data.get(f"reason_{pk}")
            else:
                if not data.get(f"amount_{pk}"):
                    if f"amount_{pk}" not in self.errors:
                        self.add_error(f"amount_{pk}", _("Enter the approved amount."))
                elif refusal := amount_refusal(application=application, amount=data[f"amount_{pk}"]):
                    self.add_error(f"amount_{pk}", refusal)
                self.amounts[pk] = data.get(f"amount_{pk}")
        if not self.errors and not self.amounts and not self.rejections:
            raise forms.ValidationError(_("Approve or reject at least one request."))
        return data

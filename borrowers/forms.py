"""Forms for the household registry: they clean and convert; services save."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import Household, citizen_id_validator, customer_code_validator, mobile_validator
from organizations.codes import DigitCodeField
from organizations.forms import BusinessDateField
from organizations.models import Neighbourhood, SavingsGroup


class GroupChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} – {obj.name} ({obj.branch.ward.name})"


class HouseholdForm(forms.Form):
    head_name = forms.CharField(label=_("Head of household"), max_length=200)
    citizen_id = DigitCodeField(
        label=_("Citizen ID (CCCD)"),
        max_length=12,
        validators=[citizen_id_validator],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 12, "autocomplete": "off"}),
    )
    customer_code = DigitCodeField(
        label=_("Bank customer code"),
        max_length=10,
        required=False,
        validators=[customer_code_validator],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 10}),
        help_text=_("Leave empty until the bank gives one."),
    )
    birth_year = forms.IntegerField(label=_("Year of birth"), required=False, min_value=1900)
    phone = DigitCodeField(
        label=_("Mobile phone"),
        max_length=10,
        required=False,
        validators=[mobile_validator],
        widget=forms.TextInput(attrs={"inputmode": "tel", "maxlength": 10, "placeholder": "09xxxxxxxx"}),
    )
    address = forms.CharField(label=_("Address"), max_length=300)
    neighbourhood = forms.ModelChoiceField(
        label=_("Neighbourhood"), queryset=Neighbourhood.objects.none(), required=False
    )
    members = forms.IntegerField(label=_("Household members"), min_value=1, max_value=50, initial=1)
    policy_status = forms.ChoiceField(label=_("Policy status"), choices=Household.PolicyStatus.choices)
    policy_list_year = forms.IntegerField(
        label=_("Year of the ward's list"), required=False, min_value=2000,
        help_text=_("The year of the ward's poor or near-poor list that names the household."),
    )
    escaped_year = forms.IntegerField(
        label=_("Year it left the poor list"), required=False, min_value=2000,
        help_text=_("Only for newly escaped poverty."),
    )
    group = GroupChoiceField(label=_("Savings group"), queryset=SavingsGroup.objects.none())
    joined_on = BusinessDateField(label=_("Joined the group on"), required=False)

    def __init__(self, *args, groups, household=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.household = household
        if household is None:
            self.fields["group"].queryset = groups.filter(status=SavingsGroup.Status.ACTIVE).order_by("code")
            self.fields["neighbourhood"].queryset = Neighbourhood.objects.filter(
                ward__in=groups.values("branch__ward")
            ).select_related("ward")
            self.fields["joined_on"].initial = timezone.localdate()
        else:
            del self.fields["group"]
            del self.fields["joined_on"]
            self.fields["neighbourhood"].queryset = Neighbourhood.objects.filter(ward=household.ward_id)

    def clean_head_name(self):
        return " ".join(self.cleaned_data["head_name"].split())

    def clean(self):
        data = super().clean()
        status = data.get("policy_status")
        year = timezone.localdate().year
        if status and status != Household.PolicyStatus.NONE and not data.get("policy_list_year"):
            self.add_error("policy_list_year", _("Give the year of the ward's list for this policy status."))
        if status == Household.PolicyStatus.ESCAPED and not data.get("escaped_year"):
            self.add_error("escaped_year", _("Give the year the household left the poor list."))
        for name in ("policy_list_year", "escaped_year", "birth_year"):
            if data.get(name) and data[name] > year:
                self.add_error(name, _("The year cannot be in the future."))
        joined = data.get("joined_on")
        if joined and joined > timezone.localdate():
            self.add_error("joined_on", _("The date cannot be in the future."))
        return data


class HouseholdFilterForm(forms.Form):
    OUTSTANDING_CHOICES = [("", _("Any")), ("yes", _("Has an outstanding loan")), ("no", _("No outstanding loan"))]

    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Name, citizen ID or customer code"), "type": "search"}),
    )
    group = GroupChoiceField(label=_("Group"), queryset=SavingsGroup.objects.none(), required=False,
                             empty_label=_("All groups"))
    policy_status = forms.ChoiceField(
        label=_("Policy status"), required=False, choices=[("", _("All statuses")), *Household.PolicyStatus.choices]
    )
    outstanding = forms.ChoiceField(label=_("Outstanding loan"), required=False, choices=OUTSTANDING_CHOICES)

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups.order_by("code")


class HouseholdMoveForm(forms.Form):
    group = GroupChoiceField(label=_("New group"), queryset=SavingsGroup.objects.none())
    on = BusinessDateField(label=_("Date of the move"))
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args, household, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups.filter(
            branch=household.branch_id, status=SavingsGroup.Status.ACTIVE
        ).order_by("code")
        self.fields["on"].initial = timezone.localdate()

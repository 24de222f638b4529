"""Forms for the household registry: they clean and convert; services save."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers import identity
from borrowers.models import Household, customer_code_validator
from organizations.codes import DigitCodeField
from organizations.forms import BusinessDateField, MapChoiceField
from organizations.models import Neighbourhood, SavingsGroup
from organizations.pickers import SearchSelect


class TypedNumberField(forms.CharField):
    """A citizen ID or phone number as people type or paste it ("079 185.005-555"), stored as its digits.

    The field has no maximum length: a browser's maxlength would cut a pasted number with spaces short without a
    word. `stored` is the household's number on an edit: kept as it is even where it breaks the rule (it came from
    the bank's file or from before the rule), so that other changes can be saved; `check_identity_numbers` lists it.
    """

    def __init__(self, *, normalise, check, **kwargs):
        self.normalise, self.check, self.stored = normalise, check, None
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return self.normalise(value) if value else value

    def validate(self, value):
        super().validate(value)
        error = self.check(value) if value and value != self.stored else None
        if error is not None:
            raise error


class GroupChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} – {obj.name} ({obj.branch.ward.name})"


class HouseholdForm(forms.Form):
    head_name = forms.CharField(label=_("Head of household"), max_length=200)
    citizen_id = TypedNumberField(
        normalise=identity.normalise_citizen_id,
        check=identity.citizen_id_error,
        label=_("Citizen ID (CCCD)"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
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
    phone = TypedNumberField(
        normalise=identity.normalise_phone,
        check=identity.phone_error,
        label=_("Mobile phone"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "09xxxxxxxx"}),
    )
    address = forms.CharField(label=_("Address"), max_length=300)
    neighbourhood = MapChoiceField(label=_("Neighbourhood"), queryset=Neighbourhood.objects.none(), required=False)
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
            self.fields["neighbourhood"].set_units(
                Neighbourhood.objects.filter(ward__in=groups.values("branch__ward"))
            )
            self.fields["joined_on"].initial = timezone.localdate()
        else:
            del self.fields["group"]
            del self.fields["joined_on"]
            self.fields["neighbourhood"].set_units(Neighbourhood.objects.filter(ward=household.ward_id))
            self.fields["citizen_id"].stored = household.citizen_id
            self.fields["phone"].stored = household.phone

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
        self._check_birth_year(data)
        return data

    def _check_birth_year(self, data):
        """Digits 4-6 of the citizen ID agree with the year of birth when both are given (as Household.clean checks);
        a stored number kept although it breaks the rule is not compared."""
        citizen_id, birth_year = data.get("citizen_id"), data.get("birth_year")
        if not citizen_id or not birth_year or "citizen_id" in self.errors or "birth_year" in self.errors:
            return
        if identity.citizen_id_error(citizen_id) is None:
            error = identity.citizen_id_error(citizen_id, birth_year=birth_year)
            if error is not None:
                self.add_error("citizen_id", error)


WHOLE_NUMBERS = _("Citizen IDs and phone numbers are found by the whole number.")


class HouseholdFilterForm(forms.Form):
    OUTSTANDING_CHOICES = [("", _("Any")), ("yes", _("Has an outstanding loan")), ("no", _("No outstanding loan"))]

    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": _("Name, citizen ID, phone or customer code"), "type": "search"}
        ),
    )
    group = GroupChoiceField(label=_("Group"), queryset=SavingsGroup.objects.none(), required=False,
                             empty_label=_("All groups"), widget=SearchSelect("organizations:picker_groups"))
    policy_status = forms.ChoiceField(
        label=_("Policy status"), required=False, choices=[("", _("All statuses")), *Household.PolicyStatus.choices]
    )
    outstanding = forms.ChoiceField(label=_("Outstanding loan"), required=False, choices=OUTSTANDING_CHOICES)

    def __init__(self, *args, groups, whole_numbers=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups.order_by("code")
        if whole_numbers:  # for roles that see citizen IDs and phones masked (borrowers.selectors.number_match)
            self.fields["q"].help_text = WHOLE_NUMBERS


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

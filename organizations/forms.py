from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    username = forms.CharField(label=_("Username"), widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)


class BusinessDateField(forms.DateField):
    """A business date typed as dd/mm/yyyy."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.DateInput(format="%d/%m/%Y", attrs={"placeholder": "dd/mm/yyyy", "inputmode": "numeric"}),
        )
        kwargs.setdefault("input_formats", ["%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d"])
        kwargs.setdefault("error_messages", {"invalid": _("Enter a date as dd/mm/yyyy.")})
        super().__init__(**kwargs)


def apply_domain_error(form, error):
    """Show a DomainError on its field when the form has it, otherwise at the top of the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        group = getattr(obj, "current_group_code", None)
        return f"{obj.head_name} ({group})" if group else obj.head_name


class GroupForm(forms.Form):
    """Create or edit a savings group. Members are chosen on creation; later they move through the household page."""

    code = forms.RegexField(
        label=_("Group code"),
        regex=r"^\d{7}$",
        error_messages={"invalid": _("A group code has exactly 7 digits.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 7}),
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    branch = forms.ModelChoiceField(label=_("Organization's ward branch"), queryset=None)
    neighbourhood = forms.ModelChoiceField(label=_("Neighbourhood"), queryset=None, required=False)
    status = forms.ChoiceField(label=_("Status"))
    founded_on = BusinessDateField(label=_("Founded on"), required=False)
    members = MemberChoiceField(
        label=_("Member households"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Between 5 and 60 households for an active group. Households already in a group move over."),
    )
    leader = forms.ModelChoiceField(label=_("Leader"), queryset=None, required=False)
    deputy = forms.ModelChoiceField(label=_("Deputy"), queryset=None, required=False)

    def __init__(self, *args, user, group=None, **kwargs):
        from borrowers.selectors import households_for, with_current_group
        from organizations.models import Neighbourhood, SavingsGroup
        from organizations.selectors import branches_for

        super().__init__(*args, **kwargs)
        self.group = group
        self.fields["status"].choices = SavingsGroup.Status.choices
        branches = branches_for(user)
        self.fields["branch"].queryset = branches
        self.fields["neighbourhood"].queryset = Neighbourhood.objects.filter(
            ward__in=branches.values("ward")
        ).select_related("ward")
        if group is None:
            households = households_for(user).order_by("search_name", "pk")
            self.fields["members"].queryset = with_current_group(households)
            self.fields["leader"].queryset = households
            self.fields["deputy"].queryset = households
            if len(branches) == 1:
                self.fields["branch"].initial = branches[0]
                self.fields["branch"].widget = forms.HiddenInput()
        else:
            for name in ("code", "branch", "members"):
                del self.fields[name]
            self.fields["neighbourhood"].queryset = Neighbourhood.objects.filter(ward=group.branch.ward_id)
            members = households_for(user).filter(memberships__group=group, memberships__left_on__isnull=True)
            self.fields["leader"].queryset = members.order_by("search_name")
            self.fields["deputy"].queryset = members.order_by("search_name")


def refuse_out_of_scope(form):
    """A posted id outside the user's scope is a 404, as it would be in a URL, not a form error."""
    from django.http import Http404

    for name, errors in form.errors.as_data().items():
        field = form.fields.get(name)
        if isinstance(field, forms.ModelChoiceField) and any(
            error.code in ("invalid_choice", "invalid_pk_value", "invalid_list") for error in errors
        ):
            raise Http404

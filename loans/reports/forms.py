"""The scope of a report: date, organization, ward and the comparison options."""


from django import forms
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from organizations.access import Role, role_of
from organizations.forms import BusinessDateField, MapChoiceField
from organizations.models import Organization
from organizations.pickers import SearchSelect
from organizations.selectors.history import moved_after
from organizations.selectors.scope import wards_for


class ReportScopeForm(forms.Form):
    """As of which date, and optionally which organization and ward, within what the user may see."""

    on = BusinessDateField(label=_("As of"), required=False, future_days=None, attrs={"class": "form-control form-control-sm"})
    organization = forms.ChoiceField(
        label=_("Organization"), required=False, widget=forms.Select(attrs={"class": "form-select form-select-sm"})
    )
    ward = MapChoiceField(
        label=_("Ward"),
        queryset=None,
        required=False,
        empty_label=_("All wards"),
        widget=SearchSelect("organizations:picker_wards", attrs={"class": "form-select form-select-sm"}),
    )
    today_wards = forms.BooleanField(
        label=_("Show under today's wards"),
        required=False,
        help_text=_("For a date before a ward merger: the same figures, under the wards of today."),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        kinds = [(k, label) for k, label in Organization.Kind.choices if k in Organization.MEMBER_KINDS]
        self.fields["organization"].choices = [("", _("All organizations")), *kinds]
        # Today's wards; those merged away since the date asked for, too, under their own heading.
        asked = self._date_asked()
        self.fields["ward"].set_units(wards_for(user), on=asked)
        if asked is not None and asked < timezone.localdate():
            self.fields["ward"].widget.params["on"] = asked.isoformat()  # its suggestions include the old wards
        self.fields["on"].initial = timezone.localdate()
        role = role_of(user)
        # District staff and ward officers already see one organization; a ward officer one ward.
        self.show_organization = role in (Role.ADMIN, Role.FRONT_SUPERVISOR)
        self.show_ward = role != Role.WARD_OFFICER

    def _date_asked(self):
        """The valid date in the data, before the form is cleaned (None: today)."""
        try:
            return self.fields["on"].clean(self.data.get(self.add_prefix("on"))) if self.is_bound else None
        except forms.ValidationError:
            return None

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

    @cached_property
    def offers_today_wards(self):
        """The choice of today's wards is offered only for a date before a ward merger."""
        return moved_after(self.scope()[0])

    @property
    def mapped_to_today(self):
        """Whether to show a past date's figures under today's wards (after a merger) rather than that date's."""
        return self.is_valid() and self.cleaned_data.get("today_wards", False)

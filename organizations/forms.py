import unicodedata
from collections import Counter
from datetime import date

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import RegexValidator
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.selectors import households_for
from organizations.access import personal
from organizations.codes import DigitCodeField
from organizations.dates import date_window_error
from organizations.models import (
    Award,
    ChecklistItem,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    InspectionFinding,
    Neighbourhood,
    Organization,
    OutreachSession,
    TrainingClass,
    Ward,
)
from organizations.selectors.scope import branches_for, groups_for
from organizations.selectors.supervision import recording_units_for


class LoginForm(AuthenticationForm):
    username = forms.CharField(label=_("Username"), widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)


class BusinessDateField(forms.DateField):
    """A business date typed as dd/mm/yyyy: every date field of the app, so they all read and refuse alike.

    It must fall in the business window (organizations.dates): not before the records begin (`earliest`, default
    BUSINESS_DATE_EARLIEST) and at most `future_days` after today (0: not in the future; None: up to the far
    limit, for deadlines and due dates). `attrs` adds to the input's attributes (a CSS class, say)."""

    def __init__(self, *, attrs=None, future_days=0, earliest=None, **kwargs):
        self.future_days, self.earliest = future_days, earliest
        kwargs.setdefault(
            "widget",
            forms.DateInput(
                format="%d/%m/%Y",
                attrs={"placeholder": "dd/mm/yyyy", "inputmode": "numeric", "autocomplete": "off", **(attrs or {})},
            ),
        )
        kwargs.setdefault("input_formats", ["%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d"])
        kwargs.setdefault("error_messages", {"invalid": _("Enter a date as dd/mm/yyyy.")})
        super().__init__(**kwargs)

    def to_python(self, value):
        # Full-width or other Unicode digits (１５/０６/２０２６) read as the ASCII ones they stand for.
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
            if not value.isascii():
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def validate(self, value):
        super().validate(value)
        if value is not None:
            message = date_window_error(value, future_days=self.future_days, earliest=self.earliest)
            if message:
                raise forms.ValidationError(message, code="out_of_window")


def apply_domain_error(form, error):
    """Show a DomainError on its field when the form has it, otherwise at the top of the form; a refusal of several
    rules shows each one on its own field."""
    if len(error.errors) > 1:
        for field, message in error.errors:
            form.add_error(field if field in form.fields else None, message)
        return
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


# --- Pickers of wards, branches and neighbourhoods on today's map (after the 01/07/2025 ward mergers). ---


def _merged_on(unit):
    """The date a ward or ward branch was merged away (None while it is in being; neighbourhoods move, never merge)."""
    return getattr(unit, "merged_on", None)


def _unit_label(unit):
    return unit.label if isinstance(unit, Neighbourhood) else unit.name


def _unit_details(unit):
    """What tells two units of one name apart, in turn: a neighbourhood's ward, then any unit's code."""
    if isinstance(unit, Neighbourhood):
        return (unit.ward.name, unit.code)
    if isinstance(unit, Organization):
        return (unit.ward.code if unit.ward_id else str(unit.pk),)
    return (unit.code,)


def told_apart(units, labels):
    """The labels, each that repeats followed by what tells its units apart."""
    labels = list(labels)
    for depth in range(2):
        counts = Counter(labels)
        for i, unit in enumerate(units):
            details = _unit_details(unit)
            if counts[labels[i]] > 1 and depth < len(details):
                labels[i] = f"{labels[i]} – {details[depth]}"
    return labels


class _TodaysMap(forms.models.ModelChoiceIterator):
    """Today's units first; those merged away since the chosen date under one heading, each "Name (until …)"."""

    def _choices(self):
        units = list(self.queryset)
        for part in ([u for u in units if _merged_on(u) is None], [u for u in units if _merged_on(u) is not None]):
            labels = told_apart(part, (self.field.label_from_instance(unit) for unit in part))
            yield [(forms.models.ModelChoiceIteratorValue(self.field.prepare_value(unit), unit), label)
                   for unit, label in zip(part, labels, strict=True)]

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        today, former = self._choices()
        yield from today
        if former:
            yield (str(_("Before the ward mergers")), former)

    def __len__(self):
        return self.queryset.count() + (1 if self.field.empty_label is not None else 0)


class MapChoiceField(forms.ModelChoiceField):
    """A ward, ward-branch or neighbourhood picker that lists today's units, and, with `on` a past date, the units
    in being on that date that have been merged since (grouped and labelled with the date they ceased)."""

    iterator = _TodaysMap

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("queryset", Ward.objects.none())
        super().__init__(*args, **kwargs)

    def set_units(self, queryset, on=None):
        """Offer `queryset` (the user's scope) as of `on` (None: today)."""
        model = queryset.model
        if model is Neighbourhood:
            queryset = queryset.select_related("ward", "former_ward")
        elif model is Organization:
            queryset = queryset.select_related("ward")
        if model is Neighbourhood:
            self.queryset = queryset
            return
        in_being = Q(merged_on__isnull=True)
        if on is not None and on < timezone.localdate():
            in_being |= Q(merged_on__gt=on)
        self.queryset = queryset.filter(in_being)

    def label_from_instance(self, obj):
        label = _unit_label(obj)
        merged_on = _merged_on(obj)
        if merged_on:
            return _("%(ward)s (until %(date)s)") % {"ward": label, "date": merged_on.strftime("%d/%m/%Y")}
        return label


def todays_units(queryset):
    """[(unit, label)] of the units in being in `queryset`, for a plain filter select: as MapChoiceField offers."""
    field = MapChoiceField(empty_label=None)
    field.set_units(queryset)
    return [(value.instance, label) for value, label in field.choices]


class MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        group = getattr(obj, "current_group_code", None)
        return f"{obj.head_name} ({group})" if group else obj.head_name


class GroupForm(forms.Form):
    """Create or edit a savings group. Members are chosen on creation; later they move through the household page."""

    code = DigitCodeField(
        label=_("Group code"),
        validators=[RegexValidator(r"^[0-9]{7}$", _("A group code has exactly 7 digits."))],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 7}),
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    branch = MapChoiceField(label=_("Organization's ward branch"))
    neighbourhood = MapChoiceField(label=_("Neighbourhood"), required=False)
    status = forms.ChoiceField(label=_("Status"))
    founded_on = BusinessDateField(label=_("Founded on"), required=False, earliest=date(1990, 1, 1))
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
        from organizations.selectors.scope import branches_for

        super().__init__(*args, **kwargs)
        self.group = group
        self.fields["status"].choices = SavingsGroup.Status.choices
        branches = branches_for(user, in_being=True)
        self.fields["branch"].set_units(branches)
        self.fields["neighbourhood"].set_units(Neighbourhood.objects.filter(ward__in=branches.values("ward")))
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
            self.fields["neighbourhood"].set_units(Neighbourhood.objects.filter(ward=group.branch.ward_id))
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


# --- Supervision work: forms clean and convert; the services in organizations/services/supervision.py save. ---


class SupervisionFilterForm(forms.Form):
    """?year=&org= on every supervision list and the summary; with `wards`, ?ward= too (the inspections list)."""

    year = forms.TypedChoiceField(label=_("Year"), coerce=int, required=False)
    org = forms.ChoiceField(label=_("Organization"), required=False)

    def __init__(self, data=None, *, wards=None, **kwargs):
        super().__init__(data, **kwargs)
        this_year = timezone.localdate().year
        self.fields["year"].choices = [(y, str(y)) for y in range(this_year + 1, this_year - 6, -1)]
        self.fields["org"].choices = [("", _("All organizations")), *Organization.Kind.choices]
        if wards is not None:
            from organizations.pickers import SearchSelect

            self.fields["ward"] = MapChoiceField(
                label=_("Ward"), required=False, empty_label=_("All wards"),
                widget=SearchSelect("organizations:picker_wards", attrs={"class": "form-select form-select-sm"}),
            )
            # Today's wards; for an earlier year also those merged away since it began.
            year = self.data.get("year", "")
            start = date(int(year), 1, 1) if year.isdigit() and 1900 < int(year) <= this_year else None
            self.fields["ward"].set_units(wards, on=start)
            if start is not None and start < timezone.localdate():
                self.fields["ward"].widget.params["on"] = start.isoformat()

    def selected(self):
        """(year, kind); a malformed query falls back to this year and all organizations."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return data.get("year") or timezone.localdate().year, data.get("org") or ""

    def selected_ward(self):
        """The ward chosen, or None (none chosen, or one outside the user's wards)."""
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("ward")


class _GroupsByBranch(forms.models.ModelChoiceIterator):
    """Groups under one heading per ward branch, in ward order: a district has some 190 of them."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        branch, choices = None, []
        for group in self.queryset.select_related("branch__ward"):
            if branch is not None and group.branch_id != branch.pk:
                yield (str(branch), choices)
                choices = []
            branch = group.branch
            choices.append(self.choice(group))
        if choices:
            yield (str(branch), choices)


class GroupByBranchChoiceField(forms.ModelChoiceField):
    iterator = _GroupsByBranch

    def label_from_instance(self, obj):
        # The ward's name in the option too, so typing it in the search box finds the ward's groups.
        return f"{obj.code} – {obj.name} ({obj.branch.ward.name})"


class InspectionForm(forms.Form):
    inspected_on = BusinessDateField(label=_("Inspection date"))
    lead_unit = MapChoiceField(label=_("Leading unit"), queryset=Organization.objects.none())
    team_members = forms.CharField(
        label=_("Inspecting team"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Names and positions, e.g. “Trần Văn A – Phó Chủ tịch MTTQ (trưởng đoàn)”."),
    )
    inspected_group = GroupByBranchChoiceField(
        label=_("Inspected group"), queryset=Organization.objects.none(), required=False,
        widget=forms.Select(attrs={"data-filter": _("Type a group code, name or ward…")}),
    )
    inspected_branch = MapChoiceField(
        label=_("or inspected ward branch"), queryset=Organization.objects.none(), required=False
    )
    recommendations = forms.CharField(
        label=_("Recommendations"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    follow_up_status = forms.ChoiceField(label=_("Follow-up"), choices=Inspection.FollowUp.choices)
    follow_up_deadline = BusinessDateField(label=_("Follow-up deadline"), required=False, future_days=None)

    RESULT_CHOICES = [("", _("Not checked")), *InspectionFinding.Result.choices]

    def __init__(self, *args, user, instance=None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "inspected_on": instance.inspected_on,
                "lead_unit": instance.lead_unit_id,
                "team_members": instance.team_members,
                "inspected_group": instance.inspected_group_id,
                "inspected_branch": instance.inspected_branch_id,
                "recommendations": instance.recommendations,
                "follow_up_status": instance.follow_up_status,
                "follow_up_deadline": instance.follow_up_deadline,
            }
            for finding in instance.findings.all():
                kwargs["initial"][f"item_{finding.item_id}"] = finding.result
                kwargs["initial"][f"note_{finding.item_id}"] = finding.note
        super().__init__(*args, **kwargs)
        # A record of a past inspection keeps the units of its date (merged away since) on offer.
        on = instance.inspected_on if instance is not None else None
        self.fields["lead_unit"].set_units(recording_units_for(user), on=on)
        self.fields["inspected_group"].queryset = groups_for(user).order_by("branch__ward__code", "branch__kind", "code")
        self.fields["inspected_branch"].set_units(branches_for(user).order_by("ward__code", "kind"), on=on)
        self.items = list(ChecklistItem.objects.filter(is_active=True))
        for item in self.items:
            self.fields[f"item_{item.pk}"] = forms.ChoiceField(
                label=item.label,
                choices=self.RESULT_CHOICES,
                required=False,
                initial="",
                widget=forms.RadioSelect(attrs={"class": "btn-check"}),
            )
            self.fields[f"note_{item.pk}"] = forms.CharField(
                label=_("Note"), max_length=500, required=False
            )

    def main_fields(self):
        names = ("inspected_on", "lead_unit", "team_members", "inspected_group", "inspected_branch")
        return [self[name] for name in names]

    def follow_up_fields(self):
        return [self[name] for name in ("recommendations", "follow_up_status", "follow_up_deadline")]

    def checklist_rows(self):
        return [(item, self[f"item_{item.pk}"], self[f"note_{item.pk}"]) for item in self.items]

    def clean(self):
        data = super().clean()
        group, branch = data.get("inspected_group"), data.get("inspected_branch")
        if group and branch:
            self.add_error("inspected_branch", _("Choose either a ward branch or a group to inspect, not both."))
        elif not group and not branch and "inspected_group" not in self.errors:
            self.add_error("inspected_group", _("Choose the group or the ward branch that was inspected."))
        findings = []
        for item in self.items:
            result = data.get(f"item_{item.pk}")
            note = data.get(f"note_{item.pk}", "")
            if not result:
                continue
            if result == InspectionFinding.Result.NOT_OK and not note.strip():
                self.add_error(f"note_{item.pk}", _("Explain what is not satisfactory."))
            findings.append((item, result, note))
        if not findings:
            raise forms.ValidationError(_("Record the result of at least one checklist item."))
        data["findings"] = findings
        inspected_on, deadline = data.get("inspected_on"), data.get("follow_up_deadline")
        if inspected_on and deadline and deadline < inspected_on:
            self.add_error("follow_up_deadline", _("The follow-up deadline cannot be before the inspection."))
        if inspected_on and inspected_on > timezone.localdate():
            self.add_error("inspected_on", _("An inspection cannot be recorded before it happens."))
        return data

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "inspected_on": data["inspected_on"],
            "lead_unit": data["lead_unit"],
            "team_members": data["team_members"],
            "inspected_branch": data.get("inspected_branch"),
            "inspected_group": data.get("inspected_group"),
            "findings": data["findings"],
            "recommendations": data.get("recommendations", ""),
            "follow_up_status": data["follow_up_status"],
            "follow_up_deadline": data.get("follow_up_deadline"),
        }


class ScopedRecordForm(forms.ModelForm):
    """A ModelForm that offers only the user's units and leaves saving to a service (`values()`)."""

    date_fields = ()
    #: Dates that may lie ahead, with how far (None: up to the far limit); the others cannot be in the future.
    future_dates = {}
    unit_field = "organization"

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for name in self.date_fields:
            field = self.fields[name]
            self.fields[name] = BusinessDateField(
                label=field.label, required=field.required, help_text=field.help_text,
                future_days=self.future_dates.get(name, 0),
            )
        if self.unit_field in self.fields:
            field = self.fields[self.unit_field]
            self.fields[self.unit_field] = MapChoiceField(
                label=field.label, required=field.required, help_text=field.help_text,
                queryset=Organization.objects.none(),
            )
            # A record of a past date keeps the units of that date (merged away since) on offer.
            on = getattr(self.instance, self.date_fields[0], None) if self.instance.pk and self.date_fields else None
            self.fields[self.unit_field].set_units(self.unit_queryset(user), on=on)

    def unit_queryset(self, user):
        return recording_units_for(user)

    def values(self):
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields if name != "households"}

    def _post_clean(self):
        # Model validation happens in the service, on the locked row; the form only converts.
        pass


class TrainingClassForm(ScopedRecordForm):
    date_fields = ("held_on",)

    class Meta:
        model = TrainingClass
        fields = ["held_on", "topic", "organization", "participants", "attendances"]

    def clean(self):
        data = super().clean()
        participants, attendances = data.get("participants"), data.get("attendances")
        if participants is not None and participants < 1:
            self.add_error("participants", _("A class has at least one participant."))
        if participants and attendances is not None and attendances < participants:
            self.add_error("attendances", _("Attendances cannot be fewer than participants."))
        return data


class OutreachSessionForm(ScopedRecordForm):
    date_fields = ("held_on",)

    class Meta:
        model = OutreachSession
        fields = ["held_on", "topic", "organization", "place", "audience"]

    def clean_audience(self):
        audience = self.cleaned_data["audience"]
        if audience < 1:
            raise forms.ValidationError(_("A session reaches at least one person."))
        return audience


class CooperationAgreementForm(ScopedRecordForm):
    date_fields = ("signed_on", "valid_until", "terminated_on")
    future_dates = {"valid_until": None, "terminated_on": None}
    unit_field = "branch"

    class Meta:
        model = CooperationAgreement
        fields = ["branch", "reference", "signed_on", "valid_until", "terminated_on", "note"]

    def unit_queryset(self, user):
        return branches_for(user).order_by("ward__code", "kind")

    def clean(self):
        data = super().clean()
        signed = data.get("signed_on")
        for name in ("valid_until", "terminated_on"):
            if signed and data.get(name) and data[name] < signed:
                self.add_error(name, _("This date cannot be before the signing date."))
        return data


class EconomicModelForm(ScopedRecordForm):
    date_fields = ("started_on",)
    future_dates = {"started_on": 366}

    class Meta:
        model = EconomicModel
        fields = ["name", "organization", "started_on", "description", "households"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        field = self.fields["households"]
        field.queryset = households_for(user).order_by("ward__code", "search_name")
        field.widget.attrs.update({"size": 10, "data-filter": _("Search households by name or code…")})
        # Households without a bank code yet are told apart by citizen ID, masked for roles that do not need it.
        field.label_from_instance = (
            lambda h: f"{h.head_name} – {h.customer_code or personal(h.citizen_id, user)} ({h.ward})"
        )
        field.help_text = _("Hold Ctrl (or ⌘) to choose several households.")


class AwardForm(ScopedRecordForm):
    date_fields = ("awarded_on",)

    class Meta:
        model = Award
        fields = ["awarded_on", "organization", "person_name", "level", "title", "reason"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3})}


class WardChoiceMultiple(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} – {obj.name}"


class WardMergerForm(forms.Form):
    """Which wards in being form which new ward, from which date, by which decision: checked here, then previewed
    and carried out by organizations.services.mergers."""

    sources = WardChoiceMultiple(
        label=_("Wards that form the new ward"), queryset=None, widget=forms.CheckboxSelectMultiple,
    )
    code = DigitCodeField(
        label=_("New ward code"),
        validators=[RegexValidator(r"^[0-9]{6}$", _("A ward code has exactly 6 digits."))],
        help_text=_("It may be the code of one of the merged wards."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 6}),
    )
    name = forms.CharField(label=_("New ward name"), max_length=200)
    merged_on = BusinessDateField(label=_("In force from"), earliest=date(1900, 1, 1))
    decision = forms.CharField(
        label=_("Merger decision"), max_length=200, required=False, help_text=_("E.g. 1685/NQ-UBTVQH15."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sources"].queryset = Ward.objects.filter(merged_on__isnull=True).order_by("code")

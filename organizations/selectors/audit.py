"""The change history as an officer reads it: field labels, choice labels, Vietnamese numbers and dates, names of
linked objects (with a link where the viewer may open them); request paths and ids only for admins.

The audit trail stores raw values (organizations/audit.py); this module only reads and presents them.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loans.money import format_vnd
from organizations import access
from organizations.audit import history_for

#: Fields that mean nothing to an officer: shown to admins only.
TECHNICAL_FIELDS = {"id", "import_batch_id", "ids", "note"}
#: Labels of the fields declared without a verbose_name, whose default label ("created by") is English only.
FIELD_LABELS = {
    "created_by_id": gettext_lazy("created by"),
    "certified_by_id": gettext_lazy("certified by"),
    "reversed_by_id": gettext_lazy("reversed by"),
    "meeting_id": gettext_lazy("review meeting"),
    "loan_list_id": gettext_lazy("loan list"),
    "application_id": gettext_lazy("loan request"),
    "import_batch_id": gettext_lazy("import batch"),
    "allocation_id": gettext_lazy("allocation"),
    "adjustment_id": gettext_lazy("adjustment"),
    "schedule_id": gettext_lazy("schedule"),
    "search_name": gettext_lazy("name for searching"),
}


def field_label(model_field, name):
    """The field's label in the viewer's language; never its English default or its attribute name."""
    if model_field is None:
        return str(FIELD_LABELS.get(name, name))
    label = model_field.verbose_name
    if not isinstance(label, Promise):
        label = FIELD_LABELS.get(name, label)
    return capfirst(str(label))


@dataclass
class Value:
    text: str
    url: str = ""


@dataclass
class Change:
    label: str
    before: Value
    after: Value
    technical: bool = False


@dataclass
class Entry:
    event: object
    actor: str
    action: str
    changes: list = field(default_factory=list)
    source: str = ""


def _linkable():
    """Model → (its detail page, whether its scope follows its own branch or its household's branch).

    The same rules as households_for, groups_for, loans_for and applications_for, checked against the viewer's
    branches in memory so that a history of many links costs one query, not one per link.
    """
    from borrowers.models import Household
    from loans.models import Loan, LoanApplication
    from organizations.models import SavingsGroup

    return {
        Household: ("borrowers:household_detail", "branch"),
        SavingsGroup: ("organizations:group_detail", "branch"),
        Loan: ("loans:loan_detail", "household"),
        LoanApplication: ("loans:application_detail", "household"),
    }


def _is_money(model_field):
    return isinstance(model_field, models.DecimalField) and model_field.decimal_places == 0


def _is_year(name):
    return name == "year" or name.endswith("_year") or name.startswith("year_")


def _parse(kind, raw):
    try:
        return kind.fromisoformat(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


class _Presenter:
    """Formats the raw values of a batch of events, looking related objects up once per model."""

    def __init__(self, user, events, obj=None):
        self.user = user
        self.is_admin = access.has_role(user, access.Role.ADMIN)
        self.related = {}  # model → {pk: object}
        self._branches = None  # district staff's branch ids, read once when a link needs them
        self._collect(events, obj)

    def _fields(self, model):
        return {f.attname: f for f in model._meta.concrete_fields} if model else {}

    def _collect(self, events, obj):
        wanted = {}
        for event in events:
            fields = self._fields(_model_of(event))
            for name, pair in (event.changes or {}).items():
                model_field = fields.get(name)
                if isinstance(model_field, models.ForeignKey) and isinstance(pair, list):
                    model = model_field.related_model
                    wanted.setdefault(model, set()).update(_coerce_pk(model, v) for v in pair if v not in (None, ""))
        # The page's object usually has its relations loaded already: their current values cost nothing.
        if obj is not None:
            for model_field in obj._meta.concrete_fields:
                if isinstance(model_field, models.ForeignKey) and model_field.is_cached(obj):
                    related = getattr(obj, model_field.name)
                    if related is not None:
                        self.related.setdefault(model_field.related_model, {})[related.pk] = related
        for model, pks in wanted.items():
            found = self.related.setdefault(model, {})
            missing = pks - set(found)
            if missing:
                found.update(model._base_manager.in_bulk(missing))
        self._stitch()

    def _in_scope(self, branch_id):
        """branch_scope(user) in memory: a ward officer's own branch, district staff's branches, or everything."""
        from organizations.selectors.scope import branches_for

        role = access.role_of(self.user)
        if role in (access.Role.ADMIN, access.Role.FRONT_SUPERVISOR):
            return True
        profile = access.profile_of(self.user)
        if profile is None:
            return False
        if role == access.Role.WARD_OFFICER:
            return branch_id == profile.organization_id
        if self._branches is None:
            self._branches = set(branches_for(self.user).values_list("pk", flat=True))
        return branch_id in self._branches

    def _may_open(self, model, obj):
        from borrowers.models import Household

        if self.user is None:
            return False
        if _linkable()[model][1] == "branch":
            return self._in_scope(obj.branch_id)
        household = self.related.get(Household, {}).get(obj.household_id) or obj.household
        return self._in_scope(household.branch_id)

    def _stitch(self):
        """Give the looked-up objects each other as relations, so that their names cost no further query."""
        for objects in self.related.values():
            for related in objects.values():
                for model_field in related._meta.concrete_fields:
                    if isinstance(model_field, models.ForeignKey) and not model_field.is_cached(related):
                        target = self.related.get(model_field.related_model, {}).get(getattr(related, model_field.attname))
                        if target is not None:
                            model_field.set_cached_value(related, target)

    def value(self, model_field, name, raw):
        if raw is None or raw == "":
            return Value("—")
        if model_field is None:
            return Value(str(raw))
        if name in access.PERSONAL_FIELDS:
            return Value(access.personal(raw, self.user))
        if model_field.choices:
            return Value(str(dict(model_field.flatchoices).get(raw, raw)))
        if isinstance(model_field, models.ForeignKey):
            return self._related(model_field.related_model, raw)
        if isinstance(model_field, models.BooleanField):
            return Value(_("Yes") if raw else _("No"))
        if isinstance(model_field, models.DateTimeField):
            moment = _parse(datetime, raw)
            if isinstance(moment, datetime):
                moment = timezone.localtime(moment) if timezone.is_aware(moment) else moment
                return Value(date_format(moment, "d/m/Y H:i"))
            return Value(str(raw))
        if isinstance(model_field, models.DateField):
            day = _parse(date, raw)
            return Value(date_format(day, "d/m/Y") if isinstance(day, date) else str(raw))
        if isinstance(model_field, (models.IntegerField, models.DecimalField)):
            return Value(self._number(model_field, name, raw))
        if isinstance(raw, (dict, list)):
            return Value(", ".join(str(item) for item in (raw.values() if isinstance(raw, dict) else raw)))
        return Value(str(raw))

    def _number(self, model_field, name, raw):
        if _is_year(name):
            return str(raw)
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            return str(raw)
        if _is_money(model_field):
            return format_vnd(number)
        # 6.600 (a rate of 6,6 %) must not read as six thousand six hundred: drop the trailing zeros.
        number = number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
        return number_format(number, use_l10n=True, force_grouping=True)

    def _related(self, model, pk):
        obj = self.related.get(model, {}).get(_coerce_pk(model, pk))
        if obj is None:
            return Value(_("(deleted)") if not self.is_admin else _("(deleted, id %(id)s)") % {"id": pk})
        if model is get_user_model():
            return Value(obj.get_full_name() or obj.get_username())
        links = _linkable()
        url = reverse(links[model][0], args=[obj.pk]) if model in links and self._may_open(model, obj) else ""
        return Value(str(obj), url)

    def entry(self, event):
        fields = self._fields(_model_of(event))
        changes = []
        for name, pair in (event.changes or {}).items():
            technical = name in TECHNICAL_FIELDS
            if technical and not self.is_admin:
                continue
            model_field = fields.get(name)
            if event.action.startswith("bulk"):
                changes.append(self._bulk_change(name, pair))
                continue
            before, after = (pair if isinstance(pair, list) and len(pair) == 2 else (None, pair))
            label = field_label(model_field, name)
            # A new object has no "before"; show only what it was created with.
            shown_before = Value("") if event.action == "create" else self.value(model_field, name, before)
            changes.append(Change(label, shown_before, self.value(model_field, name, after), technical))
        actor = event.actor.get_full_name() or event.actor.get_username() if event.actor else ""
        return Entry(event=event, actor=actor, action=event.get_action_display(), changes=changes,
                     source=event.source if self.is_admin else "")

    def _bulk_change(self, name, value):
        labels = {"count": _("Number of records"), "ids": "ids", "note": _("note")}
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, int):
            value = number_format(value, use_l10n=True, force_grouping=True)
        return Change(str(labels.get(name, name)), Value(""), Value(str(value)), name in TECHNICAL_FIELDS)


def _model_of(event):
    # From ContentType's cache: reading event.content_type would cost a query per row.
    return ContentType.objects.get_for_id(event.content_type_id).model_class()


def _coerce_pk(model, pk):
    try:
        return model._meta.pk.to_python(pk)
    except Exception:  # a value recorded before a type change is shown as missing, not as an error
        return pk


def readable_history(obj, user, limit=20):
    """The object's recorded changes, newest first, presented for this viewer."""
    events = list(history_for(obj, limit=limit))
    presenter = _Presenter(user, events, obj)
    return [presenter.entry(event) for event in events]

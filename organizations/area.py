"""The words for the level above the wards: since 1 July 2025 there is no district, so they come from configuration."""

from django.apps import apps
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from organizations.models import Area


def area_label(area=None):
    """The label for the top level: the AREA_LABEL setting, else the kind_label of `area` (or of the one Area)."""
    if settings.AREA_LABEL:
        return settings.AREA_LABEL
    if area is None:
        area = Area.objects.only("kind_label").first()
    return (area.kind_label if area is not None else "") or _("area")


def area_name():
    """The top-level Area's name, or "" before one is set up."""
    return Area.objects.values_list("name", flat=True).first() or ""


# Choice labels that name the level above the wards. Their stored values and the models' choices stay as they are;
# where such a label is shown (status badges, the officer's role), it names the level as configured instead.
LEVEL_LABELS = {
    ("loans.LoanApplication", "status"): {
        "submitted": gettext_lazy("Submitted to %(area)s"),
        "approved": gettext_lazy("Approved by %(area)s"),
        "rejected": gettext_lazy("Rejected by %(area)s"),
    },
    ("loans.LoanList", "status"): {
        "submitted": gettext_lazy("Submitted to %(area)s"),
        "decided": gettext_lazy("Decided by %(area)s"),
    },
    ("organizations.OfficerProfile", "role"): {
        "district_staff": gettext_lazy("Staff of %(area)s"),
    },
}


def level_label(model, field, value, *, area=None):
    """The label of `value` of the choice field `model.field` (a model class or its "app.Model" label), naming the
    level above the wards as configured; `area` spares the look-up when the caller has it (a page's area_label)."""
    label_of = model if isinstance(model, str) else model._meta.label
    wording = LEVEL_LABELS.get((label_of, field), {}).get(value)
    if wording is None:
        if isinstance(model, str):
            model = apps.get_model(model)
        return str(dict(model._meta.get_field(field).flatchoices).get(value, value))
    return wording % {"area": area if area is not None else area_label()}


def level_display(obj, field="status", *, area=None):
    """`obj.get_<field>_display()`, naming the level above the wards as configured."""
    return level_label(type(obj), field, getattr(obj, field), area=area)


def level_choices(model, field="status", *, area=None):
    """The choices of `model.field` for a filter or a picker, naming the level above the wards as configured."""
    area = area if area is not None else area_label()
    return [(value, level_label(model, field, value, area=area)) for value, _label in model._meta.get_field(field).choices]

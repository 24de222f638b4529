"""The words for the level above the wards: since 1 July 2025 there is no district, so they come from configuration."""

from django.conf import settings
from django.utils.translation import gettext as _

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

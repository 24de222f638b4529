"""{% level_display obj "status" %} and {% level_label "loans.LoanApplication" "status" value %}: choice labels that
name the level above the wards as configured (organizations.area.LEVEL_LABELS), read with the page's area_label."""

from django import template

from organizations.area import level_label as _level_label

register = template.Library()


def _area(context):
    # The page's lazy area_label, read (one query at most per page) only when a label names the level.
    return context.get("area_label")


@register.simple_tag(takes_context=True)
def level_label(context, model, field, value):
    return _level_label(model, field, value, area=_area(context))


@register.simple_tag(takes_context=True)
def level_display(context, obj, field="status"):
    return _level_label(type(obj), field, getattr(obj, field), area=_area(context))

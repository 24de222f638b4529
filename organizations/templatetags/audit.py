"""{% audit_history obj %}: the object's recorded changes, on pages of those allowed to see the object."""

from django import template

from organizations.audit import history_for

register = template.Library()


@register.inclusion_tag("includes/audit_history.html")
def audit_history(obj, limit=20):
    return {"events": list(history_for(obj, limit=limit))}

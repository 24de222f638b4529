"""{% audit_history obj %}: the object's recorded changes, readable by the viewer, on pages of those allowed to see it."""

from django import template

from organizations.selectors.audit import readable_history

register = template.Library()


@register.inclusion_tag("includes/audit_history.html", takes_context=True)
def audit_history(context, obj, limit=20):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return {"entries": readable_history(obj, user, limit=limit)}

"""{% audit_history obj %}: the object's recorded changes, on pages of those allowed to see the object."""

from django import template
from django.contrib.auth.models import AnonymousUser

from organizations.access import personal_changes
from organizations.audit import history_for

register = template.Library()


@register.inclusion_tag("includes/audit_history.html", takes_context=True)
def audit_history(context, obj, limit=20):
    # A corrected citizen ID or phone number would otherwise show in full, old and new, to those it is masked for.
    request = context.get("request")
    user = request.user if request else AnonymousUser()  # no request: masked
    events = list(history_for(obj, limit=limit))
    for event in events:
        event.shown_changes = personal_changes(event.changes, user)
    return {"events": events}

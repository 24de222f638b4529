"""{{ household.citizen_id|personal:request.user }}: personal data in full only for roles that need it.

The policy itself lives in organizations/access.py; these filters only expose it to templates."""

from django import template

from organizations import access

register = template.Library()


@register.filter
def personal(value, user):
    return access.personal(value, user)


@register.filter
def sees_personal_data(user):
    """For markup that only makes sense with the full value, such as a tel: link."""
    return access.sees_personal_data(user)

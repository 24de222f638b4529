"""{{ household.citizen_id|personal:request.user }}: personal data in full only for roles that need it."""

from django import template

from organizations import access

register = template.Library()


@register.filter
def personal(value, user):
    return access.personal(value, user)

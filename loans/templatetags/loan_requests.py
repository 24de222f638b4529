"""{% load loan_requests %}: labels for request statuses stored as codes (e.g. in status-change rows)."""

from django import template

from loans.models import LoanApplication

register = template.Library()


@register.filter
def request_status(code):
    """'group_approved' -> 'Approved by the group' (translated)."""
    try:
        return LoanApplication.Status(code).label
    except ValueError:
        return code

"""{% load loan_links %}: a loan number as a link to the loan's page.

Pages that list loans are already scoped to the viewer (their rows come through a scoped selector), so every loan a
page shows is one the viewer may open: the tag links without a query of its own. Pass `link=False` where a page shows
a loan the viewer cannot open (e.g. another ward's row in an admin-only view shown to someone else).
"""

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def loan_link(loan, link=True, css="font-monospace"):
    if loan is None:
        return "—"
    if not link:
        return format_html('<span class="{}">{}</span>', css, loan.number)
    return format_html('<a class="{}" href="{}">{}</a>', css, reverse("loans:loan_detail", args=[loan.pk]), loan.number)

"""Template filters for amounts, loaded for every template (see TEMPLATES builtins)."""

from django import template

from loans.money import format_vnd, to_decimal

register = template.Library()


@register.filter
def vnd(value):
    """{{ amount|vnd }} -> 1.500.000 ₫"""
    return format_vnd(value)


@register.filter
def vnd_plain(value):
    """{{ amount|vnd_plain }} -> 1.500.000 (for table cells under a ₫ heading)."""
    return format_vnd(value, symbol=False)


@register.filter
def percent(value, digits=2):
    if value is None or value == "":
        return ""
    text = f"{to_decimal(str(value)):.{int(digits)}f}"
    return text.replace(".", ",") + " %"

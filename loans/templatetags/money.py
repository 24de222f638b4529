"""Template filters for amounts, loaded for every template (see TEMPLATES builtins)."""

from django import template
from django.utils.html import format_html
from django.utils.translation import get_language

from loans.money import amount_in_words, format_vnd, to_decimal

register = template.Library()


def _unbroken(text):
    # A phone's narrow column would otherwise put "₫" or "%" alone on the next line.
    return format_html('<span class="text-nowrap">{}</span>', text) if text else text


@register.filter
def vnd(value):
    """{{ amount|vnd }} -> 1.500.000 ₫, kept on one line."""
    return _unbroken(format_vnd(value))


@register.filter
def vnd_plain(value):
    """{{ amount|vnd_plain }} -> 1.500.000 (for table cells under a ₫ heading)."""
    return format_vnd(value, symbol=False)


@register.filter
def percent(value, digits=2):
    if value is None or value == "":
        return ""
    text = f"{to_decimal(str(value)):.{int(digits)}f}"
    return _unbroken(text.replace(".", ",") + " %")


@register.filter
def in_words(value):
    """{{ amount|in_words }} -> "Ba mươi triệu đồng": the amount written out, in the page's language."""
    if value in (None, ""):
        return ""
    return amount_in_words(value, get_language() or "vi")

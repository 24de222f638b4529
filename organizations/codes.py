"""Numeric codes typed by people (citizen IDs, customer codes, phones, group codes): read as ASCII digits.

A citizen ID typed with a Vietnamese or Japanese input method arrives as full-width digits (１２３…); Python's \\d
accepts those but the database's [0-9] does not. NFKC turns them into the ASCII digits they stand for; any digit that
is still not 0-9 afterwards (Arabic-Indic, say) is refused in words."""

import unicodedata

from django import forms
from django.utils.translation import gettext_lazy as _

_SPACES = {ord(c): None for c in " \t\u00a0\u202f\u3000"}


def ascii_code(value):
    """NFKC-normalised, spaces removed; None and '' pass through. Safe for codes made only of digits."""
    if not isinstance(value, str) or not value:
        return value
    return unicodedata.normalize("NFKC", value).translate(_SPACES).strip()


class DigitCodeField(forms.CharField):
    """A code made of the digits 0-9, however the keyboard typed them; the field's validators check the length."""

    default_error_messages = {"not_ascii": _("Type this number with the digits 0 to 9 only.")}

    def to_python(self, value):
        value = ascii_code(super().to_python(value))
        if value and not value.isascii():
            raise forms.ValidationError(self.error_messages["not_ascii"], code="not_ascii")
        return value

"""Numeric codes typed by people (customer codes, group codes, loan numbers): read as ASCII digits. Citizen IDs and
phone numbers have their own reader and rule, in borrowers/identity.py.

A number typed with a Vietnamese or Japanese input method arrives as full-width digits (１２３…); Python's \\d
accepts those but the database's [0-9] does not. They are read as the ASCII digits they stand for; any other character
that is not 0-9 (Arabic-Indic, superscript or circled digits) is refused in words."""

from django import forms
from django.utils.translation import gettext_lazy as _

from organizations.text import FULL_WIDTH_DIGITS

_SPACES = {ord(c): None for c in " \t\u00a0\u202f\u3000"}


def ascii_code(value):
    """Full-width digits made ASCII, spaces removed; None and '' pass through. Any other non-ASCII character stays,
    for the field to refuse: NFKC alone would also read ² or ① as a digit."""
    if not isinstance(value, str) or not value:
        return value
    return value.translate(FULL_WIDTH_DIGITS).translate(_SPACES).strip()


class DigitCodeField(forms.CharField):
    """A code made of the digits 0-9, however the keyboard typed them; the field's validators check the length."""

    default_error_messages = {"not_ascii": _("Type this number with the digits 0 to 9 only.")}

    def to_python(self, value):
        value = ascii_code(super().to_python(value))
        if value and not value.isascii():
            raise forms.ValidationError(self.error_messages["not_ascii"], code="not_ascii")
        return value

"""Text hygiene: the one rule for text that comes in (forms, the admin, bank files) and text that goes out (exports).

Control characters (a name pasted from Word, a bank cell) are invisible on screen but make a spreadsheet unwritable
and a bank file unreadable, so they never reach the database, and exports clean what older rows still hold.
"""

import functools
import re
import unicodedata

from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import pre_save
from django.utils.translation import gettext_lazy as _

# Anything that may need work; most text has none of it and leaves after one search.
_SUSPECT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
# Characters that end a line: a line break where the field allows lines, a space elsewhere (so words stay apart).
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
# Dropped outright: the other C0 and C1 controls, lone surrogates (half an emoji from a broken encoder) and the two
# non-characters that XML, hence .xlsx, refuses. Tab is handled apart.
_DROPPED = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(value, *, multiline=False):
    """`value` without control characters; anything that is not a string is returned unchanged.

    With `multiline`, line breaks become "\\n" and tabs stay; without, both become a space. Text is also composed
    (NFC), so that a name typed with combining accents (Unikey's "tổ hợp") equals the same name typed precomposed.
    Markup, quotes, emoji and right-to-left marks are left alone: templates escape them and spreadsheets hold them.
    """
    if not isinstance(value, str):
        return value
    if _SUSPECT.search(value):
        value = _DROPPED.sub("", value)
        value = _LINE_BREAK.sub("\n" if multiline else " ", value)
        if not multiline:
            value = value.replace("\t", " ")
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    return value


# Where text comes in ------------------------------------------------------------------------------------------------

#: Apps whose models never store a control character, whatever path the row takes (forms, services, the admin).
CLEANED_APPS = ("organizations", "borrowers", "loans", "auth")


def _form_to_python(original):
    def to_python(self, value):
        # A password is hashed, never shown or exported: it is taken exactly as typed.
        if isinstance(value, str) and not isinstance(self.widget, forms.PasswordInput):
            value = clean_text(value, multiline=isinstance(self.widget, forms.Textarea))
        return original(self, value)

    to_python.cleans_text = True
    return to_python


#: Full-width digits, as some input methods type them: read as the ASCII digits they are.
FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def ascii_digits(value):
    """`value` with full-width digits made ASCII; refused when it holds any other script's digits (Arabic-Indic,
    superscript, circled…), which Python's int() and the date parsers would otherwise read as numbers."""
    if not isinstance(value, str) or value.isascii():
        return value
    value = value.translate(FULL_WIDTH_DIGITS)
    if any(not ("0" <= c <= "9") and (c.isdigit() or unicodedata.numeric(c, None) is not None) for c in value):
        raise ValidationError(_("Type numbers and dates with the digits 0 to 9 only."), code="digits")
    return value


def _number_to_python(original):
    def to_python(self, value):
        return original(self, ascii_digits(value))

    to_python.reads_ascii_digits = True
    return to_python


@functools.cache
def _text_fields(model):
    return tuple(
        field for field in model._meta.concrete_fields if isinstance(field, (models.CharField, models.TextField))
    )


def _clean_before_save(sender, instance, raw=False, **kwargs):
    # The model keeps tabs and line breaks (whether a field takes lines is its form's choice, by its widget) and
    # drops every other control character, so that no path can store one.
    for field in _text_fields(sender):
        value = getattr(instance, field.attname)
        cleaned = clean_text(value, multiline=True)
        if cleaned is not value:
            setattr(instance, field.attname, cleaned)


def connect():
    """Clean every text field of every form (its own forms, the admin's, the login form) as it is read, and every
    text column of the project's models as it is saved. One form field class is the way in for all typed text, so it
    is cleaned there rather than in each of the forms."""
    if not getattr(forms.CharField.to_python, "cleans_text", False):
        forms.CharField.to_python = _form_to_python(forms.CharField.to_python)
    # Numbers and dates: the fields' own parsers would read any script's digits.
    for field in (forms.IntegerField, forms.DecimalField, forms.FloatField, forms.DateField, forms.DateTimeField):
        if not getattr(field.to_python, "reads_ascii_digits", False):
            field.to_python = _number_to_python(field.to_python)
    for label in CLEANED_APPS:
        for model in apps.get_app_config(label).get_models():
            pre_save.connect(_clean_before_save, sender=model, dispatch_uid=f"clean-text-{model._meta.label}")

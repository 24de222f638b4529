"""Amount and program fields shared by the loan forms: whole đồng typed the Vietnamese way."""

import re
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _


class AmountField(forms.CharField):
    """Whole đồng, typed as 30000000 or 30.000.000 (spaces and ₫ allowed)."""

    default_error_messages = {
        "invalid": _("Enter an amount in whole đồng, e.g. 30.000.000."),
        "not_positive": _("The amount must be more than zero."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "class": "text-end"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, (int, Decimal)):
            return f"{int(value):,}".replace(",", ".")
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        text = re.sub(r"[\s₫đ]", "", str(value), flags=re.IGNORECASE)
        if text.startswith("-"):
            raise forms.ValidationError(self.error_messages["not_positive"], code="not_positive")
        if not re.fullmatch(r"\d{1,3}(\.\d{3})+|\d+", text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        amount = Decimal(text.replace(".", ""))
        if amount <= 0:
            raise forms.ValidationError(self.error_messages["not_positive"], code="not_positive")
        return amount


def parse_amount(value):
    """'1.500.000', '1 500 000' or '1500000' -> Decimal('1500000'); blank -> 0."""
    text = str(value or "").strip().replace(".", "").replace(" ", "").replace("\u00a0", "").replace("₫", "")
    if text.endswith("đ"):
        text = text[:-1]
    if not text:
        return Decimal(0)
    if text.startswith("-"):
        raise forms.ValidationError(_("Amounts cannot be negative."), code="negative")
    if not text.isdigit():
        raise forms.ValidationError(_("Enter an amount in whole đồng, e.g. 1.500.000."), code="invalid")
    return Decimal(text)


class ProgramChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} – {obj.name}"

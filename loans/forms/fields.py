"""Amount and program fields shared by the loan forms: whole đồng typed the Vietnamese way (loans.money.parse_vnd)."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from loans.money import AMOUNT_MESSAGES, COLUMN_MAX, parse_vnd


def setting_ceiling(name):
    """A ceiling read from settings when the form is validated (so an env change or a test override applies)."""
    return lambda: getattr(settings, name)


#: The ceilings of the loan and capital forms (settings MONEY_MAX_LOAN and MONEY_MAX_CAPITAL).
LOAN_CEILING = setting_ceiling("MONEY_MAX_LOAN")
CAPITAL_CEILING = setting_ceiling("MONEY_MAX_CAPITAL")


class AmountField(forms.CharField):
    """Whole đồng, typed as 30000000 or 30.000.000 (spaces and ₫ allowed), more than zero and at most `max_value`.

    `max_value` is a number or a callable returning one; it never exceeds what the column holds."""

    default_error_messages = {**AMOUNT_MESSAGES, "not_positive": _("The amount must be more than zero.")}

    def __init__(self, *, max_value=COLUMN_MAX, **kwargs):
        self.max_value = max_value
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "class": "text-end"}))
        super().__init__(**kwargs)

    def ceiling(self):
        return self.max_value() if callable(self.max_value) else self.max_value

    def prepare_value(self, value):
        if isinstance(value, (int, Decimal)):
            return f"{int(value):,}".replace(",", ".") if Decimal(value).is_finite() else ""
        return value

    def to_python(self, value):
        value = super().to_python(value)
        try:
            amount = parse_vnd(value, max_value=self.ceiling())
        except ValidationError as error:
            # The field's own (translated) wording for each refusal, with the ceiling where it applies.
            raise ValidationError(self.error_messages[error.code], code=error.code, params=error.params) from None
        if amount is not None and amount <= 0:
            raise ValidationError(self.error_messages["not_positive"], code="not_positive")
        return amount


class CollectedAmountField(AmountField):
    """An amount collected at the transaction point: blank or zero means nothing was paid."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_value", setting_ceiling("MONEY_MAX_COLLECTION"))
        kwargs.setdefault("widget", forms.TextInput(attrs={"class": "form-control-sm text-end"}))
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        return attrs

    def to_python(self, value):
        value = forms.CharField.to_python(self, value)
        try:
            amount = parse_vnd(value, max_value=self.ceiling())
        except ValidationError as error:
            raise ValidationError(self.error_messages[error.code], code=error.code, params=error.params) from None
        return Decimal(0) if amount is None else amount


class ProgramChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} – {obj.name}"



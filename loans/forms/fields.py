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
        # data-amount: static/js/app.js puts the thousands dots in as the amount is typed (150.000.000).
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "numeric", "class": "text-end", "data-amount": ""})
        )
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




class WorkingDayConfirmation:
    """A business day set on a weekend or public holiday is taken only once the officer confirms it.

    The form calls `add_working_day_confirmation()` in `__init__` and `check_working_day(data)` in `clean()`. The
    confirmation box stays hidden until the day needs it, so a working day asks nothing."""

    working_day_field = "on"
    CONFIRM = "confirm_non_working_day"

    def add_working_day_confirmation(self):
        self.fields[self.CONFIRM] = forms.BooleanField(
            required=False, label=_("Yes, use this day although it is not a working day"), widget=forms.HiddenInput
        )

    def check_working_day(self, data):
        from loans.calendar import is_working_day

        day = data.get(self.working_day_field)
        if not day or is_working_day(day) or data.get(self.CONFIRM):
            return
        self.fields[self.CONFIRM].widget = forms.CheckboxInput(attrs={"class": "form-check-input"})
        self.add_error(
            self.working_day_field,
            _("%(day)s is not a working day (a weekend or public holiday). Tick the box to confirm this day.")
            % {"day": day.strftime("%d/%m/%Y")},
        )



class MarkedBoundField(forms.BoundField):
    """A field in error gets Bootstrap's red border, for forms whose templates lay their fields out by hand (Django
    already adds aria-invalid, and aria-describedby pointing at "<field id>_error" where the template puts the
    message)."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        widget = widget or self.field.widget
        if self.errors and not widget.is_hidden:
            classes = attrs.get("class", widget.attrs.get("class", "")).split()
            attrs["class"] = " ".join([*classes, "is-invalid"] if "is-invalid" not in classes else classes)
        return attrs

"""Money is whole Vietnamese đồng: Decimal in, Decimal out, one rounding rule."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models
from django.utils.translation import gettext_lazy as _

ONE_DONG = Decimal("1")


def to_decimal(value):
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass int, str or Decimal.")
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"Not an amount: {value!r}") from None


def round_vnd(value):
    """Round half-up to whole đồng. The only rounding rule for money in the app."""
    return to_decimal(value).quantize(ONE_DONG, rounding=ROUND_HALF_UP)


def is_whole_dong(value):
    value = to_decimal(value)
    return value == value.to_integral_value()


def format_vnd(value, symbol=True):
    """1500000 -> '1.500.000 ₫' (Vietnamese grouping with dots)."""
    if value is None or value == "":
        return ""
    amount = round_vnd(value)
    sign = "-" if amount < 0 else ""
    text = f"{abs(int(amount)):,}".replace(",", ".")
    return f"{sign}{text} ₫" if symbol else f"{sign}{text}"


class MoneyField(models.DecimalField):
    """A whole-đồng amount: DecimalField(max_digits=18, decimal_places=0)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        # The database would silently round 1,5 đồng; refuse it instead (also runs for bulk_create).
        value = super().pre_save(model_instance, add)
        if value is not None and not is_whole_dong(value):
            from organizations.errors import DomainError

            raise DomainError(_("Amounts are whole đồng; %(value)s is not.") % {"value": value}, field=self.name)
        return value

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs


__all__ = ["MoneyField", "format_vnd", "is_whole_dong", "round_vnd", "to_decimal", "_"]

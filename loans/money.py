"""Money is whole Vietnamese đồng: Decimal in, Decimal out, one rounding rule, one way to read a typed amount."""

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

ONE_DONG = Decimal("1")
#: Wide enough for any number a float can hold, so that rounding or reading an absurd stored amount never raises.
WIDE = Context(prec=400)
#: What a MoneyField column holds: 18 digits.
COLUMN_MAX = Decimal(10**18 - 1)


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
    return to_decimal(value).quantize(ONE_DONG, rounding=ROUND_HALF_UP, context=WIDE)


def is_whole_dong(value):
    value = to_decimal(value)
    return value == value.to_integral_value()


def format_vnd(value, symbol=True):
    """1500000 -> '1.500.000 ₫' (Vietnamese grouping with dots)."""
    if value is None or value == "":
        return ""
    if not to_decimal(value).is_finite():
        return "?"
    amount = round_vnd(value)
    sign = "-" if amount < 0 else ""
    text = f"{abs(int(amount)):,}".replace(",", ".")
    return f"{sign}{text} ₫" if symbol else f"{sign}{text}"


# A typed amount: whole đồng grouped by dots (1.500.000) or not grouped (1500000), with an optional ₫ / đ / VNĐ.
_UNIT = re.compile(r"(₫|đồng|vnđ|vnd|đ)$", re.IGNORECASE)
_AMOUNT = re.compile(r"[0-9]{1,3}(\.[0-9]{3})+|[0-9]+")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")

AMOUNT_MESSAGES = {
    "invalid": _("Enter an amount in whole đồng, e.g. 1.500.000 or 1500000."),
    "decimal": _("Amounts are whole đồng, with dots between thousands: 1.500.000 (no decimals, no commas)."),
    "digits": _("Type the amount with the digits 0 to 9 only, e.g. 1.500.000."),
    "negative": _("Amounts cannot be negative."),
    "too_large": _("The amount cannot be more than %(max)s."),
}


def parse_vnd(text, *, max_value=COLUMN_MAX):
    """'1.500.000', '1 500 000 ₫' or '1500000' -> Decimal('1500000'); blank -> None.

    The one reader of typed amounts. Anything else (1.5, 1,500, 1.000.00, ², ①, full-width digits) is refused with a
    ValidationError whose code says why, never read as something the officer did not mean."""
    text = _SPACES.sub("", str(text if text is not None else ""))
    text = _UNIT.sub("", text)
    if not text:
        return None
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    if not text.isascii() or any(c.isdigit() and not "0" <= c <= "9" for c in text):
        raise ValidationError(AMOUNT_MESSAGES["digits"], code="digits")
    if not _AMOUNT.fullmatch(text):
        code = "decimal" if re.fullmatch(r"[0-9.,]+", text) else "invalid"
        raise ValidationError(AMOUNT_MESSAGES[code], code=code)
    if negative:
        raise ValidationError(AMOUNT_MESSAGES["negative"], code="negative")
    amount = Decimal(text.replace(".", ""))
    check_ceiling(amount, max_value)
    return amount


def check_ceiling(amount, max_value=COLUMN_MAX):
    """Refuse an amount above `max_value` (never above what the column holds)."""
    ceiling = min(Decimal(max_value), COLUMN_MAX)
    if amount > ceiling:
        raise ValidationError(AMOUNT_MESSAGES["too_large"], code="too_large", params={"max": format_vnd(ceiling)})
    return amount


class MoneyField(models.DecimalField):
    """A whole-đồng amount: DecimalField(max_digits=18, decimal_places=0).

    Reads with a wide context: SQLite keeps whatever was written, and an amount too long for the column must still
    load (and show) so that the officer can correct it, rather than break every page that reads the row."""

    context = WIDE

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

    def get_db_prep_save(self, value, connection):
        # The one door to the column (save, bulk_create, bulk_update, update): PostgreSQL would answer an overflow
        # with a 500 and SQLite would store it and break every read; refuse it here in words instead.
        if value is not None and not hasattr(value, "resolve_expression"):
            amount = to_decimal(value)
            if not amount.is_finite() or abs(amount) > Decimal(10**self.max_digits - 1):
                from organizations.errors import DomainError

                raise DomainError(
                    _("The amount %(value)s is too large to be stored.") % {"value": value}, field=self.name
                )
        return super().get_db_prep_save(value, connection)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs


__all__ = [
    "COLUMN_MAX", "MoneyField", "check_ceiling", "format_vnd", "is_whole_dong", "parse_vnd", "round_vnd", "to_decimal",
    "_",
]


#: The scale of each group of three digits, as Vietnamese amounts are read: nghìn, triệu, tỷ, then nghìn tỷ…
_VI_SCALES = ("", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ")


def amount_in_words(value, language="vi"):
    """A whole-đồng amount written out as on the bank's forms ("Bằng chữ"): "Ba mươi triệu tám trăm nghìn đồng".

    num2words reads each group of three digits; a group after the first that is under one hundred is read with its
    empty hundreds ("không trăm", and "lẻ" before a single digit), as the bank and accounting software write
    2.000.050.000: "Hai tỷ không trăm năm mươi nghìn đồng". Other languages: num2words as it is, then "dong"."""
    from num2words import num2words

    amount = int(to_decimal(value))
    if language != "vi":
        text = f"{num2words(amount, lang='en')} dong"
        return text[0].upper() + text[1:]
    if amount == 0:
        return "Không đồng"
    words = ["âm"] if amount < 0 else []
    groups = []
    rest = abs(amount)
    while rest:
        rest, group = divmod(rest, 1000)
        groups.append(group)
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        if index < len(groups) - 1 and group < 100:
            words.append("không trăm lẻ" if group < 10 else "không trăm")
        words.append(num2words(group, lang="vi"))
        if _VI_SCALES[index]:
            words.append(_VI_SCALES[index])
    text = " ".join([*words, "đồng"])
    return text[0].upper() + text[1:]

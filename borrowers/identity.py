"""Citizen IDs (CCCD) and Vietnamese mobile numbers: one way to read them as people type them, and one rule for each.

Forms, the model's validators, the bank import's warnings, the household search and `check_identity_numbers` all
use these functions, so a number means the same everywhere.

Reading a typed number: every character must be a digit 0-9, a full-width digit (what an East Asian input method types
for the digit keys) or a separator (spaces, dots, dashes), and a phone may start with +. Only then is the text NFKC
normalised and the separators removed. The check comes before NFKC on purpose: NFKC also turns superscript (²),
subscript, circled (①) and other look-alike digits into 0-9, and those are typing or pasting mistakes, refused in
words. Digits of other scripts (Arabic-Indic ٣, say) are refused the same way.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

CITIZEN_ID_LENGTH = 12
MOBILE_LENGTH = 10

#: The 63 province codes of Circular 07/2016/TT-BCA (59/2021/TT-BCA): digits 1-3 of a citizen ID. The provinces
#: merged in 2025 kept codes from this list, and numbers already issued never change.
PROVINCE_CODES = frozenset(
    """
    001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 037 038 040 042
    044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 077 079 080 082 083 084 086 087
    089 091 092 093 094 095 096
    """.split()
)
#: Second digit of a Vietnamese mobile number (after the 0): the 03, 05, 07, 08 and 09 ranges.
MOBILE_PREFIXES = ("03", "05", "07", "08", "09")
COUNTRY_CODE = "84"

_ASCII_DIGITS = frozenset("0123456789")
_WIDE_DIGITS = frozenset(chr(0xFF10 + n) for n in range(10))
#: Spaces (no-break and ideographic ones included), dots and dashes people put between groups of digits.
SEPARATORS = frozenset(" \t\u00a0\u2007\u202f\u3000.\uff0e-\u2010\u2011\u2012\u2013\u2212\uff0d")
_PLUS = frozenset("+\uff0b")

MESSAGES = {
    "characters": _("Type this number with the digits 0 to 9 only; “%(character)s” is not one of them."),
    "plus": _("A Vietnamese mobile number starts with 0, or with +84 in place of the 0."),
    "citizen_id_length": _("A citizen ID (CCCD) has exactly 12 digits, not %(count)s."),
    "province": _("The first three digits of a citizen ID are the province code where the birth was registered; "
                  "%(province)s is not a province code."),
    "century_future": _("The fourth digit of a citizen ID gives sex and century of birth: %(digit)s stands for a birth "
                        "in %(first)s–%(last)s, which has not come yet."),
    "century_birth_year": _("The fourth digit of the citizen ID, %(digit)s, stands for a birth in %(first)s–%(last)s, "
                            "but the year of birth is %(year)s."),
    "year_future": _("Digits 5 and 6 of the citizen ID give %(year)s as the year of birth, which has not come yet."),
    "year_birth_year": _("Digits 5 and 6 of the citizen ID, %(digits)s, do not match the year of birth %(year)s."),
    "mobile_length": _("A mobile number has 10 digits, not %(count)s."),
    "mobile_prefix": _("Enter a Vietnamese mobile number: 10 digits starting with 03, 05, 07, 08 or 09."),
}


def _error(kind, **params):
    return ValidationError(MESSAGES[kind], code=kind, params=params or None)


def _shown(character):
    return character if character.isprintable() and not character.isspace() else f"U+{ord(character):04X}"


def read_digits(value, *, plus=False):
    """The digits of a number as typed, as ASCII: separators dropped, full-width digits read as 0-9. With `plus`, a
    leading + is kept. Raises ValidationError ("characters") naming the first character that is none of these."""
    value = (value or "").strip()
    kept = []
    for character in value:
        if character in _ASCII_DIGITS or character in _WIDE_DIGITS or (plus and character in _PLUS and not kept):
            kept.append(character)
        elif character not in SEPARATORS:
            raise _error("characters", character=_shown(character))
    return unicodedata.normalize("NFKC", "".join(kept))


def normalise_citizen_id(value):
    """'079 185.005-555' -> '079185005555'. Only the characters are checked; `citizen_id_error` checks the rule."""
    return read_digits(value)


def normalise_phone(value):
    """'+84 912 345 678', '84912345678' and '0912.345.678' -> '0912345678'. Only the characters and the country code
    are checked; `phone_error` checks the rule."""
    digits = read_digits(value, plus=True)
    if digits.startswith("+"):
        if not digits.startswith("+" + COUNTRY_CODE):
            raise _error("plus")
        digits = digits[1:]
    elif not (digits.startswith(COUNTRY_CODE) and len(digits) == MOBILE_LENGTH + 1):
        return digits
    national = digits[len(COUNTRY_CODE):]
    return national if national.startswith("0") else "0" + national  # "+84 0912…" is written too


def century_of(digit):
    """The first year of the century of birth that a citizen ID's fourth digit stands for (0/1 -> 1900, 2/3 -> 2000,
    ... 8/9 -> 2300)."""
    return 1900 + int(digit) // 2 * 100


def citizen_id_error(number, *, birth_year=None, this_year=None):
    """What is wrong with a stored or normalised citizen ID, as a ValidationError whose code names the part (length,
    characters, province, century_*, year_*), or None when it keeps the rule. With `birth_year`, digits 4-6 must
    agree with it; without, they must not give a birth after this year."""
    number = number or ""
    for character in number:
        if character not in _ASCII_DIGITS:
            return _error("characters", character=_shown(character))
    if len(number) != CITIZEN_ID_LENGTH:
        return _error("citizen_id_length", count=len(number))
    if number[:3] not in PROVINCE_CODES:
        return _error("province", province=number[:3])
    this_year = this_year or timezone.localdate().year
    digit, year_digits = number[3], number[4:6]
    first = century_of(digit)
    if birth_year:
        if not first <= birth_year < first + 100:
            return _error("century_birth_year", digit=digit, first=first, last=first + 99, year=birth_year)
        if year_digits != f"{birth_year % 100:02d}":
            return _error("year_birth_year", digits=year_digits, year=birth_year)
        return None
    if first > this_year:
        return _error("century_future", digit=digit, first=first, last=first + 99)
    if first + int(year_digits) > this_year:
        return _error("year_future", year=first + int(year_digits))
    return None


def phone_error(number):
    """What is wrong with a stored or normalised mobile number (characters, mobile_length, mobile_prefix), or None."""
    number = number or ""
    for character in number:
        if character not in _ASCII_DIGITS:
            return _error("characters", character=_shown(character))
    if len(number) != MOBILE_LENGTH:
        return _error("mobile_length", count=len(number))
    if number[:2] not in MOBILE_PREFIXES:
        return _error("mobile_prefix")
    return None


def validate_citizen_id(value):
    """The model field's validator: the rule without the year of birth (Household.clean checks that one)."""
    error = citizen_id_error(value)
    if error is not None:
        raise error


def validate_mobile_phone(value):
    error = phone_error(value)
    if error is not None:
        raise error


def searched_number(query):
    """A search box's text read as a number (separators dropped, +84 read as 0), or None when it is not one."""
    try:
        return normalise_phone(query) if (query or "").strip()[:1] in _PLUS else read_digits(query) or None
    except ValidationError:
        return None

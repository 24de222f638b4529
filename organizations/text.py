"""Text hygiene: the one rule for text that comes in (forms, the admin, bank files) and text that goes out (exports).

Control characters (a name pasted from Word, a bank cell) are invisible on screen but make a spreadsheet unwritable
and a bank file unreadable, so they never reach the database, and exports clean what older rows still hold.
"""

import re
import unicodedata

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


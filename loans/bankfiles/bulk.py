"""Bulk reading and writing for the imports: set-based look-ups, reserved ids, COPY streams and bulk inserts."""

import re

from django.db import connection
from django.db.models.expressions import RawSQL

LOOKUP_CHUNK = 20000


def _chunks(values, size=LOOKUP_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _array_literal(values):
    """PostgreSQL's text form of an array, every element quoted: one constant for the server to read, where psycopg2's
    ARRAY[...] is an expression of one node per element (twice the time at 100,000 of them)."""
    quoted = (str(value).replace("\\", "\\\\").replace('"', '\\"') for value in values)
    return "{" + ",".join(f'"{value}"' for value in quoted) + "}"


def _matching(queryset, field, values):
    """The rows of `queryset` whose `field` is one of `values`: one array parameter on PostgreSQL (a 20,000-item
    IN list costs more to build than to run), chunks of IN lists elsewhere. (None matches nothing, as in SQL.)"""
    values = [value for value in values if value is not None]
    if not values:
        return
    if connection.vendor == "postgresql":
        array_type = queryset.model._meta.get_field(field).db_type(connection).split("(")[0] + "[]"
        unnest = RawSQL(f"SELECT unnest(%s::{array_type})", (_array_literal(values),))
        yield from queryset.filter(**{f"{field}__in": unnest})
        return
    for part in _chunks(values):
        yield from queryset.filter(**{f"{field}__in": part})


# ---- bulk writing ---------------------------------------------------------------------------------------------


def _reserve_ids(model, count):
    """Primary keys for rows written by COPY/INSERT, so children can point at them."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence's name looked up once: inside the row-by-row call it was looked up for every id (5x the
            # time of nextval itself).
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 (table names are ours)
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


#: What a line joined without escaping may not hold: a backslash, a line break, or "None" (maybe a NULL).
_UNSAFE = re.compile(r"[\\\n\r]|None")


def _copy_line(row):
    # str() of a date, datetime, Decimal or int is already what COPY reads. Most lines need no escaping and no NULL:
    # joined in one pass, and escaped value by value only when a tab, backslash, line break or None is in them.
    line = "\t".join(map(str, row))
    if line.count("\t") == len(row) - 1 and not _UNSAFE.search(line):
        return line
    return "\t".join([v.translate(COPY_ESCAPES) if v.__class__ is str else "\\N" if v is None else str(v) for v in row])


class _CopyStream:
    """The rows as COPY text, formatted as the server asks for it, so Python formats while PostgreSQL writes."""

    def __init__(self, rows):
        self.rows = iter(rows)

    def read(self, size=-1):
        lines, length = [], 0
        for row in self.rows:
            line = _copy_line(row)
            lines.append(line)
            length += len(line) + 1
            if 0 < size <= length:
                break
        return "\n".join(lines) + "\n" if lines else ""


def bulk_insert(model, columns, rows):
    """Insert plain tuples: PostgreSQL COPY, or executemany elsewhere. Values are already clean and whole đồng."""
    table = model._meta.db_table
    quoted = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.cursor.copy_expert(f'COPY "{table}" ({quoted}) FROM STDIN', _CopyStream(rows), size=1 << 16)
            return
        marks = ", ".join(["%s"] * len(columns))
        for part in _chunks(rows, 5000):
            cursor.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', part)  # noqa: S608

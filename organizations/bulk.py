"""Writing a few fields of many rows: one prepared UPDATE executed for each row.

Django's `bulk_update` builds one CASE WHEN per field over every row; for the few dozen rows of a collection sheet,
compiling those expressions costs far more than the update itself (a quarter of the demo's seeding time).
"""

from django.db import connections, router


def bulk_set(objects, fields):
    """Save `fields` of every object in `objects` (all of one model), as `bulk_update` would; returns the count."""
    objects = list(objects)
    if not objects:
        return 0
    model = type(objects[0])
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
        + [meta.pk.get_db_prep_value(obj.pk, connection)]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)

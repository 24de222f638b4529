"""Snapshots after a loan-balance import: the batch's own changes added to the snapshot rows of exactly the groups,
days and month ends it touched, instead of deriving those groups' whole history again.

An import of loan balances only adds: new loans, each with its opening postings, schedule and arrears entry, and new
households with their opening savings. When every new loan belongs to a household the same batch created (so no
household counts twice), each figure of a snapshot row is the old figure plus the batch's own, and the batch's own
follow from its loan and household rows alone (the entries `loan_plan.OPENING_SQL` derives from them): at most three
days per loan (disbursed, first marked overdue, the file's day). Anything else goes through
`snapshots.refresh_snapshots`. `tests/test_import_write_path.py` checks the rows against a rebuild from the ledger.
"""

from datetime import date, timedelta

from django.db import connection

from borrowers.models import Household
from loans.ledger.snapshots import (
    DAY_CHANGES_SQL,
    HOUSEHOLDS_SQL,
    SNAPSHOT_FIGURES,
    _execute,
    _tables,
    _write_branch_snapshots,
    branches_of_groups,
    month_ends_between,
    snapshot_span,
)
from loans.models import Loan

#: The batch's own day changes per group, program (0: the group's own row) and day, in the shape of `snapshot_work`.
#: A loan's figures at the end of each of its days follow `snapshots.SNAPSHOT_WORK_SQL` (outstanding = disbursed -
#: repaid; overdue = scheduled through the marked instalment - repaid; arrears known from the file's day on).
IMPORT_WORK_SQL = """
CREATE TEMP TABLE import_snapshot_work AS
WITH batch_loans AS (
    SELECT id, group_id, program_id, household_id, disbursed_on AS lent_on,
           CASE WHEN maturity_on < %(today)s THEN maturity_on ELSE %(today)s END AS marked_on,
           CAST(amount AS BIGINT) AS amount, CAST(amount - principal_outstanding AS BIGINT) AS repaid,
           CAST(overdue_principal AS BIGINT) AS overdue, CAST(interest_arrears AS BIGINT) AS arrears,
           CASE WHEN status = 'frozen' THEN 1 ELSE 0 END AS frozen
    FROM {loan} WHERE import_batch_id = %(batch)s
), changes AS (
    -- Each loan's days, in the order they always come (the file's validation keeps maturity after disbursement, and
    -- the loan was disbursed by the file's day): disbursed, first marked overdue (when it has overdue principal),
    -- the file's day (when it repaid or owes arrears). Its change on each day is its state then minus its state on
    -- the day before it; where two of those days are one day, their changes add up on it, as the day's totals do.
    SELECT group_id, program_id, household_id, lent_on AS day, amount AS d_lent, 0 AS d_collected, {first_change}
    FROM batch_loans
    UNION ALL
    SELECT group_id, program_id, household_id, marked_on, 0, 0, {marked_change}
    FROM batch_loans WHERE overdue > 0
    UNION ALL
    SELECT group_id, program_id, household_id, %(today)s, 0, repaid, {today_change}
    FROM batch_loans WHERE repaid > 0 OR arrears <> 0
), several AS (
    SELECT group_id, household_id FROM batch_loans GROUP BY group_id, household_id HAVING COUNT(*) > 1
)""" + HOUSEHOLDS_SQL + """, savings AS (
    -- A new household's opening savings, in the group it joined: looked up household by household, so that no
    -- join order (a first import has no table statistics) scans the batch's postings once per household.
    SELECT group_id, %(today)s AS day, SUM(savings) AS d_savings FROM (
        SELECT (SELECT m.group_id FROM {membership} m WHERE m.household_id = h.id AND m.left_on IS NULL) AS group_id,
               h.savings_balance AS savings
        FROM {household} h WHERE h.import_batch_id = %(batch)s AND h.savings_balance > 0
    ) opening
    GROUP BY group_id
)
""" + DAY_CHANGES_SQL

#: The batch's own change to each month end it reaches: its day changes up to the month end (lending and collections:
#: those of the month end's year), per group and program.
IMPORT_MONTHS_SQL = """
WITH bounds (k, end_day, year, keep) AS (VALUES {bounds}),
bucketed AS (
    SELECT group_id, program_key, {bucket} AS k, {sum_figures}, SUM(lent) AS lent, SUM(collected) AS collected
    FROM import_snapshot_work WHERE day <= %(last)s
    GROUP BY group_id, program_key, {bucket}
), running AS {materialized} (
    -- The running sums at each month end with a change, held until the next one (the year's flows: within its year).
    -- Materialized: joined to the month ends it holds for, it is computed once, not once per month end.
    SELECT x.group_id, x.program_key, x.k, b.year, {running_figures},
           SUM(x.lent) OVER this_year AS lent_year, SUM(x.collected) OVER this_year AS collected_year,
           LEAD(x.k, 1, {count}) OVER so_far AS next_k
    FROM bucketed x JOIN bounds b ON b.k = x.k
    WINDOW so_far AS (PARTITION BY x.group_id, x.program_key ORDER BY x.k ROWS UNBOUNDED PRECEDING),
           this_year AS (PARTITION BY x.group_id, x.program_key, b.year ORDER BY x.k ROWS UNBOUNDED PRECEDING)
)
SELECT r.group_id, r.program_key, b.end_day AS day, {figures},
       CASE WHEN b.year = r.year THEN r.lent_year ELSE 0 END AS lent_year,
       CASE WHEN b.year = r.year THEN r.collected_year ELSE 0 END AS collected_year
FROM running r JOIN bounds b ON b.k >= r.k AND b.k < r.next_k
WHERE b.keep = 1 AND ({any_figure} OR (b.year = r.year AND (r.lent_year <> 0 OR r.collected_year <> 0)))
"""

#: The existing rows at the (group, program, date) keys the batch changes, set aside; they go, and the batch's change
#: plus what they held (where anything is left) takes their place. A first import into a group has none.
MERGE_EXISTING_SQL = """
CREATE TEMP TABLE import_snapshot_existing AS
SELECT t.id, x.group_id, x.program_key, x.day, {t_figures}, t.{flow_a} AS {flow_a}, t.{flow_b} AS {flow_b}
FROM {table} t JOIN {delta} x
  ON x.group_id = t.group_id AND x.day = t.{date} AND x.program_key = COALESCE(t.program_id, 0)
WHERE x.day >= %(since_day)s
"""
MERGE_DELETE_SQL = "DELETE FROM {table} WHERE id IN (SELECT id FROM import_snapshot_existing)"
MERGE_INSERT_SQL = """
INSERT INTO {table} (group_id, program_id, {date}, {figures}, {flow_a}, {flow_b})
SELECT group_id, NULLIF(program_key, 0), day, {sum_figures}, SUM({flow_a}), SUM({flow_b}) FROM (
    SELECT group_id, program_key, day, {figures}, {flow_a}, {flow_b} FROM {delta} WHERE day >= %(since_day)s
    UNION ALL
    SELECT group_id, program_key, day, {figures}, {flow_a}, {flow_b} FROM import_snapshot_existing
) parts
GROUP BY group_id, program_key, day
HAVING {any_sum} OR SUM({flow_a}) <> 0 OR SUM({flow_b}) <> 0
ORDER BY day
"""
#: The month ends: every existing row of the groups the batch changes from its first day on is set aside; they go,
#: and the batch's change plus what they held takes their place (the change reaches nearly every later month end of
#: its groups anyway).
MONTHS_EXISTING_SQL = """
CREATE TEMP TABLE import_snapshot_existing AS
SELECT t.id, t.group_id, COALESCE(t.program_id, 0) AS program_key, t.month_end AS day, {t_figures},
       t.lent_year, t.collected_year
FROM {month_end} t
WHERE t.month_end >= %(since_day)s AND t.group_id IN (SELECT DISTINCT group_id FROM import_snapshot_work)
"""
MONTHS_INSERT_SQL = """
INSERT INTO {month_end} (group_id, program_id, month_end, {figures}, lent_year, collected_year)
SELECT group_id, NULLIF(program_key, 0), day, {sum_figures}, SUM(lent_year), SUM(collected_year) FROM (
    SELECT * FROM ({months}) batch_months
    UNION ALL
    SELECT group_id, program_key, day, {figures}, lent_year, collected_year FROM import_snapshot_existing
) parts
GROUP BY group_id, program_key, day
HAVING {any_sum} OR SUM(lent_year) <> 0 OR SUM(collected_year) <> 0
ORDER BY day
"""
MONTHS_NEW_SQL = """
INSERT INTO {month_end} (group_id, program_id, month_end, {figures}, lent_year, collected_year)
SELECT group_id, NULLIF(program_key, 0), day, {figures}, lent_year, collected_year FROM ({months}) batch_months
ORDER BY day
"""
#: The same when no existing row is at those keys: the batch's change as it is (its rows are never all zero).
MERGE_NEW_SQL = """
INSERT INTO {table} (group_id, program_id, {date}, {figures}, {flow_a}, {flow_b})
SELECT group_id, NULLIF(program_key, 0), day, {figures}, {flow_a}, {flow_b} FROM {delta} WHERE day >= %(since_day)s
ORDER BY day
"""


def _state(day):
    """A batch loan's figures at the end of `day` (an SQL date), as `snapshots.SNAPSHOT_WORK_SQL` derives them from its
    entries: outstanding = disbursed - repaid (on the file's day); overdue = scheduled through the marked instalment
    (from the day it was marked) - repaid; arrears known from the file's day on."""
    paid = f"CASE WHEN {day} >= %(today)s THEN repaid ELSE 0 END"
    left = f"(amount - {paid})"
    scheduled = f"CASE WHEN overdue > 0 AND {day} >= marked_on THEN repaid + overdue ELSE 0 END"
    return {
        "loans": f"CASE WHEN {left} > 0 THEN 1 ELSE 0 END",
        "out": f"CASE WHEN {left} > 0 THEN {left} ELSE 0 END",
        "overdue": f"CASE WHEN {left} > 0 AND {scheduled} > {paid} THEN {scheduled} - {paid} ELSE 0 END",
        "frozen": f"CASE WHEN {left} > 0 AND frozen = 1 THEN {left} ELSE 0 END",
        "arrears": f"CASE WHEN {day} >= %(today)s THEN arrears ELSE 0 END",
    }


def _change(day, before=None):
    """The columns d_loans, d_out, ... of a loan's change on `day`: its state then, less its state on `before`."""
    now, then = _state(day), _state(before) if before else {}
    return ", ".join(f"{now[k]}{f' - ({then[k]})' if then else ''} AS d_{k}" for k in now)


#: The three days of `IMPORT_WORK_SQL`'s `changes`, each with its change.
LOAN_DAY_CHANGES = {
    "first_change": _change("lent_on"),
    "marked_change": _change("marked_on", "lent_on"),
    "today_change": _change("%(today)s", "CASE WHEN overdue > 0 THEN marked_on ELSE lent_on END"),
}


def _additive(batch_id, today):
    """Whether the batch's snapshot change is its own rows' alone: every new loan is of a household the batch created
    and was disbursed by the file's day."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {quote(Loan._meta.db_table)} l "  # noqa: S608 (table names are ours)
            f"JOIN {quote(Household._meta.db_table)} h ON h.id = l.household_id "
            "WHERE l.import_batch_id = %s AND (h.import_batch_id IS NULL OR h.import_batch_id <> %s "
            "OR l.disbursed_on > %s)",
            [batch_id, batch_id, connection.ops.adapt_datefield_value(today)],
        )
        return cursor.fetchone()[0] == 0


def _bucket(ends):
    whens = " ".join(f"WHEN day <= %(end_{i})s THEN {i}" for i in range(len(ends)))
    return f"CASE {whens} END"


def _merge(tables, *, table, date_column, delta, flows, since):
    """Add the rows of `delta` (from `since` on) to `table`, key by key."""
    names = {
        "table": table,
        "date": connection.ops.quote_name(date_column),
        "delta": delta,
        "figures": tables["figures"],
        "sum_figures": ", ".join(f"SUM({name})" for name in SNAPSHOT_FIGURES),
        "t_figures": ", ".join(f"t.{name}" for name in SNAPSHOT_FIGURES),
        "any_sum": tables["any_sum"],
        "flow_a": flows[0],
        "flow_b": flows[1],
    }
    params = {"since_day": connection.ops.adapt_datefield_value(since)}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS import_snapshot_existing")
        cursor.execute(MERGE_EXISTING_SQL.format(**names), params)
        cursor.execute("SELECT COUNT(*) FROM import_snapshot_existing")
        if cursor.fetchone()[0]:
            cursor.execute(MERGE_DELETE_SQL.format(**names))
            cursor.execute(MERGE_INSERT_SQL.format(**names), params)
        else:
            cursor.execute(MERGE_NEW_SQL.format(**names), params)
        cursor.execute("DROP TABLE import_snapshot_existing")


def snapshots_add_import(*, batch_id, today):
    """Add a loan-balance batch's own changes to the snapshots (group and branch rows), in the import's transaction.
    Returns False, having written nothing, when the change is not the batch's rows' alone (see the module's note):
    the caller then refreshes the touched groups from the ledger."""
    first, last = snapshot_span()
    if first is None:
        return True
    if not _additive(batch_id, today):
        return False
    tables = _tables()
    if connection.vendor == "postgresql":
        _execute("SET LOCAL jit = off")
        _execute("SET LOCAL work_mem = '256MB'")
    ops = connection.ops
    _execute("DROP TABLE IF EXISTS import_snapshot_work")
    with connection.cursor() as cursor:
        cursor.execute(
            IMPORT_WORK_SQL.format(
                **tables, **LOAN_DAY_CHANGES, household=connection.ops.quote_name(Household._meta.db_table)
            ),
            {"batch": batch_id, "today": ops.adapt_datefield_value(today)},
        )
        cursor.execute("SELECT MIN(day), COUNT(*) FROM import_snapshot_work")
        since, count = cursor.fetchone()
    if not count:
        _execute("DROP TABLE import_snapshot_work")
        return True
    if isinstance(since, str):  # SQLite
        since = date.fromisoformat(since)
    since = max(since, first)
    # Month ends: every one the snapshots hold, and the year ends before them so each year's flows start afresh.
    kept = month_ends_between(first, last)
    bounds = sorted(set(kept) | {date(end.year - 1, 12, 31) for end in kept})
    params = {"last": ops.adapt_datefield_value(last)}
    rows = []
    for i, end in enumerate(bounds):
        rows.append(f"({i}, %(end_{i})s, {end.year}, {1 if end in kept else 0})")
        params[f"end_{i}"] = ops.adapt_datefield_value(end)
    months = IMPORT_MONTHS_SQL.format(
        **{
            **tables,
            "running_figures": ", ".join(f"SUM(x.{name}) OVER so_far AS {name}" for name in SNAPSHOT_FIGURES),
            "figures": ", ".join(f"r.{name}" for name in SNAPSHOT_FIGURES),
            "any_figure": " OR ".join(f"r.{name} <> 0" for name in SNAPSHOT_FIGURES),
        },
        bounds=", ".join(rows),
        bucket=_bucket(bounds),
        count=len(bounds),
        materialized="MATERIALIZED" if connection.vendor == "postgresql" else "",
    )
    names = {
        **tables,
        "months": months,
        "sum_figures": ", ".join(f"SUM({name})" for name in SNAPSHOT_FIGURES),
        "t_figures": ", ".join(f"t.{name}" for name in SNAPSHOT_FIGURES),
    }
    params["since_day"] = ops.adapt_datefield_value(since)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS import_snapshot_existing")
        cursor.execute(MONTHS_EXISTING_SQL.format(**names), params)
        cursor.execute("SELECT COUNT(*) FROM import_snapshot_existing")
        if cursor.fetchone()[0]:
            cursor.execute(f"DELETE FROM {tables['month_end']} WHERE id IN (SELECT id FROM import_snapshot_existing)")
            cursor.execute(MONTHS_INSERT_SQL.format(**names), params)
        else:
            cursor.execute(MONTHS_NEW_SQL.format(**names), params)
        cursor.execute("DROP TABLE import_snapshot_existing")
    _merge(
        tables,
        table=tables["day_change"],
        date_column="on",
        delta="import_snapshot_work",
        flows=("lent", "collected"),
        since=max(since, first + timedelta(days=1)),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT group_id FROM import_snapshot_work")
        groups = [row[0] for row in cursor.fetchall()]
    _execute("DROP TABLE import_snapshot_work")
    _write_branch_snapshots(branches_of_groups(groups), first=first, since=since)
    return True

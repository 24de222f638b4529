"""Changes added to the snapshots, instead of deriving the groups' whole history again: a loan-balance import's own
rows, and a day close's overdue marks. Both end in `_add_work`: a table of day changes per group, program and day,
added to the group rows and, summed per ward branch, to the branch rows (day changes and month ends).

An import of loan balances only adds: new loans, each with its opening postings, schedule and arrears entry, and new
households with their opening savings. When every new loan belongs to a household the same batch created (so no
household counts twice), each figure of a snapshot row is the old figure plus the batch's own, and the batch's own
follow from its loan and household rows alone (the entries `loan_plan.OPENING_SQL` derives from them): at most three
days per loan (disbursed, first marked overdue, the file's day). Anything else goes through
`snapshots.refresh_snapshots`. `tests/test_import_write_path.py` checks the rows against a rebuild from the ledger.

A close's marks change only the marked loans' overdue principal (`snapshots_following_marks`);
`tests/test_snapshots.py` checks those rows against a rebuild too.
"""

from contextlib import contextmanager
from datetime import date, timedelta

from django.db import connection

from borrowers.models import Household
from loans.ledger.balances import in_batches
from loans.ledger.snapshots import (
    DAY_CHANGES_SQL,
    HOUSEHOLDS_SQL,
    SNAPSHOT_FIGURES,
    SNAPSHOT_WORK_SQL,
    _execute,
    _tables,
    lock_branch_sums,
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

#: The batch's own change to each month end it reaches: its day changes in `{work}` up to the month end (lending and
#: collections: those of the month end's year), per owner ({owner}: group or ward branch) and program.
IMPORT_MONTHS_SQL = """
WITH bounds (k, end_day, year, keep) AS (VALUES {bounds}),
bucketed AS (
    SELECT {owner}, program_key, {bucket} AS k, {sum_figures}, SUM(lent) AS lent, SUM(collected) AS collected
    FROM {work} WHERE day <= %(last)s
    GROUP BY {owner}, program_key, {bucket}
), running AS {materialized} (
    -- The running sums at each month end with a change, held until the next one (the year's flows: within its year).
    -- Materialized: joined to the month ends it holds for, it is computed once, not once per month end.
    SELECT x.{owner}, x.program_key, x.k, b.year, {running_figures},
           SUM(x.lent) OVER this_year AS lent_year, SUM(x.collected) OVER this_year AS collected_year,
           LEAD(x.k, 1, {count}) OVER so_far AS next_k
    FROM bucketed x JOIN bounds b ON b.k = x.k
    WINDOW so_far AS (PARTITION BY x.{owner}, x.program_key ORDER BY x.k ROWS UNBOUNDED PRECEDING),
           this_year AS (PARTITION BY x.{owner}, x.program_key, b.year ORDER BY x.k ROWS UNBOUNDED PRECEDING)
)
SELECT r.{owner}, r.program_key, b.end_day AS day, {figures},
       CASE WHEN b.year = r.year THEN r.lent_year ELSE 0 END AS lent_year,
       CASE WHEN b.year = r.year THEN r.collected_year ELSE 0 END AS collected_year
FROM running r {held}
WHERE b.keep = 1 AND ({any_figure} OR (b.year = r.year AND (r.lent_year <> 0 OR r.collected_year <> 0)))
"""

#: The batch's day changes summed per ward branch (the groups' branch today), as the branch rows are kept.
BRANCH_WORK_SQL = """
CREATE TEMP TABLE import_branch_work AS
SELECT g.branch_id, w.program_key, w.day, {cast_sums}
FROM {work} w JOIN {group} g ON g.id = w.group_id
GROUP BY g.branch_id, w.program_key, w.day
HAVING {any_sum}
"""

#: The existing rows at the (owner, program, date) keys the batch changes, set aside; they go, and the batch's change
#: plus what they held (where anything is left) takes their place. A first import into a group has none.
MERGE_EXISTING_SQL = """
CREATE TEMP TABLE import_snapshot_existing AS
SELECT t.id, x.{owner}, x.program_key, x.day, {t_figures}, t.{flow_a} AS {flow_a}, t.{flow_b} AS {flow_b}
FROM {table} t JOIN {work} x
  ON x.{owner} = t.{owner} AND x.day = t.{date} AND x.program_key = COALESCE(t.program_id, 0)
WHERE x.day >= %(since_day)s
"""
MERGE_DELETE_SQL = "DELETE FROM {table} WHERE id IN (SELECT id FROM import_snapshot_existing)"
MERGE_INSERT_SQL = """
INSERT INTO {table} ({owner}, program_id, {date}, {figures}, {flow_a}, {flow_b})
SELECT {owner}, NULLIF(program_key, 0), day, {sum_figures}, SUM({flow_a}), SUM({flow_b}) FROM (
    SELECT {owner}, program_key, day, {figures}, {flow_a}, {flow_b} FROM {work} WHERE day >= %(since_day)s
    UNION ALL
    SELECT {owner}, program_key, day, {figures}, {flow_a}, {flow_b} FROM import_snapshot_existing
) parts
GROUP BY {owner}, program_key, day
HAVING {any_sum} OR SUM({flow_a}) <> 0 OR SUM({flow_b}) <> 0
ORDER BY day
"""
#: The same when no existing row is at those keys: the batch's change as it is (its rows are never all zero).
MERGE_NEW_SQL = """
INSERT INTO {table} ({owner}, program_id, {date}, {figures}, {flow_a}, {flow_b})
SELECT {owner}, NULLIF(program_key, 0), day, {figures}, {flow_a}, {flow_b} FROM {work} WHERE day >= %(since_day)s
ORDER BY day
"""
#: The month ends: every existing row of the owners the batch changes from its first day on is set aside; they go,
#: and the batch's change plus what they held takes their place (the change reaches nearly every later month end of
#: its owners anyway).
MONTHS_EXISTING_SQL = """
CREATE TEMP TABLE import_snapshot_existing AS
SELECT t.id, t.{owner}, COALESCE(t.program_id, 0) AS program_key, t.month_end AS day, {t_figures},
       t.lent_year AS lent_year, t.collected_year AS collected_year
FROM {table} t
WHERE t.month_end >= %(since_day)s AND t.{owner} IN (SELECT DISTINCT {owner} FROM {work})
"""
MONTHS_INSERT_SQL = """
INSERT INTO {table} ({owner}, program_id, month_end, {figures}, lent_year, collected_year)
SELECT {owner}, NULLIF(program_key, 0), day, {sum_figures}, SUM(lent_year), SUM(collected_year) FROM (
    SELECT * FROM ({months}) batch_months
    UNION ALL
    SELECT {owner}, program_key, day, {figures}, lent_year, collected_year FROM import_snapshot_existing
) parts
GROUP BY {owner}, program_key, day
HAVING {any_sum} OR SUM(lent_year) <> 0 OR SUM(collected_year) <> 0
ORDER BY day
"""
MONTHS_NEW_SQL = """
INSERT INTO {table} ({owner}, program_id, month_end, {figures}, lent_year, collected_year)
SELECT {owner}, NULLIF(program_key, 0), day, {figures}, lent_year, collected_year FROM ({months}) batch_months
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
    """SQL for the index of the first of `ends` on or after a work row's day: on PostgreSQL, how many of them came
    before it (width_bucket, a binary search); elsewhere a CASE through them."""
    if connection.vendor == "postgresql":
        return f"width_bucket(day - 1, ARRAY[{', '.join(f'%(end_{i})s' for i in range(len(ends)))}])"
    whens = " ".join(f"WHEN day <= %(end_{i})s THEN {i}" for i in range(len(ends)))
    return f"CASE {whens} END"


#: The month ends each running row holds for, from its own up to the next one with a change: generated on PostgreSQL,
#: a range join elsewhere.
HELD_MONTHS = {
    "postgresql": "CROSS JOIN LATERAL generate_series(r.k, r.next_k - 1) AS held (k) JOIN bounds b ON b.k = held.k",
    "sqlite": "JOIN bounds b ON b.k >= r.k AND b.k < r.next_k",
}


def _add(statements, *, names, params):
    """Set the existing rows of `names`' table aside (statements[0]); with some, replace them by their sum with the
    batch's change (statements[1]); with none, insert the change as it is (statements[2])."""
    existing, merged, new = (statement.format(**names) for statement in statements)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS import_snapshot_existing")
        cursor.execute(existing, params)
        cursor.execute("SELECT COUNT(*) FROM import_snapshot_existing")
        if cursor.fetchone()[0]:
            cursor.execute(MERGE_DELETE_SQL.format(**names))
            cursor.execute(merged, params)
        else:
            cursor.execute(new, params)
        cursor.execute("DROP TABLE import_snapshot_existing")


def _add_changes(tables, *, work, owner, month_table, day_table, bounds, kept, params, first, since):
    """Add the day changes in `work` (per `owner`: group_id or branch_id) to the owner's day-change rows, and their
    running sums to its month-end rows."""
    names = {
        **tables,
        "work": work,
        "owner": owner,
        "sum_figures": ", ".join(f"SUM({name})" for name in SNAPSHOT_FIGURES),
        "t_figures": ", ".join(f"t.{name}" for name in SNAPSHOT_FIGURES),
    }
    months = IMPORT_MONTHS_SQL.format(
        **{
            **names,
            "sum_figures": tables["sum_figures"],
            "running_figures": ", ".join(f"SUM(x.{name}) OVER so_far AS {name}" for name in SNAPSHOT_FIGURES),
            "figures": ", ".join(f"r.{name}" for name in SNAPSHOT_FIGURES),
            "any_figure": " OR ".join(f"r.{name} <> 0" for name in SNAPSHOT_FIGURES),
        },
        bounds=", ".join(f"({i}, %(end_{i})s, {end.year}, {1 if end in kept else 0})" for i, end in enumerate(bounds)),
        bucket=_bucket(bounds),
        count=len(bounds),
        materialized="MATERIALIZED" if connection.vendor == "postgresql" else "",
        held=HELD_MONTHS[connection.vendor],
    )
    day = connection.ops.adapt_datefield_value
    _add(
        (MONTHS_EXISTING_SQL, MONTHS_INSERT_SQL, MONTHS_NEW_SQL),
        names={**names, "table": month_table, "months": months},
        params={**params, "since_day": day(since)},
    )
    _add(
        (MERGE_EXISTING_SQL, MERGE_INSERT_SQL, MERGE_NEW_SQL),
        names={
            **names, "table": day_table, "date": connection.ops.quote_name("on"), "flow_a": "lent",
            "flow_b": "collected",
        },
        params={"since_day": day(max(since, first + timedelta(days=1)))},
    )


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
    _add_work("import_snapshot_work", tables=tables, first=first, last=last, since=since)
    _execute("DROP TABLE import_snapshot_work")
    return True


def _add_work(work, *, tables, first, last, since):
    """Add the day changes in the temporary table `work` (group_id, program_key, day, the figures, lent, collected;
    none before `since`) to the group rows, and summed per ward branch to the branch rows: their day changes and
    every month end from `since` on."""
    if isinstance(since, str):  # SQLite
        since = date.fromisoformat(since)
    since = max(since, first)
    ops = connection.ops
    # Month ends: every one the snapshots hold, and the year ends before them so each year's flows start afresh.
    kept = month_ends_between(first, last)
    bounds = sorted(set(kept) | {date(end.year - 1, 12, 31) for end in kept})
    params = {"last": ops.adapt_datefield_value(last)}
    params.update({f"end_{i}": ops.adapt_datefield_value(end) for i, end in enumerate(bounds)})
    span = {"bounds": bounds, "kept": kept, "params": params, "first": first, "since": since}
    _add_changes(
        tables, work=work, owner="group_id", month_table=tables["month_end"], day_table=tables["day_change"], **span
    )
    # The branch rows: the same changes summed per branch first (a few rows per branch and day), so the cost follows
    # the change, not the branches' other groups.
    figures = (*SNAPSHOT_FIGURES, "lent", "collected")
    _execute("DROP TABLE IF EXISTS import_branch_work")
    _execute(
        BRANCH_WORK_SQL.format(
            work=work,
            group=tables["group"],
            cast_sums=", ".join(f"CAST(SUM(w.{name}) AS BIGINT) AS {name}" for name in figures),
            any_sum=" OR ".join(f"SUM(w.{name}) <> 0" for name in figures),
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT branch_id FROM import_branch_work")
        branches = sorted(row[0] for row in cursor.fetchall())
    # Before the branch rows are read: a concurrent change to one of these branches commits first, and is read.
    lock_branch_sums(branches)
    _add_changes(
        tables, work="import_branch_work", owner="branch_id", month_table=tables["branch_month_end"],
        day_table=tables["branch_day_change"], **span,
    )
    _execute("DROP TABLE import_branch_work")


#: The marked loans' day changes after the marks less those before: only their overdue figures differ.
MARKS_CHANGE_SQL = """
CREATE TEMP TABLE snapshot_marks_change AS
SELECT group_id, program_key, day, {cast_sums} FROM (
    SELECT group_id, program_key, day, {figures} FROM snapshot_marks_after
    UNION ALL
    SELECT group_id, program_key, day, {negated} FROM snapshot_marks_before
) parts
GROUP BY group_id, program_key, day
HAVING {any_sum}
"""


def _derive_loans(loan_ids, table):
    """The day changes of these loans alone, derived from the ledger as `snapshots.SNAPSHOT_WORK_SQL` derives a
    group's, into the temporary table `table` (no savings: marking never changes them)."""
    _execute("DROP TABLE IF EXISTS snapshot_marked_loans")
    _execute("CREATE TEMP TABLE snapshot_marked_loans (id BIGINT PRIMARY KEY)")
    for batch in in_batches(sorted(loan_ids)):
        _execute(f"INSERT INTO snapshot_marked_loans (id) VALUES {', '.join(['(%s)'] * len(batch))}", batch)
    _execute("DROP TABLE IF EXISTS snapshot_work")
    _execute(
        SNAPSHOT_WORK_SQL.format(
            **_tables(), loan_scope="id IN (SELECT id FROM snapshot_marked_loans)", membership_scope="1 = 0"
        )
    )
    _execute(f"DROP TABLE IF EXISTS {table}")
    _execute(f"ALTER TABLE snapshot_work RENAME TO {table}")
    _execute("DROP TABLE snapshot_marked_loans")


@contextmanager
def snapshots_following_marks(loan_ids):
    """Around a day close's marking of instalments of these loans overdue: bring the snapshots in line by adding the
    change the marks made to these loans' own day changes. Marking changes only their overdue principal, which is
    each loan's own, so the difference of the loans' derived day changes after and before is exactly their groups'
    and branches' change: the cost follows the loans marked, not the history of their groups."""
    first, last = snapshot_span()
    if first is None or not loan_ids:
        yield
        return
    if connection.vendor == "postgresql":
        _execute("SET LOCAL jit = off")
    _derive_loans(loan_ids, "snapshot_marks_before")
    yield
    _derive_loans(loan_ids, "snapshot_marks_after")
    figures = (*SNAPSHOT_FIGURES, "lent", "collected")
    _execute("DROP TABLE IF EXISTS snapshot_marks_change")
    _execute(
        MARKS_CHANGE_SQL.format(
            cast_sums=", ".join(f"CAST(SUM({name}) AS BIGINT) AS {name}" for name in figures),
            figures=", ".join(figures),
            negated=", ".join(f"-{name}" for name in figures),
            any_sum=" OR ".join(f"SUM({name}) <> 0" for name in figures),
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(day) FROM snapshot_marks_change")
        since = cursor.fetchone()[0]
    if since is not None:
        _add_work("snapshot_marks_change", tables=_tables(), first=first, last=last, since=since)
    for table in ("snapshot_marks_change", "snapshot_marks_before", "snapshot_marks_after"):
        _execute(f"DROP TABLE {table}")

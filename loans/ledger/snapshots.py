"""Snapshots: the figures of any past day without deriving them from every posting."""

import calendar
from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from loans.models import (
    BranchDayChange,
    BranchMonthEnd,
    InterestArrearsEntry,
    Loan,
    LoanStatusChange,
    PortfolioDayChange,
    PortfolioMonthEnd,
    Posting,
    RepaymentInstalment,
    SnapshotCoverage,
)
from organizations.models import SavingsGroup

# PortfolioMonthEnd holds every group's figures at each month end from the first one on; PortfolioDayChange holds what
# changed on each later day. A day's figures are the last month end before it plus the changes since, so a report for
# any covered date reads two small slices whatever the size of the ledger. Both tables are derived from postings,
# overdue marks, status changes and arrears entries by one set-based statement (SNAPSHOT_WORK_SQL), for all groups or
# for the groups a change touched. Rows are written in date order, so a date's rows sit together on disk.
# BranchMonthEnd and BranchDayChange hold the same rows summed per ward branch (the groups' branch today), rewritten
# with them for the branches of the groups touched, so that province-wide pages read a row per branch.

SNAPSHOT_FIGURES = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", "savings")

#: How many households borrow, per group and program and per group, from the parts a work statement derives before it:
#: `changes` (each loan's change of its count of outstanding loans, d_loans, per day) and `several` (the group and
#: household pairs with more than one loan). A household borrows while it has a loan there with something
#: outstanding. With one loan in the group, that is exactly while the loan is (DAY_CHANGES_SQL takes its d_loans);
#: with several, only the days its number of such loans changes matter.
HOUSEHOLDS_SQL = """
, by_program AS (
    SELECT group_id, program_id, household_id, day,
           CASE WHEN SUM(SUM(d_loans)) OVER (PARTITION BY group_id, program_id, household_id ORDER BY day
                                             ROWS UNBOUNDED PRECEDING) > 0 THEN 1 ELSE 0 END AS borrowing
    FROM changes WHERE d_loans <> 0 AND (group_id, household_id) IN (SELECT group_id, household_id FROM several)
    GROUP BY group_id, program_id, household_id, day HAVING SUM(d_loans) <> 0
), by_group AS (
    SELECT group_id, household_id, day,
           CASE WHEN SUM(SUM(d_loans)) OVER (PARTITION BY group_id, household_id ORDER BY day
                                             ROWS UNBOUNDED PRECEDING) > 0 THEN 1 ELSE 0 END AS borrowing
    FROM changes WHERE d_loans <> 0 AND (group_id, household_id) IN (SELECT group_id, household_id FROM several)
    GROUP BY group_id, household_id, day HAVING SUM(d_loans) <> 0
), single AS (
    SELECT group_id, program_id, day, d_loans FROM changes
    WHERE d_loans <> 0 AND (group_id, household_id) NOT IN (SELECT group_id, household_id FROM several)
)
"""

#: The day changes of each group and program (program 0: the group's own row) from the parts a work statement derives
#: before it (`changes`, HOUSEHOLDS_SQL's, `savings`); days where nothing changed are left out.
DAY_CHANGES_SQL = """
SELECT group_id, program_key, day,
       -- Whole numbers (counts and đồng): kept as BIGINT, they are summed again far faster than NUMERIC.
       CAST(SUM(loans) AS BIGINT) AS loans, CAST(SUM(households) AS BIGINT) AS households,
       CAST(SUM(outstanding) AS BIGINT) AS outstanding, CAST(SUM(overdue) AS BIGINT) AS overdue,
       CAST(SUM(frozen) AS BIGINT) AS frozen, CAST(SUM(interest_arrears) AS BIGINT) AS interest_arrears,
       CAST(SUM(savings) AS BIGINT) AS savings, CAST(SUM(lent) AS BIGINT) AS lent,
       CAST(SUM(collected) AS BIGINT) AS collected
FROM (
    SELECT group_id, program_id AS program_key, day, d_loans AS loans, 0 AS households, d_out AS outstanding,
           d_overdue AS overdue, d_frozen AS frozen, d_arrears AS interest_arrears, 0 AS savings, d_lent AS lent,
           d_collected AS collected
    FROM changes
    UNION ALL
    SELECT group_id, program_id, day, 0, d_households, 0, 0, 0, 0, 0, 0, 0 FROM (
        SELECT group_id, program_id, day,
               borrowing - LAG(borrowing, 1, 0) OVER (PARTITION BY group_id, program_id, household_id ORDER BY day)
               AS d_households
        FROM by_program
    ) program_households WHERE d_households <> 0
    UNION ALL
    SELECT group_id, 0, day, 0, d_households, 0, 0, 0, 0, 0, 0, 0 FROM (
        SELECT group_id, day,
               borrowing - LAG(borrowing, 1, 0) OVER (PARTITION BY group_id, household_id ORDER BY day)
               AS d_households
        FROM by_group
    ) group_households WHERE d_households <> 0
    UNION ALL
    SELECT group_id, program_id, day, 0, d_loans, 0, 0, 0, 0, 0, 0, 0 FROM single
    UNION ALL
    SELECT group_id, 0, day, 0, d_loans, 0, 0, 0, 0, 0, 0, 0 FROM single
    UNION ALL
    SELECT group_id, 0, day, 0, 0, 0, 0, 0, 0, d_savings, 0, 0 FROM savings
) parts
GROUP BY group_id, program_key, day
HAVING SUM(loans) <> 0 OR SUM(households) <> 0 OR SUM(outstanding) <> 0 OR SUM(overdue) <> 0 OR SUM(frozen) <> 0
    OR SUM(interest_arrears) <> 0 OR SUM(savings) <> 0 OR SUM(lent) <> 0 OR SUM(collected) <> 0
"""

SNAPSHOT_WORK_SQL = """
CREATE TEMP TABLE snapshot_work AS
WITH scoped AS (
    SELECT id, group_id, program_id, household_id, interest_arrears AS arrears_now,
           CASE WHEN status = 'frozen' THEN 1 ELSE 0 END AS frozen_now
    FROM {loan} WHERE {loan_scope}
), events AS (
    SELECT p.loan_id, p."on" AS day, 1 AS d_posted,
           CASE WHEN p.kind = 'disbursement' THEN p.amount WHEN p.kind = 'principal' THEN -p.amount
                WHEN r.kind = 'disbursement' THEN -p.amount WHEN r.kind = 'principal' THEN p.amount ELSE 0 END AS d_out,
           CASE WHEN p.kind = 'principal' THEN p.amount WHEN r.kind = 'principal' THEN -p.amount ELSE 0 END AS d_paid,
           CASE WHEN p.kind = 'disbursement' THEN p.amount WHEN r.kind = 'disbursement' THEN -p.amount
                ELSE 0 END AS d_lent,
           CASE WHEN p.kind IN ('principal', 'interest', 'overdue_interest') THEN p.amount
                WHEN r.kind IN ('principal', 'interest', 'overdue_interest') THEN -p.amount ELSE 0 END AS d_collected,
           0 AS d_frozen, 0 AS d_arrears, CAST(NULL AS DECIMAL) AS mark
    FROM {posting} p LEFT JOIN {posting} r ON r.id = p.reverses_id
    WHERE p.loan_id IN (SELECT id FROM scoped)
    UNION ALL
    SELECT loan_id, overdue_since, 0, 0, 0, 0, 0, 0, 0, through FROM (
        SELECT loan_id, overdue_since,
               SUM(principal) OVER (PARTITION BY loan_id ORDER BY seq ROWS UNBOUNDED PRECEDING) AS through
        FROM {instalment} WHERE loan_id IN (SELECT id FROM scoped)
    ) marked WHERE overdue_since IS NOT NULL
    UNION ALL
    SELECT loan_id, "on", 0, 0, 0, 0, 0,
           CASE WHEN to_status = 'frozen' THEN 1 ELSE 0 END - CASE WHEN from_status = 'frozen' THEN 1 ELSE 0 END,
           0, NULL
    FROM {status_change}
    WHERE loan_id IN (SELECT id FROM scoped) AND (to_status = 'frozen' OR from_status = 'frozen')
    UNION ALL
    SELECT loan_id, "on", 0, 0, 0, 0, 0, 0, amount, NULL FROM {arrears} WHERE loan_id IN (SELECT id FROM scoped)
), daily AS (
    SELECT loan_id, day, SUM(d_posted) AS d_posted, SUM(d_out) AS d_out, SUM(d_paid) AS d_paid,
           SUM(d_lent) AS d_lent, SUM(d_collected) AS d_collected, SUM(d_frozen) AS d_frozen,
           SUM(d_arrears) AS d_arrears, MAX(mark) AS mark
    FROM events GROUP BY loan_id, day
), running AS (
    SELECT loan_id, day, d_lent, d_collected,
           SUM(d_posted) OVER upto AS posted,
           SUM(d_out) OVER upto AS outstanding,
           SUM(d_paid) OVER upto AS paid,
           MAX(mark) OVER upto AS scheduled,
           SUM(d_frozen) OVER upto - SUM(d_frozen) OVER (PARTITION BY loan_id) AS frozen_shift,
           SUM(d_arrears) OVER upto - SUM(d_arrears) OVER (PARTITION BY loan_id) AS arrears_shift
    FROM daily
    WINDOW upto AS (PARTITION BY loan_id ORDER BY day ROWS UNBOUNDED PRECEDING)
), state AS (
    SELECT x.loan_id, x.day, s.group_id, s.program_id, s.household_id, x.d_lent, x.d_collected,
           CASE WHEN x.outstanding > 0 THEN 1 ELSE 0 END AS c_loans,
           CASE WHEN x.outstanding > 0 THEN x.outstanding ELSE 0 END AS c_out,
           CASE WHEN x.outstanding > 0 AND COALESCE(x.scheduled, 0) > x.paid
                THEN COALESCE(x.scheduled, 0) - x.paid ELSE 0 END AS c_overdue,
           CASE WHEN x.outstanding > 0 AND s.frozen_now + x.frozen_shift > 0 THEN x.outstanding ELSE 0 END AS c_frozen,
           CASE WHEN x.posted > 0 THEN s.arrears_now + x.arrears_shift ELSE 0 END AS c_arrears
    -- The loan table itself, not the `scoped` CTE (the running rows are the scoped loans' already): SQLite joins a CTE
    -- without an index, which costs loans × events.
    FROM running x JOIN (
        SELECT id, group_id, program_id, household_id, interest_arrears AS arrears_now,
               CASE WHEN status = 'frozen' THEN 1 ELSE 0 END AS frozen_now FROM {loan}
    ) s ON s.id = x.loan_id
), changes AS (
    SELECT group_id, program_id, household_id, day, d_lent, d_collected,
           c_loans - LAG(c_loans, 1, 0) OVER prior AS d_loans,
           c_out - LAG(c_out, 1, 0) OVER prior AS d_out,
           c_overdue - LAG(c_overdue, 1, 0) OVER prior AS d_overdue,
           c_frozen - LAG(c_frozen, 1, 0) OVER prior AS d_frozen,
           c_arrears - LAG(c_arrears, 1, 0) OVER prior AS d_arrears
    FROM state
    WINDOW prior AS (PARTITION BY loan_id ORDER BY day)
), several AS (
    SELECT group_id, household_id FROM scoped GROUP BY group_id, household_id HAVING COUNT(*) > 1
)""" + HOUSEHOLDS_SQL + """, savings AS (
    SELECT m.group_id, p."on" AS day,
           SUM(CASE WHEN p.kind = 'savings_in' THEN p.amount WHEN p.kind = 'savings_out' THEN -p.amount
                    WHEN r.kind = 'savings_in' THEN -p.amount WHEN r.kind = 'savings_out' THEN p.amount
                    ELSE 0 END) AS d_savings
    FROM {posting} p LEFT JOIN {posting} r ON r.id = p.reverses_id
    JOIN {membership} m ON m.household_id = p.household_id AND m.left_on IS NULL
    WHERE {membership_scope}
      AND (p.kind IN ('savings_in', 'savings_out') OR r.kind IN ('savings_in', 'savings_out'))
    GROUP BY m.group_id, p."on"
)
""" + DAY_CHANGES_SQL

SNAPSHOT_DAYS_SQL = """
INSERT INTO {day_change} (group_id, program_id, "on", {figures}, lent, collected)
SELECT group_id, NULLIF(program_key, 0), day, {figures}, lent, collected FROM snapshot_work WHERE day >= %s
ORDER BY day
"""

SNAPSHOT_MONTHS_SQL = """
WITH bounds (prev_end, end_day, year, keep) AS (VALUES {bounds}),
bucketed AS (
    SELECT w.group_id, w.program_key, b.end_day, b.year, b.keep, {sum_figures},
           SUM(w.lent) AS lent, SUM(w.collected) AS collected
    FROM snapshot_work w JOIN bounds b ON w.day > b.prev_end AND w.day <= b.end_day
    GROUP BY w.group_id, w.program_key, b.end_day, b.year, b.keep
    UNION ALL
    SELECT k.group_id, k.program_key, b.end_day, b.year, b.keep, {zero_figures}, 0, 0
    FROM (SELECT DISTINCT group_id, program_key FROM snapshot_work) k CROSS JOIN bounds b
), grid AS (
    SELECT group_id, program_key, end_day, keep, {running_figures},
           SUM(SUM(lent)) OVER this_year AS lent_year,
           SUM(SUM(collected)) OVER this_year AS collected_year
    FROM bucketed
    GROUP BY group_id, program_key, end_day, year, keep
    WINDOW so_far AS (PARTITION BY group_id, program_key ORDER BY end_day ROWS UNBOUNDED PRECEDING),
           this_year AS (PARTITION BY group_id, program_key, year ORDER BY end_day ROWS UNBOUNDED PRECEDING)
)
INSERT INTO {month_end} (group_id, program_id, month_end, {figures}, lent_year, collected_year)
SELECT group_id, NULLIF(program_key, 0), end_day, {figures}, lent_year, collected_year FROM grid
WHERE keep = 1 AND ({any_figure} OR lent_year <> 0 OR collected_year <> 0)
ORDER BY end_day
"""

SNAPSHOT_ROLL_SQL = """
INSERT INTO {month_end} ({owner}, program_id, month_end, {figures}, lent_year, collected_year)
SELECT {owner}, program_id, %s, {sum_figures}, SUM(lent_year), SUM(collected_year) FROM (
    SELECT {owner}, program_id, {figures},
           CASE WHEN %s THEN lent_year ELSE 0 END AS lent_year,
           CASE WHEN %s THEN collected_year ELSE 0 END AS collected_year
    FROM {month_end} WHERE month_end = %s
    UNION ALL
    SELECT {owner}, program_id, {figures}, lent, collected FROM {day_change} WHERE "on" > %s AND "on" <= %s
) parts
GROUP BY {owner}, program_id
HAVING {any_sum} OR SUM(lent_year) <> 0 OR SUM(collected_year) <> 0
"""


BRANCH_DAYS_SQL = """
INSERT INTO {branch_day_change} (branch_id, program_id, "on", {figures}, lent, collected)
SELECT g.branch_id, d.program_id, d."on", {sum_d_figures}, SUM(d.lent), SUM(d.collected)
FROM {day_change} d JOIN {group} g ON g.id = d.group_id
WHERE d."on" >= %s AND {branch_scope}
GROUP BY g.branch_id, d.program_id, d."on"
HAVING {any_d_sum} OR SUM(d.lent) <> 0 OR SUM(d.collected) <> 0
ORDER BY d."on"
"""

BRANCH_MONTHS_SQL = """
INSERT INTO {branch_month_end} (branch_id, program_id, month_end, {figures}, lent_year, collected_year)
SELECT g.branch_id, m.program_id, m.month_end, {sum_m_figures}, SUM(m.lent_year), SUM(m.collected_year)
FROM {month_end} m JOIN {group} g ON g.id = m.group_id
WHERE m.month_end >= %s AND {branch_scope}
GROUP BY g.branch_id, m.program_id, m.month_end
HAVING {any_m_sum} OR SUM(m.lent_year) <> 0 OR SUM(m.collected_year) <> 0
ORDER BY m.month_end
"""


def _tables():
    from organizations.models import GroupMembership as Membership

    quote = connection.ops.quote_name
    return {
        "loan": quote(Loan._meta.db_table),
        "posting": quote(Posting._meta.db_table),
        "instalment": quote(RepaymentInstalment._meta.db_table),
        "status_change": quote(LoanStatusChange._meta.db_table),
        "arrears": quote(InterestArrearsEntry._meta.db_table),
        "membership": quote(Membership._meta.db_table),
        "day_change": quote(PortfolioDayChange._meta.db_table),
        "month_end": quote(PortfolioMonthEnd._meta.db_table),
        "branch_day_change": quote(BranchDayChange._meta.db_table),
        "branch_month_end": quote(BranchMonthEnd._meta.db_table),
        "group": quote(SavingsGroup._meta.db_table),
        "figures": ", ".join(SNAPSHOT_FIGURES),
        "sum_figures": ", ".join(f"SUM({name}) AS {name}" for name in SNAPSHOT_FIGURES),
        "running_figures": ", ".join(f"SUM(SUM({name})) OVER so_far AS {name}" for name in SNAPSHOT_FIGURES),
        "zero_figures": ", ".join("0" for _name in SNAPSHOT_FIGURES),
        "any_figure": " OR ".join(f"{name} <> 0" for name in SNAPSHOT_FIGURES),
        "any_sum": " OR ".join(f"SUM({name}) <> 0" for name in SNAPSHOT_FIGURES),
        **{
            f"sum_{alias}_figures": ", ".join(f"SUM({alias}.{name})" for name in SNAPSHOT_FIGURES)
            for alias in ("d", "m")
        },
        **{f"any_{alias}_sum": " OR ".join(f"SUM({alias}.{name}) <> 0" for name in SNAPSHOT_FIGURES) for alias in ("d", "m")},
    }


def month_end_of(day):
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_ends_between(first, last):
    """Every month end from `first` to `last` (both month ends), in order."""
    ends, day = [], first
    while day <= last:
        ends.append(day)
        day = month_end_of(day + timedelta(days=1))
    return ends


def snapshot_span():
    """(first, last) month end the snapshots hold, or (None, None) before the first build."""
    coverage = SnapshotCoverage.objects.order_by().values_list("first_month_end", "last_month_end").first()
    return coverage or (None, None)


def _execute(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))
        return cursor.rowcount


#: PostgreSQL advisory lock namespace of the per-branch sums: key (BRANCH_SUMS_LOCK, branch id) for one branch,
#: (BRANCH_SUMS_LOCK, 0) shared by those and taken alone to rewrite every branch.
BRANCH_SUMS_LOCK = 73_401


def lock_branch_sums(branch_ids):
    """Until the transaction ends, let no other transaction rewrite the sums of these branches (None: of any branch).

    Two changes to different groups of one branch at once would each sum the other group's rows as they were before
    it, and one branch's rows could be written twice. SQLite writes one transaction at a time: nothing to do."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if branch_ids is None:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [BRANCH_SUMS_LOCK])
            return
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, 0)", [BRANCH_SUMS_LOCK])
        # In one order, so that two transactions locking overlapping branches never wait for each other in a circle.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, b) FROM (SELECT DISTINCT unnest(%s::integer[]) AS b ORDER BY b) AS ids",
            [BRANCH_SUMS_LOCK, list(branch_ids)],
        )


def branches_of_groups(group_ids):
    """The ward branches (today's) of these groups, as a list; None for None (every branch)."""
    if group_ids is None:
        return None
    return sorted(set(SavingsGroup.objects.filter(pk__in=group_ids).values_list("branch_id", flat=True)))


def _write_branch_snapshots(branch_ids, *, first, since):
    """Rewrite the branch rows of these branches (None: all) from `since` (day changes from the day after `first`)
    as the sums of the group rows of the groups now in them. Reads only these branches' group rows from `since`."""
    tables = _tables()
    days = BranchDayChange.objects.filter(on__gte=max(since, first + timedelta(days=1)))
    months = BranchMonthEnd.objects.filter(month_end__gte=since)
    if branch_ids is None:
        branch_scope, scope_params = "1 = 1", []
    else:
        if not branch_ids:
            return
        branch_scope, scope_params = f"g.branch_id IN ({', '.join(['%s'] * len(branch_ids))})", list(branch_ids)
        days, months = days.filter(branch__in=branch_ids), months.filter(branch__in=branch_ids)
    lock_branch_sums(branch_ids)
    days.delete()
    _execute(
        BRANCH_DAYS_SQL.format(**tables, branch_scope=branch_scope),
        [max(since, first + timedelta(days=1)), *scope_params],
    )
    months.delete()
    _execute(BRANCH_MONTHS_SQL.format(**tables, branch_scope=branch_scope), [since, *scope_params])


def refresh_branch_snapshots(branch_ids=None, since=None):
    """Bring the branch rows of these branches (None: all) in line with their groups' rows from `since` on (None:
    from the first month end): after groups change branch (a ward merger), for the branches they left and joined."""
    first, _last = snapshot_span()
    if first is None:
        return
    since = first if since is None else max(since, first)
    with transaction.atomic():
        _write_branch_snapshots(branch_ids, first=first, since=since)


def _write_snapshots(group_ids, *, first, since, month_ends):
    """Rewrite the day changes from `since` and the month ends in `month_ends` of the groups (None: all groups)."""
    tables = _tables()
    if group_ids is None:
        loan_scope, membership_scope, scope_params = "1 = 1", "1 = 1", []
    else:
        sql, scope_params = SavingsGroup.objects.filter(pk__in=group_ids).values("pk").query.sql_with_params()
        loan_scope, membership_scope = f"group_id IN ({sql})", f"m.group_id IN ({sql})"
        scope_params = list(scope_params)
    days = PortfolioDayChange.objects.filter(on__gte=max(since, first + timedelta(days=1)))
    months = PortfolioMonthEnd.objects.filter(month_end__gte=since)
    if group_ids is not None:
        days, months = days.filter(group__in=group_ids), months.filter(group__in=group_ids)
    if connection.vendor == "postgresql":
        # One big statement: compiling it (JIT) costs more than running it, and its sorts fit in memory.
        _execute("SET LOCAL jit = off")
        _execute("SET LOCAL work_mem = '256MB'")
    _execute("DROP TABLE IF EXISTS snapshot_work")
    _execute(
        SNAPSHOT_WORK_SQL.format(**tables, loan_scope=loan_scope, membership_scope=membership_scope),
        scope_params + scope_params,
    )
    if connection.vendor == "postgresql":
        _execute("ANALYZE snapshot_work")
    days.delete()
    _execute(SNAPSHOT_DAYS_SQL.format(**tables), [max(since, first + timedelta(days=1))])
    months.delete()
    kept = [end for end in month_ends if end >= since]
    if kept:
        # Year ends before each kept month split the running sums so the year's flows restart every January.
        helpers = {date(end.year - 1, 12, 31) for end in kept}
        bounds = sorted(set(kept) | helpers)
        rows, params, previous = [], [], date(1, 1, 1)
        for end in bounds:
            rows.append("(%s, %s, %s, %s)")
            params += [previous, end, end.year, 1 if end in kept else 0]
            previous = end
        _execute(SNAPSHOT_MONTHS_SQL.format(**tables, bounds=", ".join(rows)), params)
    _execute("DROP TABLE snapshot_work")
    _write_branch_snapshots(branches_of_groups(group_ids), first=first, since=since)


def refresh_snapshots(group_ids=None, since=None):
    """Bring the snapshots of these groups (None: all) in line with the ledger from `since` on (None: from the
    first month end). Does nothing before `snapshots_rebuild` has run once."""
    first, last = snapshot_span()
    if first is None:
        return
    since = first if since is None else max(since, first)
    with transaction.atomic():
        _write_snapshots(group_ids, first=first, since=since, month_ends=month_ends_between(first, last))


def snapshots_rebuild(*, since, until=None):
    """Rebuild every snapshot from the ledger: month ends from 31/12 of the year before `since` up to the last one
    before `until` (default today), and every day change after the first month end. Returns the month ends."""
    until = until or timezone.localdate()
    first = date(since.year - 1, 12, 31)
    last = month_end_of(until.replace(day=1) - timedelta(days=1))
    ends = month_ends_between(first, max(first, last))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            tables = _tables()
            _execute(
                f"TRUNCATE {tables['month_end']}, {tables['day_change']}, {tables['branch_month_end']}, "
                f"{tables['branch_day_change']}"
            )
        else:
            for model in (PortfolioMonthEnd, PortfolioDayChange, BranchMonthEnd, BranchDayChange):
                model.objects.all().delete()
        _write_snapshots(None, first=first, since=first, month_ends=ends)
        SnapshotCoverage.objects.all().delete()
        SnapshotCoverage.objects.create(first_month_end=first, last_month_end=ends[-1])
    return ends


def snapshots_close_months(today=None):
    """Add the month ends that passed since the last one, from the last month end plus the day changes since.

    `close_day` and the summary refresh call it; until it runs, past dates read more day changes, never wrong ones.
    """
    today = today or timezone.localdate()
    first, last = snapshot_span()
    if first is None:
        return []
    tables = _tables()
    added = []
    with transaction.atomic():
        if month_end_of(last + timedelta(days=1)) < today:
            lock_branch_sums(None)
        while (end := month_end_of(last + timedelta(days=1))) < today:
            same_year = end.year == last.year
            for owner, month_table, day_table in (
                ("group_id", tables["month_end"], tables["day_change"]),
                ("branch_id", tables["branch_month_end"], tables["branch_day_change"]),
            ):
                _execute(
                    SNAPSHOT_ROLL_SQL.format(**{**tables, "month_end": month_table, "day_change": day_table}, owner=owner),
                    [end, same_year, same_year, last, last, end],
                )
            added.append(end)
            last = end
        SnapshotCoverage.objects.update(last_month_end=last)
    return added

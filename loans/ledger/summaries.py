"""Per-group and per-branch summaries derived from the ledger: lending and collection flows, group balances,
the portfolio as of any date and the monthly trend."""

from collections import defaultdict
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from loans.ledger.balances import Kind, net_amount
from loans.ledger.snapshots import (
    branches_of_groups,
    lock_branch_sums,
    refresh_branch_snapshots,
    refresh_snapshots,
    snapshot_span,
    snapshots_close_months,
)
from loans.models import (
    BranchBalance,
    BranchMonthEnd,
    BranchProgramBalance,
    GroupBalance,
    GroupProgramBalance,
    InterestArrearsEntry,
    Loan,
    LoanStatusChange,
    MonthlyBalance,
    Posting,
    RepaymentInstalment,
)
from organizations.models import GroupMembership, SavingsGroup

FLOW_FIELDS = ("lent_month", "lent_year", "collected_month", "collected_year")
COLLECTION_KINDS = (Kind.PRINCIPAL, Kind.INTEREST, Kind.OVERDUE_INTEREST)


def flow_sums(month_start, prefix=""):
    """Aggregates of lending (disbursements) and collections (principal and interest), net of reversals, for the
    month from `month_start` and the whole queryset (the year)."""
    lent = net_amount(Kind.DISBURSEMENT, prefix)
    first, *rest = COLLECTION_KINDS
    collected = sum((net_amount(kind, prefix) for kind in rest), net_amount(first, prefix))
    month = Q(**{f"{prefix}on__gte": month_start})
    return {
        "lent_month": Sum(lent, filter=month),
        "lent_year": Sum(lent),
        "collected_month": Sum(collected, filter=month),
        "collected_year": Sum(collected),
    }


def flow_postings(postings, on):
    """Loan postings (and reversals) from 1 January of on's year up to `on`."""
    return postings.filter(
        on__gte=on.replace(month=1, day=1), on__lte=on, kind__in=(*Posting.LOAN_KINDS, Kind.REVERSAL)
    ).order_by()


def refresh_group_balances(group_ids=None, today=None, since=None, snapshots=True):
    """Rewrite the per-group totals (GroupProgramBalance, GroupBalance) from the cached loan and savings balances,
    and the groups' snapshots for past dates from `since` on (None: all of them; snapshots=False: the caller has
    brought them in line itself, as a loan-balance import does).

    `group_ids` is a list or a values() queryset of group ids; None rebuilds every group. Set-based: one aggregate
    query per table, whatever the number of loans.
    """
    groups = SavingsGroup.objects.all() if group_ids is None else SavingsGroup.objects.filter(pk__in=group_ids)
    group_pks = list(groups.values_list("pk", flat=True))
    if not group_pks:
        return
    if snapshots:
        refresh_snapshots(None if group_ids is None else group_pks, since=since)
    scope = {} if group_ids is None else {"group__in": group_pks}
    is_outstanding = Q(principal_outstanding__gt=0)
    loans = Loan.objects.filter(is_outstanding | Q(interest_arrears__gt=0), **scope).order_by()
    by_program = loans.values(g=F("group"), p=F("program")).annotate(
        loans=Count("pk", filter=is_outstanding),
        households=Count("household", distinct=True, filter=is_outstanding),
        outstanding=Sum("principal_outstanding"),
        overdue=Sum("overdue_principal"),
        frozen=Sum("principal_outstanding", filter=Q(status=Loan.Status.FROZEN)),
        interest_arrears=Sum("interest_arrears"),
    )
    today = today or timezone.localdate()
    flows = (
        flow_postings(Posting.objects.filter(**{f"loan__{k}": v for k, v in scope.items()}), today)
        .values(g=F("loan__group"), p=F("loan__program"))
        .annotate(**flow_sums(today.replace(day=1)))
    )
    by_group = (
        loans.filter(is_outstanding).values(g=F("group")).annotate(households=Count("household", distinct=True))
    )
    savings = (
        GroupMembership.objects.filter(left_on__isnull=True, **scope)
        .order_by()
        .values(g=F("group"))
        .annotate(savings=Sum("household__savings_balance"))
    )
    with transaction.atomic():
        GroupProgramBalance.objects.filter(**scope).delete()
        GroupBalance.objects.filter(**scope).delete()
        # Straight from the aggregates into the tables: no row passes through Python.
        _insert_sums(
            GroupProgramBalance,
            keys=("group_id", "program_id"),
            parts=[(by_program, GROUP_PROGRAM_FIGURES), (flows, FLOW_FIELDS)],
            extra={"flows_on": today},
        )
        _insert_sums(GroupBalance, keys=("group_id",), parts=[(by_group, ("households",)), (savings, ("savings",))])
        refresh_branch_balances(None if group_ids is None else branches_of_groups(group_pks))


#: The figures of a GroupProgramBalance taken from its loans' cached balances (the others are FLOW_FIELDS).
GROUP_PROGRAM_FIGURES = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears")

INSERT_SUMS_SQL = """
INSERT INTO {table} ({keys}, {columns})
SELECT {key_aliases}, {sums} FROM ({parts}) parts
GROUP BY {key_aliases}
"""


def _insert_sums(model, *, keys, parts, extra=None):
    """Insert into `model` one row per key of the aggregate querysets in `parts` ([(queryset, its figures)], each
    selecting the keys as g, p, ... and its figures by name): each figure from the queryset that has it (0 where none
    does), and `extra` {column: value} on every row."""
    aliases = ["g", "p"][: len(keys)]
    figures = [name for _queryset, names in parts for name in names]
    selects, params = [], []
    for queryset, names in parts:
        sql, query_params = queryset.query.sql_with_params()
        columns = [f"part.{name} AS {name}" if name in names else f"0 AS {name}" for name in figures]
        selects.append(f"SELECT {', '.join(f'part.{a}' for a in aliases)}, {', '.join(columns)} FROM ({sql}) part")
        params.extend(query_params)
    quote = connection.ops.quote_name
    extra = extra or {}
    statement = INSERT_SUMS_SQL.format(
        table=quote(model._meta.db_table),
        keys=", ".join(quote(key) for key in keys),
        columns=", ".join(quote(name) for name in [*figures, *extra]),
        key_aliases=", ".join(aliases),
        sums=", ".join([*(f"COALESCE(SUM({name}), 0)" for name in figures), *("%s" for _name in extra)]),
        parts=" UNION ALL ".join(selects),
    )
    values = [connection.ops.adapt_datefield_value(value) for value in extra.values()]
    with connection.cursor() as cursor:
        # The extra values' placeholders come before the parts' in the statement.
        cursor.execute(statement, [*values, *params])


#: GroupProgramBalance figures summed into BranchProgramBalance.
BRANCH_PROGRAM_FIGURES = (
    "loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", *FLOW_FIELDS,
)


def refresh_branch_balances(branch_ids=None):
    """Rewrite the per-branch totals (BranchProgramBalance, BranchBalance) of these branches (None: all) as the sums
    of the per-group ones of the groups now in them: two aggregate queries over those groups' rows."""
    if branch_ids is not None and not branch_ids:
        return
    scope = {} if branch_ids is None else {"group__branch__in": branch_ids}
    programs = (
        GroupProgramBalance.objects.filter(**scope)
        .order_by()
        .values("program", "flows_on", branch_key=F("group__branch"))
        .annotate(**{f"total_{name}": Sum(name) for name in BRANCH_PROGRAM_FIGURES})
    )
    wholes = (
        GroupBalance.objects.filter(**scope)
        .order_by()
        .values(branch_key=F("group__branch"))
        .annotate(total_households=Sum("households"), total_savings=Sum("savings"))
    )
    own = {} if branch_ids is None else {"branch__in": branch_ids}
    with transaction.atomic():
        # Before reading the group rows: each statement then sees what a concurrent change to the branch committed.
        lock_branch_sums(branch_ids)
        BranchProgramBalance.objects.filter(**own).delete()
        BranchBalance.objects.filter(**own).delete()
        BranchProgramBalance.objects.bulk_create(
            [
                BranchProgramBalance(
                    branch_id=row["branch_key"],
                    program_id=row["program"],
                    flows_on=row["flows_on"],
                    **{name: row[f"total_{name}"] or 0 for name in BRANCH_PROGRAM_FIGURES},
                )
                for row in programs
            ],
            batch_size=5000,
        )
        BranchBalance.objects.bulk_create(
            [
                BranchBalance(
                    branch_id=row["branch_key"], households=row["total_households"] or 0,
                    savings=row["total_savings"] or 0,
                )
                for row in wholes
            ],
            batch_size=5000,
        )


def refresh_branch_totals(branch_ids):
    """After groups changed ward branch (a ward merger): rewrite today's totals and the snapshots of the branches
    they left and joined from their groups' rows. The cost follows those branches, not the province."""
    branch_ids = sorted(set(branch_ids))
    refresh_branch_balances(branch_ids)
    refresh_branch_snapshots(branch_ids)


def month_ends(before, count=12):
    """The last `count` month ends strictly before `before`, oldest first."""
    ends = []
    day = before.replace(day=1)
    for _ in range(count):
        day = day - timedelta(days=1)
        ends.append(day)
        day = day.replace(day=1)
    return ends[::-1]


DERIVED_SQL = """
    WITH scoped (scoped_id) AS ({scoped}),
    paid AS (
        SELECT p.loan_id,
               SUM(CASE WHEN p.kind = %s THEN p.amount
                        WHEN p.kind = %s AND r.kind = %s THEN -p.amount ELSE 0 END) AS disbursed,
               SUM(CASE WHEN p.kind = %s THEN p.amount
                        WHEN p.kind = %s AND r.kind = %s THEN -p.amount ELSE 0 END) AS repaid
        FROM {posting} p LEFT JOIN {posting} r ON r.id = p.reverses_id
        WHERE p.loan_id IN (SELECT scoped_id FROM scoped) AND p."on" <= %s
        GROUP BY p.loan_id
    ), due AS (
        -- Scheduled principal up to the latest instalment marked overdue by `on` (FIFO, as _overdue_scheduled):
        -- repayments settle the earliest instalments first, so the missed one is what the repaid total falls short of.
        SELECT i.loan_id, SUM(i.principal) AS scheduled FROM {instalment} i
        JOIN (SELECT loan_id, MAX(seq) AS last_seq FROM {instalment}
              WHERE loan_id IN (SELECT scoped_id FROM scoped) AND overdue_since IS NOT NULL AND overdue_since <= %s
              GROUP BY loan_id) marked ON marked.loan_id = i.loan_id AND i.seq <= marked.last_seq
        GROUP BY i.loan_id
    ), later_arrears AS (
        SELECT loan_id, SUM(amount) AS total FROM {arrears}
        WHERE loan_id IN (SELECT scoped_id FROM scoped) AND "on" > %s
        GROUP BY loan_id
    ), later_frozen AS (
        SELECT loan_id, SUM(CASE WHEN to_status = %s THEN 1 ELSE 0 END
                            - CASE WHEN from_status = %s THEN 1 ELSE 0 END) AS total
        FROM {status_change}
        WHERE loan_id IN (SELECT scoped_id FROM scoped) AND "on" > %s AND (to_status = %s OR from_status = %s)
        GROUP BY loan_id
    ), balances AS (
        SELECT l.id, l.household_id, l.program_id, l.group_id,
               CASE WHEN l.status = %s THEN 1 ELSE 0 END - COALESCE(later_frozen.total, 0) AS frozen,
               CASE WHEN paid.loan_id IS NULL THEN 0
                    ELSE l.interest_arrears - COALESCE(later_arrears.total, 0) END AS interest_arrears,
               COALESCE(paid.disbursed, 0) - COALESCE(paid.repaid, 0) AS outstanding,
               CASE WHEN COALESCE(due.scheduled, 0) > COALESCE(paid.repaid, 0)
                    THEN COALESCE(due.scheduled, 0) - COALESCE(paid.repaid, 0) ELSE 0 END AS overdue
        FROM {loan} l LEFT JOIN paid ON paid.loan_id = l.id LEFT JOIN due ON due.loan_id = l.id
        LEFT JOIN later_arrears ON later_arrears.loan_id = l.id LEFT JOIN later_frozen ON later_frozen.loan_id = l.id
        WHERE l.id IN (SELECT scoped_id FROM scoped)
    )
    SELECT {dims}
           COUNT(CASE WHEN x.outstanding > 0 THEN 1 END),
           COUNT(DISTINCT CASE WHEN x.outstanding > 0 THEN x.household_id END),
           SUM(CASE WHEN x.outstanding > 0 THEN x.outstanding ELSE 0 END),
           SUM(CASE WHEN x.outstanding > 0 THEN x.overdue ELSE 0 END),
           SUM(CASE WHEN x.outstanding > 0 AND x.frozen > 0 THEN x.outstanding ELSE 0 END),
           SUM(x.interest_arrears)
    FROM balances x JOIN {group} g ON g.id = x.group_id JOIN {organization} b ON b.id = {branch}
    WHERE x.outstanding > 0 OR x.interest_arrears > 0
    {group_by}
"""

#: Where each breakdown dimension lives in DERIVED_SQL.
DERIVED_DIMENSIONS = {"kind": "b.kind", "ward": "b.ward_id", "branch": "b.id", "program": "x.program_id",
                      "group": "x.group_id"}
DERIVED_FIGURES = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears")


#: A group's branch on a date, before the ward mergers after it (organizations.selectors.history, in SQL).
BRANCH_THEN_SQL = """COALESCE((SELECT t.from_branch_id FROM {transfer} t WHERE t.group_id = g.id AND t.moved_on > %s
                             ORDER BY t.moved_on, t.id LIMIT 1), g.branch_id)"""


def derived_portfolio(loans, on, by=(), then=None):
    """{key: figures} of `loans` as of `on`, derived from postings and the schedule like `with_derived_balances`
    (frozen from the status changes, interest arrears from the arrears entries dated after `on`),
    grouped by the `by` dimensions, in one statement with a single pass over the postings (annotating each loan
    with correlated subqueries takes minutes at a million loans). With `then`, wards and branches are those of that
    date."""
    from organizations.models import GroupTransfer, Organization

    scoped, scoped_params = loans.order_by().values("pk").query.sql_with_params()
    dims = [DERIVED_DIMENSIONS[name] for name in by]
    statement = DERIVED_SQL.format(
        scoped=scoped,
        posting=connection.ops.quote_name(Posting._meta.db_table),
        instalment=connection.ops.quote_name(RepaymentInstalment._meta.db_table),
        loan=connection.ops.quote_name(Loan._meta.db_table),
        arrears=connection.ops.quote_name(InterestArrearsEntry._meta.db_table),
        status_change=connection.ops.quote_name(LoanStatusChange._meta.db_table),
        group=connection.ops.quote_name(SavingsGroup._meta.db_table),
        organization=connection.ops.quote_name(Organization._meta.db_table),
        branch=BRANCH_THEN_SQL.format(transfer=connection.ops.quote_name(GroupTransfer._meta.db_table))
        if then else "g.branch_id",
        dims="".join(f"{dim}, " for dim in dims),
        group_by=f"GROUP BY {', '.join(dims)}" if dims else "",
    )
    params = [
        *scoped_params,
        Kind.DISBURSEMENT, Kind.REVERSAL, Kind.DISBURSEMENT,
        Kind.PRINCIPAL, Kind.REVERSAL, Kind.PRINCIPAL,
        on,
        on,
        on,
        Loan.Status.FROZEN, Loan.Status.FROZEN, on, Loan.Status.FROZEN, Loan.Status.FROZEN,
        Loan.Status.FROZEN,
        *([then] if then else []),
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    result = {}
    for row in rows:
        key, figures = tuple(row[: len(dims)]), row[len(dims) :]
        if figures[0] is None and not dims:
            continue
        result[key] = dict(zip(DERIVED_FIGURES, (value or 0 for value in figures), strict=True))
    return result


MONTHLY_SQL = """
    WITH events (loan_id, k, disbursed, repaid, scheduled) AS (
        SELECT p.loan_id, {bucket_on},
               CASE WHEN p.kind = %(disbursement)s THEN p.amount
                    WHEN p.kind = %(reversal)s AND r.kind = %(disbursement)s THEN -p.amount ELSE 0 END,
               CASE WHEN p.kind = %(principal)s THEN p.amount
                    WHEN p.kind = %(reversal)s AND r.kind = %(principal)s THEN -p.amount ELSE 0 END,
               0
        FROM {posting} p LEFT JOIN {posting} r ON r.id = p.reverses_id
        WHERE p.loan_id IS NOT NULL AND p."on" <= %(last)s AND p.kind IN (%(disbursement)s, %(principal)s, %(reversal)s)
        UNION ALL
        -- A marked instalment: the principal scheduled up to and including it (FIFO, as DERIVED_SQL's `due`).
        SELECT loan_id, {bucket_overdue}, 0, 0,
               COALESCE(scheduled_through, (SELECT SUM(j.principal) FROM {instalment} j
                                            WHERE j.loan_id = i.loan_id AND j.seq <= i.seq))
        FROM {instalment} i
        WHERE overdue_since IS NOT NULL AND overdue_since <= %(last)s
    ), steps AS (
        SELECT loan_id, k, SUM(disbursed) AS disbursed, SUM(repaid) AS repaid, MAX(scheduled) AS scheduled
        FROM events GROUP BY loan_id, k
    ), states AS (
        SELECT loan_id, k, LEAD(k, 1, %(count)s) OVER w AS until_k,
               SUM(disbursed) OVER w - SUM(repaid) OVER w AS outstanding,
               MAX(scheduled) OVER w - SUM(repaid) OVER w AS overdue
        FROM steps WINDOW w AS (PARTITION BY loan_id ORDER BY k)
    )
    SELECT s.k, s.until_k, g.branch_id, SUM(s.outstanding),
           SUM(CASE WHEN s.overdue > 0 THEN s.overdue ELSE 0 END)
    FROM states s JOIN {loan} l ON l.id = s.loan_id JOIN {group} g ON g.id = l.group_id
    WHERE s.outstanding > 0
    GROUP BY s.k, s.until_k, g.branch_id
"""


def _month_bucket(column, ends):
    """SQL for the index of the first month end on or after `column` (0 for anything before the first one)."""
    whens = " ".join(f"WHEN {column} <= %(end_{i})s THEN {i}" for i in range(len(ends) - 1))
    return f"CASE {whens} ELSE {len(ends) - 1} END"


def monthly_portfolio(ends):
    """{(month end, branch id): (outstanding, overdue)} at each of `ends` (ascending), derived from postings and the
    schedule exactly as `derived_portfolio` derives them for one date, in a single pass: each loan's balance only
    changes at its own events, so it is computed once per month bucket with an event and held until the next one."""
    quote = connection.ops.quote_name
    statement = MONTHLY_SQL.format(
        posting=quote(Posting._meta.db_table),
        instalment=quote(RepaymentInstalment._meta.db_table),
        loan=quote(Loan._meta.db_table),
        group=quote(SavingsGroup._meta.db_table),
        bucket_on=_month_bucket('p."on"', ends),
        bucket_overdue=_month_bucket("overdue_since", ends),
    )
    params = {
        "disbursement": Kind.DISBURSEMENT,
        "principal": Kind.PRINCIPAL,
        "reversal": Kind.REVERSAL,
        "last": connection.ops.adapt_datefield_value(ends[-1]),
        "count": len(ends),
        **{f"end_{i}": connection.ops.adapt_datefield_value(end) for i, end in enumerate(ends)},
    }
    result = defaultdict(lambda: [0, 0])
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for k, until_k, branch, outstanding, overdue in cursor.fetchall():
            for index in range(k, until_k):
                figures = result[(ends[index], branch)]
                figures[0] += outstanding or 0
                figures[1] += overdue or 0
    return result


#: Month ends kept per ward branch: the 12-month trend of today and of any date in the past year, so a past date's
#: trend reads these few rows per branch rather than every group's month-end snapshots.
MONTHLY_BALANCE_MONTHS = 24


#: The trend's month ends read from the per-branch month-end snapshots, when those hold them all: the same figures (the
#: snapshots are derived as `derived_portfolio` derives a date), from a few rows per branch instead of the ledger.
MONTHLY_FROM_SNAPSHOTS_SQL = """
INSERT INTO {monthly} (month_end, branch_id, outstanding, overdue)
SELECT month_end, branch_id, SUM(outstanding), SUM(overdue) FROM {branch_month_end}
WHERE program_id IS NOT NULL AND month_end >= %s AND month_end <= %s
GROUP BY month_end, branch_id
HAVING SUM(outstanding) > 0
ORDER BY month_end, branch_id
"""


def refresh_monthly_balances(today, count=MONTHLY_BALANCE_MONTHS):
    """Rewrite the month-end outstanding and overdue per ward branch for the last `count` months: from the per-branch
    month-end snapshots when they cover those months (write them first), else from postings (one pass over them,
    whatever `count`)."""
    ends = month_ends(today, count)
    first, last = snapshot_span()
    with transaction.atomic():
        MonthlyBalance.objects.all().delete()
        if first is not None and first <= ends[0] and ends[-1] <= last:
            quote = connection.ops.quote_name
            statement = MONTHLY_FROM_SNAPSHOTS_SQL.format(
                monthly=quote(MonthlyBalance._meta.db_table), branch_month_end=quote(BranchMonthEnd._meta.db_table)
            )
            with connection.cursor() as cursor:
                cursor.execute(statement, [connection.ops.adapt_datefield_value(day) for day in (ends[0], ends[-1])])
            return
        rows = [
            MonthlyBalance(month_end=month_end, branch_id=branch, outstanding=outstanding, overdue=overdue)
            for (month_end, branch), (outstanding, overdue) in sorted(monthly_portfolio(ends).items())
            if outstanding > 0
        ]
        MonthlyBalance.objects.bulk_create(rows, batch_size=5000)


def refresh_portfolio_summary(today=None, group_ids=None, since=None, snapshots=True):
    """Rebuild every summary table the dashboard and reports read. Commands that change data call this.

    `group_ids` and `since` narrow the per-group figures and snapshots to the groups a change touched, from the
    first day it touched (None: every group, every day)."""
    today = today or timezone.localdate()
    refresh_group_balances(group_ids, today=today, since=since, snapshots=snapshots)
    snapshots_close_months(today)
    refresh_monthly_balances(today)

"""Balances derived from postings and the schedule: the single source every report, cache and check uses."""

import calendar
from collections import defaultdict
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from borrowers.models import Household
from loans.models import (
    GroupBalance,
    GroupProgramBalance,
    InterestArrearsEntry,
    Loan,
    LoanStatusChange,
    MonthlyBalance,
    PortfolioDayChange,
    PortfolioMonthEnd,
    Posting,
    RepaymentInstalment,
    SnapshotCoverage,
)
from organizations.models import GroupMembership, SavingsGroup

ZERO = Value(0, output_field=DecimalField(max_digits=18, decimal_places=0))
Kind = Posting.Kind


def net_amount(kind, prefix=""):
    """Sum of postings of `kind`, less the reversals of such postings."""
    return Case(
        When(**{f"{prefix}kind": kind}, then=F(f"{prefix}amount")),
        When(**{f"{prefix}kind": Kind.REVERSAL, f"{prefix}reverses__kind": kind}, then=-F(f"{prefix}amount")),
        default=ZERO,
        output_field=DecimalField(max_digits=18, decimal_places=0),
    )


def _posting_sum(kind, owner_field, on=None):
    postings = Posting.objects.filter(**{owner_field: OuterRef("pk")})
    if on is not None:
        postings = postings.filter(on__lte=on)
    total = postings.order_by().values(owner_field).annotate(total=Sum(net_amount(kind))).values("total")
    return Coalesce(Subquery(total), ZERO)


def _overdue_scheduled(on=None):
    """Scheduled principal up to the loan's latest overdue instalment (FIFO: earlier ones are paid first).

    What the loan has repaid is taken off this in `with_derived_balances`, so an instalment paid on time before a
    missed one does not hide the missed one.
    """
    marked = RepaymentInstalment.objects.filter(loan=OuterRef("loan"), overdue_since__isnull=False)
    if on is not None:
        marked = marked.filter(overdue_since__lte=on)
    last_marked = marked.order_by("-seq").values("seq")[:1]
    instalments = RepaymentInstalment.objects.filter(loan=OuterRef("pk"), seq__lte=Subquery(last_marked))
    total = instalments.order_by().values("loan").annotate(total=Sum("principal")).values("total")
    return Coalesce(Subquery(total), ZERO)


def with_derived_balances(loans, on=None):
    """Annotate loans with `derived_outstanding` and `derived_overdue` from postings up to `on` (inclusive)."""
    loans = loans.annotate(
        derived_disbursed=_posting_sum(Kind.DISBURSEMENT, "loan", on),
        derived_principal_paid=_posting_sum(Kind.PRINCIPAL, "loan", on),
        derived_overdue_scheduled=_overdue_scheduled(on),
    )
    return loans.annotate(
        derived_outstanding=F("derived_disbursed") - F("derived_principal_paid"),
        derived_overdue=Greatest(F("derived_overdue_scheduled") - F("derived_principal_paid"), ZERO),
    )


def with_derived_savings(households, on=None):
    households = households.annotate(
        derived_savings_in=_posting_sum(Kind.SAVINGS_IN, "household", on),
        derived_savings_out=_posting_sum(Kind.SAVINGS_OUT, "household", on),
    )
    return households.annotate(derived_savings=F("derived_savings_in") - F("derived_savings_out"))


def refresh_balances(*, loan_ids=(), household_ids=(), since=None):
    """Rewrite the cached balances of these loans and the savings of these households from the ledger (one statement
    each), then their groups' summaries and snapshots once (from `since`, the earliest business date that changed,
    when the caller knows it)."""
    loan_ids, household_ids = list(loan_ids), list(household_ids)
    groups = set()
    if loan_ids:
        derived = with_derived_balances(Loan.objects.filter(pk=OuterRef("pk")))
        Loan.objects.filter(pk__in=loan_ids).update(
            principal_outstanding=Subquery(derived.values("derived_outstanding")[:1]),
            overdue_principal=Subquery(derived.values("derived_overdue")[:1]),
        )
        groups.update(Loan.objects.filter(pk__in=loan_ids).values_list("group", flat=True))
    if household_ids:
        derived = with_derived_savings(Household.objects.filter(pk=OuterRef("pk")))
        Household.objects.filter(pk__in=household_ids).update(
            savings_balance=Subquery(derived.values("derived_savings")[:1])
        )
        groups.update(
            GroupMembership.objects.filter(household__in=household_ids, left_on__isnull=True).values_list(
                "group", flat=True
            )
        )
    refresh_group_balances(sorted(groups), since=since)


def refresh_loan_balances(loan_ids, since=None):
    refresh_balances(loan_ids=loan_ids, since=since)


def refresh_household_savings(household_ids, since=None):
    refresh_balances(household_ids=household_ids, since=since)


def ledger_differences():
    """Loans and households whose cached balance disagrees with their postings."""
    loans = (
        with_derived_balances(Loan.objects.all())
        .filter(~Q(principal_outstanding=F("derived_outstanding")) | ~Q(overdue_principal=F("derived_overdue")))
        .values_list("number", "principal_outstanding", "derived_outstanding", "overdue_principal", "derived_overdue")
    )
    households = (
        with_derived_savings(Household.objects.all())
        .filter(~Q(savings_balance=F("derived_savings")))
        .values_list("pk", "head_name", "savings_balance", "derived_savings")
    )
    return list(loans), list(households)


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


def refresh_group_balances(group_ids=None, today=None, since=None):
    """Rewrite the per-group totals (GroupProgramBalance, GroupBalance) from the cached loan and savings balances,
    and the groups' snapshots for past dates from `since` on (None: all of them).

    `group_ids` is a list or a values() queryset of group ids; None rebuilds every group. Set-based: one aggregate
    query per table, whatever the number of loans.
    """
    groups = SavingsGroup.objects.all() if group_ids is None else SavingsGroup.objects.filter(pk__in=group_ids)
    group_pks = list(groups.values_list("pk", flat=True))
    if not group_pks:
        return
    refresh_snapshots(None if group_ids is None else group_pks, since=since)
    scope = {} if group_ids is None else {"group__in": group_pks}
    is_outstanding = Q(principal_outstanding__gt=0)
    loans = Loan.objects.filter(is_outstanding | Q(interest_arrears__gt=0), **scope).order_by()
    by_program = loans.values("group", "program").annotate(
        loan_count=Count("pk", filter=is_outstanding),
        household_count=Count("household", distinct=True, filter=is_outstanding),
        outstanding_sum=Sum("principal_outstanding"),
        overdue_sum=Sum("overdue_principal"),
        frozen_sum=Sum("principal_outstanding", filter=Q(status=Loan.Status.FROZEN)),
        arrears_sum=Sum("interest_arrears"),
    )
    by_group = loans.filter(is_outstanding).values("group").annotate(household_count=Count("household", distinct=True))
    today = today or timezone.localdate()
    flows = {
        (row["group"], row["program"]): row
        for row in flow_postings(Posting.objects.filter(**{f"loan__{k}": v for k, v in scope.items()}), today)
        .values(group=F("loan__group"), program=F("loan__program"))
        .annotate(**flow_sums(today.replace(day=1)))
    }
    savings = (
        GroupMembership.objects.filter(left_on__isnull=True, **scope)
        .order_by()
        .values("group")
        .annotate(total=Sum("household__savings_balance"))
    )
    households = {row["group"]: row["household_count"] for row in by_group}
    savings = {row["group"]: row["total"] or 0 for row in savings}
    with transaction.atomic():
        GroupProgramBalance.objects.filter(**({} if group_ids is None else {"group__in": group_pks})).delete()
        GroupBalance.objects.filter(**({} if group_ids is None else {"group__in": group_pks})).delete()
        balances = {
            (row["group"], row["program"]): GroupProgramBalance(
                group_id=row["group"],
                program_id=row["program"],
                loans=row["loan_count"],
                households=row["household_count"],
                outstanding=row["outstanding_sum"] or 0,
                overdue=row["overdue_sum"] or 0,
                frozen=row["frozen_sum"] or 0,
                interest_arrears=row["arrears_sum"] or 0,
            )
            for row in by_program
        }
        for (group, program), row in flows.items():
            balance = balances.setdefault((group, program), GroupProgramBalance(group_id=group, program_id=program))
            for name in FLOW_FIELDS:
                setattr(balance, name, row[name] or 0)
        for balance in balances.values():
            balance.flows_on = today
        GroupProgramBalance.objects.bulk_create(balances.values(), batch_size=5000)
        GroupBalance.objects.bulk_create(
            [
                GroupBalance(group_id=pk, households=households.get(pk, 0), savings=savings.get(pk, 0))
                for pk in (set(households) | set(savings))
            ],
            batch_size=5000,
        )


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
        SELECT loan_id, SUM(principal) AS scheduled FROM {instalment}
        WHERE loan_id IN (SELECT scoped_id FROM scoped) AND overdue_since IS NOT NULL AND overdue_since <= %s
        GROUP BY loan_id
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
    FROM balances x JOIN {group} g ON g.id = x.group_id JOIN {organization} b ON b.id = g.branch_id
    WHERE x.outstanding > 0 OR x.interest_arrears > 0
    {group_by}
"""
#: Where each breakdown dimension lives in DERIVED_SQL.
DERIVED_DIMENSIONS = {"kind": "b.kind", "ward": "b.ward_id", "branch": "b.id", "program": "x.program_id",
                      "group": "x.group_id"}
DERIVED_FIGURES = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears")


def derived_portfolio(loans, on, by=()):
    """{key: figures} of `loans` as of `on`, derived from postings and the schedule like `with_derived_balances`
    (frozen from the status changes, interest arrears from the arrears entries dated after `on`),
    grouped by the `by` dimensions, in one statement with a single pass over the postings (annotating each loan
    with correlated subqueries takes minutes at a million loans)."""
    from organizations.models import Organization

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
        SELECT loan_id, {bucket_overdue}, 0, 0, principal FROM {instalment}
        WHERE overdue_since IS NOT NULL AND overdue_since <= %(last)s
    ), steps AS (
        SELECT loan_id, k, SUM(disbursed) AS disbursed, SUM(repaid) AS repaid, SUM(scheduled) AS scheduled
        FROM events GROUP BY loan_id, k
    ), states AS (
        SELECT loan_id, k, LEAD(k, 1, %(count)s) OVER w AS until_k,
               SUM(disbursed) OVER w - SUM(repaid) OVER w AS outstanding,
               SUM(scheduled) OVER w - SUM(repaid) OVER w AS overdue
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


def refresh_monthly_balances(today, count=12):
    """Rewrite the month-end outstanding and overdue per ward branch for the last `count` months, from postings."""
    rows = [
        MonthlyBalance(month_end=month_end, branch_id=branch, outstanding=outstanding, overdue=overdue)
        for (month_end, branch), (outstanding, overdue) in sorted(monthly_portfolio(month_ends(today, count)).items())
        if outstanding > 0
    ]
    with transaction.atomic():
        MonthlyBalance.objects.all().delete()
        MonthlyBalance.objects.bulk_create(rows, batch_size=5000)


def refresh_portfolio_summary(today=None, group_ids=None, since=None):
    """Rebuild every summary table the dashboard and reports read. Commands that change data call this.

    `group_ids` and `since` narrow the per-group figures and snapshots to the groups a change touched, from the
    first day it touched (None: every group, every day)."""
    today = today or timezone.localdate()
    refresh_group_balances(group_ids, today=today, since=since)
    snapshots_close_months(today)
    refresh_monthly_balances(today)


# --- Interest arrears history -------------------------------------------------------------------------------------


def record_arrears_changes(changes, *, on, source):
    """Write one InterestArrearsEntry per loan whose arrears moved: `changes` is {loan id: signed change}."""
    InterestArrearsEntry.objects.bulk_create(
        [
            InterestArrearsEntry(loan_id=loan_id, on=on, amount=amount, source=source)
            for loan_id, amount in changes.items()
            if amount
        ],
        batch_size=5000,
    )


def arrears_differences():
    """Loans whose arrears entries add up to more than their arrears: on a day before them it would be negative."""
    entries = (
        InterestArrearsEntry.objects.filter(loan=OuterRef("pk"))
        .order_by()
        .values("loan")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return list(
        Loan.objects.annotate(entries=Coalesce(Subquery(entries), ZERO))
        .filter(entries__gt=F("interest_arrears"))
        .values_list("number", "interest_arrears", "entries")
    )


# --- Snapshots: the figures of any past day without deriving them from every posting ------------------------------
# PortfolioMonthEnd holds every group's figures at each month end from the first one on; PortfolioDayChange holds what
# changed on each later day. A day's figures are the last month end before it plus the changes since, so a report for
# any covered date reads two small slices whatever the size of the ledger. Both tables are derived from postings,
# overdue marks, status changes and arrears entries by one set-based statement (SNAPSHOT_WORK_SQL), for all groups or
# for the groups a change touched. Rows are written in date order, so a date's rows sit together on disk.

SNAPSHOT_FIGURES = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", "savings")

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
    FROM running x JOIN scoped s ON s.id = x.loan_id
), changes AS (
    SELECT group_id, program_id, household_id, day, d_lent, d_collected,
           c_loans - LAG(c_loans, 1, 0) OVER prior AS d_loans,
           c_out - LAG(c_out, 1, 0) OVER prior AS d_out,
           c_overdue - LAG(c_overdue, 1, 0) OVER prior AS d_overdue,
           c_frozen - LAG(c_frozen, 1, 0) OVER prior AS d_frozen,
           c_arrears - LAG(c_arrears, 1, 0) OVER prior AS d_arrears
    FROM state
    WINDOW prior AS (PARTITION BY loan_id ORDER BY day)
), by_program AS (
    -- A household borrows under a program while it has a loan there with something outstanding: only the days its
    -- number of such loans changes matter.
    SELECT group_id, program_id, household_id, day,
           CASE WHEN SUM(SUM(d_loans)) OVER (PARTITION BY group_id, program_id, household_id ORDER BY day
                                             ROWS UNBOUNDED PRECEDING) > 0 THEN 1 ELSE 0 END AS borrowing
    FROM changes WHERE d_loans <> 0
    GROUP BY group_id, program_id, household_id, day HAVING SUM(d_loans) <> 0
), by_group AS (
    SELECT group_id, household_id, day,
           CASE WHEN SUM(SUM(d_loans)) OVER (PARTITION BY group_id, household_id ORDER BY day
                                             ROWS UNBOUNDED PRECEDING) > 0 THEN 1 ELSE 0 END AS borrowing
    FROM changes WHERE d_loans <> 0
    GROUP BY group_id, household_id, day HAVING SUM(d_loans) <> 0
), savings AS (
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
SELECT group_id, program_key, day,
       SUM(loans) AS loans, SUM(households) AS households, SUM(outstanding) AS outstanding,
       SUM(overdue) AS overdue, SUM(frozen) AS frozen, SUM(interest_arrears) AS interest_arrears,
       SUM(savings) AS savings, SUM(lent) AS lent, SUM(collected) AS collected
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
    SELECT group_id, 0, day, 0, 0, 0, 0, 0, 0, d_savings, 0, 0 FROM savings
) parts
GROUP BY group_id, program_key, day
HAVING SUM(loans) <> 0 OR SUM(households) <> 0 OR SUM(outstanding) <> 0 OR SUM(overdue) <> 0 OR SUM(frozen) <> 0
    OR SUM(interest_arrears) <> 0 OR SUM(savings) <> 0 OR SUM(lent) <> 0 OR SUM(collected) <> 0
"""

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
INSERT INTO {month_end} (group_id, program_id, month_end, {figures}, lent_year, collected_year)
SELECT group_id, program_id, %s, {sum_figures}, SUM(lent_year), SUM(collected_year) FROM (
    SELECT group_id, program_id, {figures},
           CASE WHEN %s THEN lent_year ELSE 0 END AS lent_year,
           CASE WHEN %s THEN collected_year ELSE 0 END AS collected_year
    FROM {month_end} WHERE month_end = %s
    UNION ALL
    SELECT group_id, program_id, {figures}, lent, collected FROM {day_change} WHERE "on" > %s AND "on" <= %s
) parts
GROUP BY group_id, program_id
HAVING {any_sum} OR SUM(lent_year) <> 0 OR SUM(collected_year) <> 0
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
        "figures": ", ".join(SNAPSHOT_FIGURES),
        "sum_figures": ", ".join(f"SUM({name}) AS {name}" for name in SNAPSHOT_FIGURES),
        "running_figures": ", ".join(f"SUM(SUM({name})) OVER so_far AS {name}" for name in SNAPSHOT_FIGURES),
        "zero_figures": ", ".join("0" for _name in SNAPSHOT_FIGURES),
        "any_figure": " OR ".join(f"{name} <> 0" for name in SNAPSHOT_FIGURES),
        "any_sum": " OR ".join(f"SUM({name}) <> 0" for name in SNAPSHOT_FIGURES),
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
            _execute(f"TRUNCATE {_tables()['month_end']}, {_tables()['day_change']}")
        else:
            PortfolioMonthEnd.objects.all().delete()
            PortfolioDayChange.objects.all().delete()
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
        while (end := month_end_of(last + timedelta(days=1))) < today:
            same_year = end.year == last.year
            _execute(
                SNAPSHOT_ROLL_SQL.format(**tables),
                [end, same_year, same_year, last, last, end],
            )
            added.append(end)
            last = end
        SnapshotCoverage.objects.update(last_month_end=last)
    return added

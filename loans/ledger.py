"""Balances derived from postings and the schedule: the single source every report, cache and check uses."""

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from borrowers.models import Household
from loans.models import GroupBalance, GroupProgramBalance, Loan, MonthlyBalance, Posting, RepaymentInstalment
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
    instalments = RepaymentInstalment.objects.filter(loan=OuterRef("pk"), overdue_since__isnull=False)
    if on is not None:
        instalments = instalments.filter(overdue_since__lte=on)
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


def refresh_loan_balances(loan_ids):
    """Rewrite the cached balances of these loans from the ledger, in one statement."""
    derived = with_derived_balances(Loan.objects.filter(pk=OuterRef("pk")))
    Loan.objects.filter(pk__in=loan_ids).update(
        principal_outstanding=Subquery(derived.values("derived_outstanding")[:1]),
        overdue_principal=Subquery(derived.values("derived_overdue")[:1]),
    )
    refresh_group_balances(Loan.objects.filter(pk__in=loan_ids).values("group"))


def refresh_household_savings(household_ids):
    derived = with_derived_savings(Household.objects.filter(pk=OuterRef("pk")))
    Household.objects.filter(pk__in=household_ids).update(
        savings_balance=Subquery(derived.values("derived_savings")[:1])
    )
    refresh_group_balances(
        GroupMembership.objects.filter(household__in=household_ids, left_on__isnull=True).values("group")
    )


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


def refresh_group_balances(group_ids=None):
    """Rewrite the per-group totals (GroupProgramBalance, GroupBalance) from the cached loan and savings balances.

    `group_ids` is a list or a values() queryset of group ids; None rebuilds every group. Set-based: one aggregate
    query per table, whatever the number of loans.
    """
    groups = SavingsGroup.objects.all() if group_ids is None else SavingsGroup.objects.filter(pk__in=group_ids)
    group_pks = list(groups.values_list("pk", flat=True))
    if not group_pks:
        return
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
        GroupProgramBalance.objects.bulk_create(
            [
                GroupProgramBalance(
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
            ],
            batch_size=5000,
        )
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


MONTH_END_SQL = """
    WITH paid AS (
        SELECT p.loan_id,
               SUM(CASE WHEN p.kind = %(disbursement)s THEN p.amount
                        WHEN p.kind = %(reversal)s AND r.kind = %(disbursement)s THEN -p.amount
                        ELSE 0 END) AS disbursed,
               SUM(CASE WHEN p.kind = %(principal)s THEN p.amount
                        WHEN p.kind = %(reversal)s AND r.kind = %(principal)s THEN -p.amount
                        ELSE 0 END) AS repaid
        FROM {posting} p LEFT JOIN {posting} r ON r.id = p.reverses_id
        WHERE p.loan_id IS NOT NULL AND p."on" <= %(on)s
          AND (p.kind IN (%(disbursement)s, %(principal)s) OR p.kind = %(reversal)s)
        GROUP BY p.loan_id
    ), due AS (
        SELECT loan_id, SUM(principal) AS overdue_scheduled
        FROM {instalment} WHERE overdue_since IS NOT NULL AND overdue_since <= %(on)s GROUP BY loan_id
    )
    SELECT g.branch_id,
           SUM(paid.disbursed - paid.repaid),
           SUM(CASE WHEN COALESCE(due.overdue_scheduled, 0) > paid.repaid
                    THEN COALESCE(due.overdue_scheduled, 0) - paid.repaid ELSE 0 END)
    FROM paid
    JOIN {loan} l ON l.id = paid.loan_id
    JOIN {group} g ON g.id = l.group_id
    LEFT JOIN due ON due.loan_id = paid.loan_id
    WHERE paid.disbursed - paid.repaid > 0
    GROUP BY g.branch_id
"""


def _month_end_balances(month_end):
    """{branch id: (outstanding, overdue)} at `month_end`, the same figures as `with_derived_balances`, in one pass
    over the postings (correlated subqueries per loan take minutes at a million loans)."""
    statement = MONTH_END_SQL.format(
        posting=connection.ops.quote_name(Posting._meta.db_table),
        instalment=connection.ops.quote_name(RepaymentInstalment._meta.db_table),
        loan=connection.ops.quote_name(Loan._meta.db_table),
        group=connection.ops.quote_name(SavingsGroup._meta.db_table),
    )
    params = {
        "on": month_end,
        "disbursement": Kind.DISBURSEMENT,
        "principal": Kind.PRINCIPAL,
        "reversal": Kind.REVERSAL,
    }
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return {branch: (outstanding, overdue) for branch, outstanding, overdue in cursor.fetchall()}


def refresh_monthly_balances(today, count=12):
    """Rewrite the month-end outstanding and overdue per ward branch for the last `count` months, from postings."""
    rows = [
        MonthlyBalance(month_end=month_end, branch_id=branch, outstanding=outstanding, overdue=overdue)
        for month_end in month_ends(today, count)
        for branch, (outstanding, overdue) in _month_end_balances(month_end).items()
    ]
    with transaction.atomic():
        MonthlyBalance.objects.all().delete()
        MonthlyBalance.objects.bulk_create(rows, batch_size=5000)


def refresh_portfolio_summary(today=None):
    """Rebuild every summary table the dashboard and reports read. Commands that change data call this."""
    refresh_group_balances()
    refresh_monthly_balances(today or timezone.localdate())

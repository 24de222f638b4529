"""Monthly commission and entrustment-fee statements: rate tables, interest collected, balances, lines."""

import calendar
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from loans.ledger.balances import with_derived_balances
from loans.models import FeeSchedule, Loan, LoanChange, Posting, RepaymentInstalment
from loans.money import round_vnd
from loans.reports.selectors import overdue_ratio

INTEREST_KINDS = (Posting.Kind.INTEREST, Posting.Kind.OVERDUE_INTEREST)


def month_bounds(month):
    """First and last day of the month containing `month`."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


MONEY = DecimalField(max_digits=18, decimal_places=0)


def schedule_for(month):
    """The rate table in force on the month's last day, with its reductions."""
    _first, last = month_bounds(month)
    return (
        FeeSchedule.objects.filter(valid_from__lte=last)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=last))
        .prefetch_related("reductions")
        .order_by("-valid_from", "-pk")
        .first()
    )


def interest_collected(*, start, end, owner):
    """{owner id: interest and overdue interest posted in [start, end], less reversals of such postings}.

    `owner` is a path from a loan, e.g. "group" or "household__branch".
    """
    rows = (
        Posting.objects.filter(on__gte=start, on__lte=end)
        .filter(Q(kind__in=INTEREST_KINDS) | Q(kind=Posting.Kind.REVERSAL, reverses__kind__in=INTEREST_KINDS))
        .annotate(owner=Coalesce(f"loan__{owner}", f"reverses__loan__{owner}"))
        .values("owner")
        .annotate(
            total=Sum(
                Case(When(kind=Posting.Kind.REVERSAL, then=-F("amount")), default=F("amount"), output_field=MONEY)
            )
        )
        .order_by()
    )
    return {row["owner"]: int(row["total"] or 0) for row in rows}


def balances_at(*, on, owner, loans=None):
    """{owner id: (outstanding, overdue)} as of `on` from postings; loans written off by then are left out.

    Outstanding is one GROUP BY over the postings; the per-loan overdue rule only runs for loans with an
    overdue instalment, so a whole district stays quick.
    """
    loans = Loan.objects.all() if loans is None else loans
    loans = loans.filter(disbursed_on__lte=on).exclude(
        pk__in=LoanChange.objects.filter(
            kind=LoanChange.Kind.WRITE_OFF, status=LoanChange.Status.APPROVED, decided_on__lte=on
        ).values("loan")
    )
    Kind = Posting.Kind
    signed = Case(
        When(kind=Kind.DISBURSEMENT, then=F("amount")),
        When(kind=Kind.PRINCIPAL, then=-F("amount")),
        When(kind=Kind.REVERSAL, reverses__kind=Kind.DISBURSEMENT, then=-F("amount")),
        When(kind=Kind.REVERSAL, reverses__kind=Kind.PRINCIPAL, then=F("amount")),
        default=Value(0),
        output_field=MONEY,
    )
    outstanding = (
        Posting.objects.filter(on__lte=on, loan__in=loans)
        .values(owner=F(f"loan__{owner}"))
        .annotate(total=Sum(signed))
        .order_by()
    )
    overdue_loans = loans.filter(
        pk__in=RepaymentInstalment.objects.filter(overdue_since__lte=on).values("loan")
    )
    overdue = (
        with_derived_balances(overdue_loans, on)
        .values(owner=F(owner))
        .annotate(total=Sum("derived_overdue"))
        .order_by()
    )
    result = {row["owner"]: (int(row["total"] or 0), 0) for row in outstanding}
    for row in overdue:
        result[row["owner"]] = (result.get(row["owner"], (0, 0))[0], int(row["total"] or 0))
    return result


def percent_of(amount, rate):
    return round_vnd(Decimal(amount) * Decimal(rate) / 100)


@dataclass
class StatementLine:
    name: str
    code: str = ""
    extra: str = ""
    outstanding: int = 0
    overdue: int = 0
    interest: int = 0
    ratio: Decimal = Decimal("0.00")
    fee_on_outstanding: Decimal = Decimal(0)
    fee_on_interest: Decimal = Decimal(0)
    reduction_percent: Decimal = Decimal(0)
    reduction: Decimal = Decimal(0)
    level: str = ""
    children: list = field(default_factory=list)

    @property
    def gross(self):
        return self.fee_on_outstanding + self.fee_on_interest

    @property
    def net(self):
        return self.gross - self.reduction

    def apply_reduction(self, schedule):
        self.reduction_percent = schedule.reduction_for(self.ratio)
        self.reduction = percent_of(self.gross, self.reduction_percent)


def commission_statement(*, month, groups, schedule):
    """One line per group: interest its leader collected in the month, and the commission on it."""
    start, end = month_bounds(month)
    groups = list(groups.select_related("leader", "branch"))
    ids = [g.pk for g in groups]
    interest = interest_collected(start=start, end=end, owner="group")
    balances = balances_at(on=end, owner="group", loans=Loan.objects.filter(group__in=ids))
    lines = []
    for group in groups:
        outstanding, overdue = balances.get(group.pk, (0, 0))
        line = StatementLine(
            name=group.name, code=group.code, extra=str(group.leader or ""), outstanding=outstanding,
            overdue=overdue, interest=interest.get(group.pk, 0), ratio=overdue_ratio(overdue, outstanding) or Decimal("0.00"),
        )
        line.fee_on_interest = percent_of(line.interest, schedule.commission_rate)
        line.apply_reduction(schedule)
        lines.append(line)
    return [line for line in lines if line.interest or line.outstanding]


def fee_statement(*, month, branches, schedule, with_districts):
    """One line per ward branch, then (for district staff and above) one line per district body."""
    start, end = month_bounds(month)
    branches = list(branches.select_related("ward", "parent"))
    ids = [b.pk for b in branches]
    interest = interest_collected(start=start, end=end, owner="household__branch")
    balances = balances_at(on=end, owner="household__branch", loans=Loan.objects.filter(household__branch__in=ids))
    lines, districts = [], {}
    for branch in branches:
        outstanding, overdue = balances.get(branch.pk, (0, 0))
        line = StatementLine(
            name=branch.name, code=branch.ward.code, extra=branch.get_kind_display(), level="ward",
            outstanding=outstanding, overdue=overdue, interest=interest.get(branch.pk, 0),
            ratio=overdue_ratio(overdue, outstanding) or Decimal("0.00"),
        )
        line.fee_on_outstanding = percent_of(outstanding, schedule.branch_outstanding_rate)
        line.fee_on_interest = percent_of(line.interest, schedule.branch_interest_rate)
        line.apply_reduction(schedule)
        lines.append(line)
        if with_districts:
            district = districts.setdefault(
                branch.parent_id,
                StatementLine(name=branch.parent.name, code=branch.kind, extra=branch.get_kind_display(),
                              level="district"),
            )
            district.outstanding += outstanding
            district.overdue += overdue
            district.interest += line.interest
    for district in districts.values():
        district.ratio = overdue_ratio(district.overdue, district.outstanding) or Decimal("0.00")
        district.fee_on_outstanding = percent_of(district.outstanding, schedule.district_outstanding_rate)
        district.fee_on_interest = percent_of(district.interest, schedule.district_interest_rate)
        district.apply_reduction(schedule)
    lines = [line for line in lines if line.interest or line.outstanding]
    return lines, list(districts.values())

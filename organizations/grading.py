"""The monthly group score (0–100) and grade, written in one place and computed set-based for every group.

Criteria, each weighted by `GradingCriteria`:
- overdue ratio at the month's end (none scores the full weight, `overdue_ratio_zero_at` or more scores nothing);
- share of borrowing households that paid interest in each of the last 3 months (an interest posting in each month,
  not reversed) – households whose loan is younger than the window are not counted;
- share of members who deposited savings in the month;
- regular meetings: share of the last 3 months with a review meeting or collection activity in the group.
"""

from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from loans.ledger.balances import with_derived_balances
from loans.models import Loan, LoanChange, Posting, ReviewMeeting, add_months
from loans.selectors.fees import INTEREST_KINDS, month_bounds
from organizations.models import GradingCriteria, GroupGrade, GroupMembership, SavingsGroup

WINDOW_MONTHS = 3
ONE = Decimal(1)


def criteria_for(month):
    criteria = GradingCriteria.objects.filter(valid_from__lte=month_bounds(month)[1]).first()
    return criteria or GradingCriteria(name="default", valid_from=date(2000, 1, 1))


def share(part, whole):
    """part ÷ whole, 1 when there is nothing to count (nothing was due)."""
    return ONE if not whole else min(ONE, Decimal(part) / Decimal(whole))


def score_of(criteria, *, overdue_ratio, interest_share, savings_share, meetings_share):
    """Weighted score rounded half-up to a whole point, 0–100. `overdue_ratio` is in percent."""
    overdue_share = max(Decimal(0), ONE - Decimal(overdue_ratio) / criteria.overdue_ratio_zero_at)
    total = (
        criteria.overdue_weight * overdue_share
        + criteria.interest_weight * interest_share
        + criteria.savings_weight * savings_share
        + criteria.meetings_weight * meetings_share
    )
    return int(max(Decimal(0), min(Decimal(100), total)).quantize(ONE, rounding=ROUND_HALF_UP))


def group_figures(*, month, group_ids):
    """{group id: figures} for the month, from a handful of aggregate queries (no loop over loans)."""
    start, end = month_bounds(month)
    window_start = add_months(start, -(WINDOW_MONTHS - 1))
    written_off = LoanChange.objects.filter(
        kind=LoanChange.Kind.WRITE_OFF, status=LoanChange.Status.APPROVED, decided_on__lte=end
    ).values("loan")
    loans = Loan.objects.filter(group__in=group_ids, disbursed_on__lte=end).exclude(pk__in=written_off)
    figures = defaultdict(lambda: {"outstanding": 0, "overdue": 0, "borrowers": 0, "due_interest": 0,
                                   "paid_interest": 0, "members": 0, "savers": 0, "active_months": 0})

    balances = (
        with_derived_balances(loans, end)
        .filter(derived_outstanding__gt=0)
        .values("group")
        .annotate(
            outstanding=Sum("derived_outstanding"),
            overdue=Sum("derived_overdue"),
            borrowers=Count("household", distinct=True),
        )
        .order_by()
    )
    for row in balances:
        figures[row["group"]].update(
            outstanding=int(row["outstanding"]), overdue=int(row["overdue"]), borrowers=row["borrowers"]
        )

    # Households expected to pay interest all through the window: a loan out before it started, still owing.
    expected = (
        with_derived_balances(loans.filter(disbursed_on__lt=window_start), end)
        .filter(derived_outstanding__gt=0)
        .values("group")
        .annotate(n=Count("household", distinct=True))
        .order_by()
    )
    for row in expected:
        figures[row["group"]]["due_interest"] = row["n"]
    paid = (
        Posting.objects.filter(
            kind__in=INTEREST_KINDS, on__gte=window_start, on__lte=end, reversed_by__isnull=True,
            loan__in=loans.filter(disbursed_on__lt=window_start),
        )
        .values("loan__group", "household")
        .annotate(months=Count(TruncMonth("on"), distinct=True))
        .filter(months__gte=WINDOW_MONTHS)
        .values_list("loan__group", flat=True)
        .order_by()
    )
    for group_id, count in Counter(paid).items():
        figures[group_id]["paid_interest"] = count

    current = Q(household__memberships__joined_on__lte=end) & (
        Q(household__memberships__left_on__isnull=True) | Q(household__memberships__left_on__gt=end)
    )
    members = (
        GroupMembership.objects.filter(group__in=group_ids, joined_on__lte=end)
        .filter(Q(left_on__isnull=True) | Q(left_on__gt=end))
        .values("group")
        .annotate(n=Count("household", distinct=True))
        .order_by()
    )
    for row in members:
        figures[row["group"]]["members"] = row["n"]
    savers = (
        Posting.objects.filter(kind=Posting.Kind.SAVINGS_IN, on__gte=start, on__lte=end, reversed_by__isnull=True)
        .filter(current & Q(household__memberships__group__in=group_ids))
        .values(group=F("household__memberships__group"))
        .annotate(n=Count("household", distinct=True))
        .order_by()
    )
    for row in savers:
        figures[row["group"]]["savers"] = row["n"]

    active = set(
        Posting.objects.filter(loan__group__in=group_ids, on__gte=window_start, on__lte=end)
        .annotate(month=TruncMonth("on"))
        .values_list("loan__group", "month")
        .distinct()
        .order_by()
    )
    active |= set(
        ReviewMeeting.objects.filter(group__in=group_ids, held_on__gte=window_start, held_on__lte=end)
        .annotate(month=TruncMonth("held_on"))
        .values_list("group", "month")
        .distinct()
        .order_by()
    )
    for group_id, count in Counter(group_id for group_id, _month in active).items():
        figures[group_id]["active_months"] = count
    return figures




def grade_groups(*, month, groups=None):
    """Score and grade every active group (or `groups`) for the month; replaces that month's earlier grades.

    Returns the GroupGrade rows written.
    """
    month, end = month_bounds(month)
    criteria = criteria_for(month)
    groups = SavingsGroup.objects.filter(status=SavingsGroup.Status.ACTIVE) if groups is None else groups
    group_ids = list(groups.values_list("pk", flat=True))
    figures = group_figures(month=month, group_ids=group_ids)
    now = timezone.now()
    grades = []
    for group_id in group_ids:
        f = figures[group_id]
        ratio = (Decimal(f["overdue"]) * 100 / f["outstanding"]) if f["outstanding"] else Decimal(0)
        parts = {
            "overdue_ratio": ratio.quantize(Decimal("0.01")),
            "interest_share": share(f["paid_interest"], f["due_interest"]),
            "savings_share": share(f["savers"], f["members"]),
            "meetings_share": share(f["active_months"], WINDOW_MONTHS),
        }
        score = score_of(criteria, **parts)
        details = {key: str(value.quantize(Decimal("0.0001"))) for key, value in parts.items()}
        details.update({key: value for key, value in f.items()})
        grades.append(
            GroupGrade(group_id=group_id, month=month, score=score, grade=criteria.grade_for(score),
                       details=details, computed_at=now)
        )
    with transaction.atomic():
        GroupGrade.objects.filter(month=month, group__in=group_ids).delete()
        GroupGrade.objects.bulk_create(grades, batch_size=1000)
    return grades


def grade_demo_groups(today):
    """Seed step: grade the demo groups for the last complete month.

    The demo's collections run on the 20th of the three months before this one, so last month is the newest month
    with a full 3-month picture; grading the current month before its collection would mark every group down.
    """
    return grade_groups(month=add_months(today.replace(day=1), -1))

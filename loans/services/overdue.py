"""The end-of-day run: instalments missed become overdue, from the day after their due date.

The rule does not depend on when the run happens. An instalment is overdue from the day after its effective due date
(the scheduled date, moved to the next working day when it falls on a weekend or holiday) if, at the end of that day,
the loan was active and its principal repaid did not cover the schedule up to that instalment (repayments settle the
earliest instalments first). When a later event (a reversed repayment) uncovers it, it is overdue from the day after
that event. So daily runs and one late run mark the same instalments with the same dates, and every balance,
snapshot and report that reads them agrees.
"""

from bisect import bisect_right
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from loans.calendar import WorkingCalendar
from loans.interest import StatusHistory
from loans.ledger.balances import ZERO, net_amount, refresh_loan_balances, with_derived_balances
from loans.ledger.snapshots import snapshots_close_months
from loans.models import DayClose, Loan, LoanProgram, LoanStatusChange, Posting, RepaymentInstalment

PostingKind = Posting.Kind
ONE_DAY = timedelta(days=1)
#: Instalments due this long before the last closed day were judged by that run already (a due date moves at most
#: about ten days past a long Tết); older ones are looked at again only if still not covered.
LOOKBACK = timedelta(days=40)


def _principal_movements(loans):
    """{loan id: sorted [(day, signed principal repaid)]} for the loans of the queryset `loans` (one query)."""
    rows = (
        Posting.objects.filter(loan__in=loans)
        .filter(Q(kind=PostingKind.PRINCIPAL) | Q(kind=PostingKind.REVERSAL, reverses__kind=PostingKind.PRINCIPAL))
        .values_list("loan_id", "kind", "amount", "on")
    )
    movements = defaultdict(list)
    for loan_id, kind, amount, day in rows:
        movements[loan_id].append((day, -amount if kind == PostingKind.REVERSAL else amount))
    for items in movements.values():
        items.sort()
    return movements


def loan_status_histories(loans):
    """{loan id: StatusHistory} for the loans of the queryset `loans` (two queries)."""
    changes = defaultdict(list)
    for loan_id, day, old, new in (
        LoanStatusChange.objects.filter(loan__in=loans).order_by("at", "pk").values_list(
            "loan_id", "on", "from_status", "to_status"
        )
    ):
        changes[loan_id].append((day, old, new))
    current = dict(Loan.objects.filter(pk__in=loans).values_list("pk", "status"))
    return {pk: StatusHistory(changes[pk], status) for pk, status in current.items()}


def overdue_start(*, effective_due, scheduled_through, repayments, history, until):
    """The day an instalment becomes overdue, or None if it has not by `until` (inclusive).

    It is the day after the first end of day, from its effective due date on, at which the loan was active and had
    repaid less than `scheduled_through`. `repayments`: sorted (day, signed principal) of the loan.
    """
    days = [d for d, _amount in repayments]
    events = sorted({effective_due, *(d for d in days if d > effective_due), *history.days_after(effective_due)})
    for day in events:
        if day + ONE_DAY > until:
            return None
        repaid = sum((amount for _d, amount in repayments[: bisect_right(days, day)]), Decimal(0))
        if repaid < scheduled_through and history.status_on(day) == Loan.Status.ACTIVE:
            return day + ONE_DAY
    return None


def missed_instalments(on, *, loans=None, calendar=None):
    """[(instalment row, overdue since)] of instalments not yet marked that are overdue by `on` (inclusive).

    `loans` narrows the search (a queryset of loans); the number of queries does not depend on how many there are.
    """
    scheduled_through = (
        RepaymentInstalment.objects.filter(loan=OuterRef("loan"), seq__lte=OuterRef("seq"))
        .order_by()
        .values("loan")
        .annotate(total=Sum("principal"))
        .values("total")
    )
    repaid = (
        Posting.objects.filter(loan=OuterRef("loan"), on__lte=on)
        .order_by()
        .values("loan")
        .annotate(total=Sum(net_amount(PostingKind.PRINCIPAL)))
        .values("total")
    )
    candidates = RepaymentInstalment.objects.filter(due_on__lt=on, overdue_since__isnull=True).annotate(
        scheduled_through=Subquery(scheduled_through), repaid=Coalesce(Subquery(repaid), ZERO)
    )
    if loans is not None:
        candidates = candidates.filter(loan__in=loans)
    last_closed = DayClose.objects.filter(on__lt=on).order_by("-on").values_list("on", flat=True).first()
    if last_closed is not None:
        # Recent instalments are judged as of their due date; older ones were judged by an earlier run and are looked
        # at again only if something since uncovered them.
        candidates = candidates.filter(Q(due_on__gte=last_closed - LOOKBACK) | Q(scheduled_through__gt=F("repaid")))
    rows = list(
        candidates.order_by("loan__number", "seq").values(
            "pk", "loan_id", "loan__number", "loan__household__head_name", "seq", "due_on", "principal",
            "scheduled_through", "repaid",
        )
    )
    if calendar is None:
        first_due = min((row["due_on"] for row in rows), default=on)
        calendar = WorkingCalendar.for_span(first_due, on)
    loan_ids = RepaymentInstalment.objects.filter(pk__in=[row["pk"] for row in rows]).values("loan_id")
    movements = _principal_movements(loan_ids)
    histories = loan_status_histories(loan_ids)
    missed = []
    for row in rows:
        row["effective_due_on"] = effective = calendar.on_or_after(row["due_on"])
        if effective >= on:
            continue
        since = overdue_start(
            effective_due=effective, scheduled_through=row["scheduled_through"], repayments=movements[row["loan_id"]],
            history=histories[row["loan_id"]], until=on,
        )
        if since is not None:
            missed.append((row, since))
    return missed


def overdue_close_day(*, on):
    """Mark every instalment overdue by `on` with the day it became overdue, bring cached balances and the past-date
    snapshots in line from that day, and record the day as closed. Returns (marked rows, refreshed loan ids).

    A fixed number of statements whatever the number of loans; a second run for the same day finds nothing.
    """
    with transaction.atomic():
        missed = missed_instalments(on)
        by_day = defaultdict(list)
        for row, since in missed:
            row["overdue_since"] = since
            by_day[since].append(row["pk"])
        if by_day:
            RepaymentInstalment.objects.filter(pk__in=[pk for pks in by_day.values() for pk in pks]).update(
                overdue_since=Case(*(When(pk__in=pks, then=Value(since)) for since, pks in by_day.items()))
            )
        stale = with_derived_balances(Loan.objects.all()).filter(
            ~Q(principal_outstanding=F("derived_outstanding")) | ~Q(overdue_principal=F("derived_overdue"))
        )
        stale_ids = list(stale.values_list("pk", flat=True))
        refresh_loan_balances(stale_ids, since=min(by_day, default=on))
        snapshots_close_months(max(on, timezone.localdate()))
        for program in LoanProgram.objects.filter(rates__effective_from__lte=on).distinct():
            program.sync_current_rate(on)
        DayClose.objects.update_or_create(on=on, defaults={"ran_at": timezone.now(), "instalments_marked": len(missed)})
    return [row for row, _since in missed], stale_ids

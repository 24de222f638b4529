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

from django.db import connection, transaction
from django.db.models import Case, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from loans.calendar import WorkingCalendar
from loans.interest import StatusHistory
from loans.ledger.balances import ZERO, net_amount, refresh_loan_balances
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
    candidates = RepaymentInstalment.objects.filter(due_on__lt=on, overdue_since__isnull=True)
    if loans is not None:
        candidates = candidates.filter(loan__in=loans)
    last_closed = DayClose.objects.filter(on__lt=on).order_by("-on").values_list("on", flat=True).first()
    if last_closed is not None:
        # Recent instalments are judged as of their due date; older ones were judged by an earlier run and are looked
        # at again only if something since uncovered them (found in one set-based pass, not one lookup per row).
        cutoff = last_closed - LOOKBACK
        candidates = candidates.filter(Q(due_on__gte=cutoff) | Q(pk__in=_uncovered_before(cutoff, on)))
    candidates = candidates.annotate(
        scheduled_through=Subquery(scheduled_through), repaid=Coalesce(Subquery(repaid), ZERO)
    )
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


def _sql(statement, params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [row[0] for row in cursor.fetchall()]


#: Principal repaid and disbursed by each loan's postings, less reversals of them, in one grouped pass over the
#: postings; `until` may add a condition on the date. Its parameters: _net_principal_params().
_NET_PRINCIPAL = """
    SELECT p.loan_id,
           SUM(CASE WHEN p.kind = %s THEN p.amount WHEN p.kind = %s AND o.kind = %s THEN -p.amount ELSE 0 END) AS paid,
           SUM(CASE WHEN p.kind = %s THEN p.amount WHEN p.kind = %s AND o.kind = %s THEN -p.amount ELSE 0 END)
               AS disbursed
    FROM loans_posting p LEFT JOIN loans_posting o ON o.id = p.reverses_id
    WHERE p.loan_id IS NOT NULL AND p.kind IN (%s, %s, %s) {until}
    GROUP BY p.loan_id
"""


def _net_principal_params():
    principal, reversal, disbursement = PostingKind.PRINCIPAL, PostingKind.REVERSAL, PostingKind.DISBURSEMENT
    return [principal, reversal, principal, disbursement, reversal, disbursement, principal, reversal, disbursement]


def _uncovered_before(cutoff, on):
    """Unmarked instalments due before `cutoff` whose schedule up to them is more than the loan repaid by `on`, as a
    subquery of their ids.

    The same test as `missed_instalments` makes on each row (scheduled through the instalment > repaid), for every
    instalment at once: a running sum over the schedule and one grouped pass over the repayments.
    """
    return RawSQL(
        f"""WITH repaid AS ({_NET_PRINCIPAL.format(until='AND p."on" <= %s')}),
                 schedule AS (
                     SELECT i.id, i.loan_id, i.due_on, i.overdue_since,
                            SUM(i.principal) OVER (PARTITION BY i.loan_id ORDER BY i.seq) AS through
                     FROM loans_repaymentinstalment i
                 )
            SELECT s.id FROM schedule s LEFT JOIN repaid r ON r.loan_id = s.loan_id
            WHERE s.overdue_since IS NULL AND s.due_on < %s AND s.through > COALESCE(r.paid, 0)""",
        [*_net_principal_params(), on, cutoff],
    )


def stale_loan_ids():
    """Ids of loans whose cached outstanding or overdue principal differs from the ledger: what
    `with_derived_balances` derives per loan, for every loan at once in grouped passes over postings and instalments."""
    return _sql(
        f"""WITH ledger AS ({_NET_PRINCIPAL.format(until='')}),
                 last_marked AS (
                     SELECT loan_id, MAX(seq) AS seq FROM loans_repaymentinstalment
                     WHERE overdue_since IS NOT NULL GROUP BY loan_id
                 ),
                 overdue_scheduled AS (
                     SELECT i.loan_id, SUM(i.principal) AS scheduled
                     FROM loans_repaymentinstalment i JOIN last_marked m ON m.loan_id = i.loan_id AND i.seq <= m.seq
                     GROUP BY i.loan_id
                 ),
                 derived AS (
                     SELECT l.id, l.principal_outstanding, l.overdue_principal,
                            COALESCE(g.disbursed, 0) - COALESCE(g.paid, 0) AS outstanding,
                            COALESCE(s.scheduled, 0) - COALESCE(g.paid, 0) AS overdue
                     FROM loans_loan l
                     LEFT JOIN ledger g ON g.loan_id = l.id
                     LEFT JOIN overdue_scheduled s ON s.loan_id = l.id
                 )
            SELECT id FROM derived
            WHERE principal_outstanding <> outstanding
               OR overdue_principal <> CASE WHEN overdue > 0 THEN overdue ELSE 0 END
            ORDER BY id""",
        _net_principal_params(),
    )


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
        stale_ids = stale_loan_ids()
        refresh_loan_balances(stale_ids, since=min(by_day, default=on))
        snapshots_close_months(max(on, timezone.localdate()))
        for program in LoanProgram.objects.filter(rates__effective_from__lte=on).distinct():
            program.sync_current_rate(on)
        DayClose.objects.update_or_create(on=on, defaults={"ran_at": timezone.now(), "instalments_marked": len(missed)})
    return [row for row, _since in missed], stale_ids

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
from django.db.models import Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loans.calendar import WorkingCalendar
from loans.interest import StatusHistory
from loans.ledger.balances import in_batches, refresh_overdue_balances
from loans.ledger.snapshot_additions import snapshots_following_marks
from loans.ledger.snapshots import snapshots_close_months
from loans.models import DayClose, Loan, LoanProgram, LoanStatusChange, Posting, RepaymentInstalment

PostingKind = Posting.Kind
ONE_DAY = timedelta(days=1)
def _principal_movements(loans):
    """{loan id: sorted [(day, signed principal repaid)]} for the loans `loans` (ids or a queryset; one query)."""
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
    """{loan id: StatusHistory} for the loans `loans` (ids or a queryset; two queries)."""
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


def _closes_before(on):
    """The last two day closes before `on`, newest first: [(day, ran at, newest instalment seen)]."""
    return list(DayClose.objects.filter(on__lt=on).order_by("-on").values_list("on", "ran_at", "instalments_seen")[:2])


def _booked_event_loans(moment):
    """Ids of loans with a reversal or a status change booked since `moment` (None: ever): what can make an instalment
    judged earlier overdue after all (a reversal takes back a repayment; a frozen loan becomes active again)."""
    reversed_loans = Posting.objects.filter(kind=PostingKind.REVERSAL, loan__isnull=False)
    changed_loans = LoanStatusChange.objects.all()
    if moment is not None:
        reversed_loans, changed_loans = reversed_loans.filter(created_at__gte=moment), changed_loans.filter(at__gte=moment)
    return sorted(
        reversed_loans.order_by().values_list("loan_id", flat=True).union(
            changed_loans.order_by().values_list("loan_id", flat=True)
        )
    )


def _to_judge(on, closes, calendar):
    """[(queryset, first due date or None)]: the unmarked instalments due before `on` that a close for `on` has still
    to judge (together all of them when no day was closed before), each with the earliest due date it can hold when
    that is known without reading it:
    - those whose working due date came since the last close: due on or after the first day whose working due date
      is that close's day;
    - those written since the close before it (the last close, when it is the only one) saw the newest instalment: a
      loan imported or a schedule rewritten with due dates already past; a run's margin for instalments still being
      written while the last close ran.
    What the last close judged is not read again: it settled each instalment for good, unless a reversal or a status
    change booked since reopens it (`missed_instalments` reads those loans too)."""
    unmarked = RepaymentInstalment.objects.filter(overdue_since__isnull=True, due_on__lt=on)
    if not closes:
        return [(unmarked, None)]
    first = closes[0][0]
    while not calendar.is_working_day(first - ONE_DAY):
        first -= ONE_DAY
    seen = closes[-1][2]
    written = unmarked.filter(due_on__lt=first)
    if seen is not None:
        written = written.filter(pk__gt=seen)
    return [(unmarked.filter(due_on__gte=first), first), (written, None)]


#: For each instalment to judge whose working due date has passed and that is not settled for good: the principal
#: scheduled up to it, the principal the loan had repaid by the end of that day, and whether the loan has any reversal
#: (its instalments are judged row by row). Covered on a loan with no reversal: settled for good (only a reversal booked later, which a later close sees,
#: can change that). The instalments come through an index that holds what is read of them, the principal repaid
#: through one index lookup each, the loans with a reversal once.
_JUDGEABLE = """
    WITH moved(day, effective) AS (VALUES {moved}),
    candidate AS (
        SELECT i.id, i.loan_id, i.seq, i.scheduled_through, COALESCE(m.effective, i.due_on) AS effective
        FROM ({to_judge}) i LEFT JOIN moved m ON m.day = i.due_on
    )
    SELECT id, scheduled, repaid, reversed FROM (
        SELECT c.id,
            COALESCE(c.scheduled_through, (
                SELECT SUM(s.principal) FROM loans_repaymentinstalment s WHERE s.loan_id = c.loan_id AND s.seq <= c.seq
            )) AS scheduled,
            COALESCE((
                SELECT SUM(p.amount) FROM loans_posting p
                WHERE p.loan_id = c.loan_id AND p.kind = %s AND p."on" <= c.effective
            ), 0) AS repaid,
            c.loan_id IN (SELECT r.loan_id FROM loans_posting r WHERE r.kind = %s AND r.loan_id IS NOT NULL) AS reversed
        FROM candidate c
        WHERE c.effective < %s
    ) judged
    -- Only what is not settled for good comes back: most of a day's instalments were paid, and stay in the database.
    WHERE reversed OR repaid < scheduled
"""


def _judgeable(on, to_judge, calendar):
    """(sql, params) of `_JUDGEABLE` for the instalments of `to_judge` (as `_to_judge` gives them)."""
    parts = [queryset.order_by().values("id", "loan_id", "seq", "scheduled_through", "due_on").query.sql_with_params()
             for queryset, _first in to_judge]
    first_due = min(
        (first if first is not None else queryset.order_by("due_on").values_list("due_on", flat=True).first() or on
         for queryset, first in to_judge),
        default=on,
    )
    moved = [(day, calendar.on_or_after(day)) for day in _days(first_due, on) if not calendar.is_working_day(day)]
    moved.append((on, on))  # VALUES needs a row; no instalment due before `on` matches it
    adapt = connection.ops.adapt_datefield_value
    principal, reversal = PostingKind.PRINCIPAL, PostingKind.REVERSAL
    union = " UNION ALL ".join(f"SELECT * FROM ({sql}) AS part{n}" for n, (sql, _params) in enumerate(parts))
    return (
        _JUDGEABLE.format(moved=", ".join(["(%s, %s)"] * len(moved)), to_judge=union),
        [*(adapt(day) for pair in moved for day in pair), *(param for _sql, params in parts for param in params),
         principal, reversal, adapt(on)],
    )


def _days(first, until):
    return (first + timedelta(days=n) for n in range((until - first).days))


def missed_instalments(on, *, loans=None, calendar=None):
    """[(instalment row, overdue since)] of instalments not yet marked that are overdue by `on` (inclusive), of the
    loans of the queryset `loans` when given. The number of queries does not depend on how many there are.

    Only what a close for `on` has still to judge is read (`_to_judge`), and the instalments of loans with a reversal
    or a status change booked since the last close.

    Most are settled in SQL (repaid in time, nothing taken back since), and a missed instalment of a loan that never
    changed status is overdue from the day after its working due date; only the rest (reversals, freezes) are judged
    row by row from the loan's repayments and status history.
    """
    closes = _closes_before(on)
    if calendar is None:
        calendar = WorkingCalendar.for_span(on - timedelta(days=31), on)  # earlier years are read if needed
    to_judge = _to_judge(on, closes, calendar)
    unmarked = RepaymentInstalment.objects.filter(due_on__lt=on, overdue_since__isnull=True)
    if loans is not None:
        to_judge = [(queryset.filter(loan__in=loans), first) for queryset, first in to_judge]
        unmarked = unmarked.filter(loan__in=loans)
    uncovered, ids = {}, set()  # uncovered: {id: principal repaid by the end of its working due date}
    with connection.cursor() as cursor:
        cursor.execute(*_judgeable(on, to_judge, calendar))
        for pk, scheduled, repaid, reversed_ in cursor.fetchall():
            if reversed_ or repaid < scheduled:
                ids.add(pk)
            if repaid < scheduled and not reversed_:
                uncovered[pk] = repaid
    # A day's margin for what was booked while the last close ran.
    for batch in in_batches(_booked_event_loans(closes[0][1] - ONE_DAY if closes else None)):
        ids.update(unmarked.filter(loan__in=batch).values_list("pk", flat=True))
    scheduled_through = (
        RepaymentInstalment.objects.filter(loan=OuterRef("loan"), seq__lte=OuterRef("seq"))
        .order_by()
        .values("loan")
        .annotate(total=Sum("principal"))
        .values("total")
    )
    changed = LoanStatusChange.objects.filter(loan=OuterRef("loan"))
    rows = []
    for batch in in_batches(sorted(ids)):
        rows += unmarked.filter(pk__in=batch).annotate(
            scheduled=Coalesce("scheduled_through", Subquery(scheduled_through)),
            plain=Q(loan__status=Loan.Status.ACTIVE) & ~Exists(changed),
        ).values("pk", "loan_id", "loan__number", "loan__household__head_name", "seq", "due_on", "principal",
                 "scheduled", "plain")
    rows.sort(key=lambda row: (row["loan__number"], row["seq"]))
    judged_by_rows = [row for row in rows if not (row["pk"] in uncovered and row["plain"])]
    movements, histories = {}, {}
    for batch in in_batches(sorted({row["loan_id"] for row in judged_by_rows})):
        movements.update(_principal_movements(batch))
        histories.update(loan_status_histories(batch))
    missed = []
    for row in rows:
        row["scheduled_through"] = row.pop("scheduled")
        row["effective_due_on"] = effective = calendar.on_or_after(row["due_on"])
        if effective >= on:
            continue
        if row["pk"] in uncovered and row["plain"]:  # not covered at the end of its working due date, active all along
            row["repaid"] = uncovered[row["pk"]]
            missed.append((row, effective + ONE_DAY))
            continue
        repayments = movements.get(row["loan_id"], [])
        row["repaid"] = sum((amount for day, amount in repayments if day <= effective), Decimal(0))
        since = overdue_start(
            effective_due=effective, scheduled_through=row["scheduled_through"], repayments=repayments,
            history=histories[row["loan_id"]], until=on,
        )
        if since is not None:
            missed.append((row, since))
    return missed


def _mark(pks, since):
    """Mark these instalments overdue since `since`: one statement on PostgreSQL (an array of ids, read through the
    primary key), batches on SQLite."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE loans_repaymentinstalment SET overdue_since = %s WHERE id = ANY(%s)", [since, list(pks)]
            )
        return
    for batch in in_batches(pks):
        RepaymentInstalment.objects.filter(pk__in=batch).update(overdue_since=since)


def overdue_close_day(*, on):
    """Mark every instalment overdue by `on` with the day it became overdue, bring cached balances and the past-date
    snapshots in line from that day, and record the day as closed. Returns (marked rows, refreshed loan ids).

    A fixed number of statements whatever the number of loans, and one more per batch of instalments judged row by
    row (`in_batches`); a second run for the same day finds nothing.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Its statements read a few rows through indexes, but the planner cannot tell how few from the partial
            # index; compiling them (JIT) would cost seconds.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        seen = RepaymentInstalment.objects.order_by("-pk").values_list("pk", flat=True).first()
        missed = missed_instalments(on)
        by_day = defaultdict(list)
        for row, since in missed:
            row["overdue_since"] = since
            by_day[since].append(row["pk"])
        marked_loans = sorted({row["loan_id"] for row, _since in missed})
        with snapshots_following_marks(marked_loans):
            for since, pks in sorted(by_day.items()):
                _mark(pks, since)
        refresh_overdue_balances(marked_loans, since=min(by_day, default=on), snapshots=False)
        snapshots_close_months(max(on, timezone.localdate()))
        for program in LoanProgram.objects.filter(rates__effective_from__lte=on).distinct():
            program.sync_current_rate(on)
        DayClose.objects.update_or_create(
            on=on, defaults={"ran_at": timezone.now(), "instalments_marked": len(missed), "instalments_seen": seen}
        )
    return [row for row, _since in missed], marked_loans

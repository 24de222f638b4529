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
from django.db.models import Case, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from loans.calendar import WorkingCalendar
from loans.interest import StatusHistory
from loans.ledger.balances import ZERO, net_amount, refresh_overdue_balances
from loans.ledger.snapshots import snapshots_close_months
from loans.models import DayClose, Loan, LoanProgram, LoanStatusChange, Posting, RepaymentInstalment

PostingKind = Posting.Kind
ONE_DAY = timedelta(days=1)
#: Loans and instalments judged row by row are read and stamped in batches of this many (SQLite's limit on
#: parameters): one batch on any ordinary day.
BATCH = 500


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


def _day_closed_before(on):
    return DayClose.objects.filter(on__lt=on).order_by("-on").values_list("on", "ran_at").first()


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


def _batches(items):
    return (items[start:start + BATCH] for start in range(0, len(items), BATCH))


#: Instalments the day close has still to judge (the `instalment_unjudged` index holds exactly these): not marked, and
#: either never judged or moved to a due date on or after the close that judged them.
UNJUDGED = Q(overdue_since__isnull=True) & (Q(judged_through__isnull=True) | Q(judged_through__lte=F("due_on")))

#: For each unjudged instalment due before `on` whose working due date has passed: whether the loan had repaid the
#: schedule up to it by the end of that day (`covered`), whether a reversal of a repayment is dated after that day
#: (`reopened`), and whether the loan is active and never changed status (`plain`). Covered and not reopened: settled
#: for good (only a reversal booked later, which the next close sees, can change that). Not covered on a plain loan:
#: overdue from the day after. Index lookups per row (the loan's schedule, postings and status changes), none over the
#: whole ledger.
_JUDGEABLE = """
    WITH moved(day, effective) AS (VALUES {moved}),
    candidate AS (
        SELECT i.id, i.loan_id, i.seq, COALESCE(m.effective, i.due_on) AS effective
        FROM ({unjudged}) i LEFT JOIN moved m ON m.day = i.due_on
    )
    SELECT c.id,
        (SELECT SUM(s.principal) FROM loans_repaymentinstalment s WHERE s.loan_id = c.loan_id AND s.seq <= c.seq)
        <= COALESCE((
            SELECT SUM(CASE WHEN p.kind = %s THEN p.amount ELSE -p.amount END)
            FROM loans_posting p LEFT JOIN loans_posting o ON o.id = p.reverses_id
            WHERE p.loan_id = c.loan_id AND p."on" <= c.effective AND (p.kind = %s OR (p.kind = %s AND o.kind = %s))
        ), 0) AS covered,
        EXISTS (
            SELECT 1 FROM loans_posting p JOIN loans_posting o ON o.id = p.reverses_id
            WHERE p.loan_id = c.loan_id AND p.kind = %s AND o.kind = %s AND p."on" > c.effective
        ) AS reopened,
        EXISTS (SELECT 1 FROM loans_loan l WHERE l.id = c.loan_id AND l.status = %s)
        AND NOT EXISTS (SELECT 1 FROM loans_loanstatuschange h WHERE h.loan_id = c.loan_id) AS plain
    FROM candidate c WHERE c.effective < %s
"""


def _judgeable(on, loans):
    """(sql, params) of `_JUDGEABLE` for the UNJUDGED instalments due before `on` (of the loans of the queryset
    `loans`, when given); None when there are none."""
    unjudged = RepaymentInstalment.objects.filter(UNJUDGED, due_on__lt=on)
    if loans is not None:
        unjudged = unjudged.filter(loan__in=loans)
    first_due = unjudged.order_by("due_on").values_list("due_on", flat=True).first()
    if first_due is None:
        return None
    calendar = WorkingCalendar.for_span(first_due, on)
    moved = [(day, calendar.on_or_after(day)) for day in _days(first_due, on) if not calendar.is_working_day(day)]
    moved.append((on, on))  # VALUES needs a row; no instalment due before `on` matches it
    adapt = connection.ops.adapt_datefield_value
    unjudged_sql, unjudged_params = unjudged.order_by().values("id", "loan_id", "seq", "due_on").query.sql_with_params()
    principal, reversal = PostingKind.PRINCIPAL, PostingKind.REVERSAL
    return (
        _JUDGEABLE.format(moved=", ".join(["(%s, %s)"] * len(moved)), unjudged=unjudged_sql),
        [*(adapt(day) for pair in moved for day in pair), *unjudged_params,
         principal, principal, reversal, principal, reversal, principal, Loan.Status.ACTIVE, adapt(on)],
    )


def _days(first, until):
    return (first + timedelta(days=n) for n in range((until - first).days))


def missed_instalments(on, *, loans=None, calendar=None):
    """[(instalment row, overdue since)] of instalments not yet marked that are overdue by `on` (inclusive).

    `loans` narrows the search (a queryset of loans); the number of queries does not depend on how many there are.
    """
    return judge_instalments(on, loans=loans, calendar=calendar)[0]


def judge_instalments(on, *, loans=None, calendar=None):
    """(missed, judged): the instalments overdue by `on` as in `missed_instalments`, and the ids of those found not
    overdue once their working due date had passed, which a close records as judged (a list as long as what fell due).

    Only what a close has still to judge is read: instalments not judged yet (those that fell due since the last close,
    or came with an import), and the instalments of loans with a reversal or a status change booked since the last
    close. Most are settled in SQL (repaid in time, nothing taken back since), and a missed instalment of a loan
    that never changed status is overdue from the day after its working due date; only the rest (reversals, freezes)
    are judged row by row from the loan's repayments and status history.
    """
    ids, settled, plain = set(), [], set()
    judgeable = _judgeable(on, loans)
    if judgeable is not None:
        with connection.cursor() as cursor:
            cursor.execute(judgeable[0], judgeable[1])
            for pk, covered, reopened, is_plain in cursor.fetchall():
                if covered and not reopened:
                    settled.append(pk)
                else:
                    ids.add(pk)
                    if not covered and is_plain:
                        plain.add(pk)
    last_closed = _day_closed_before(on)
    unmarked = RepaymentInstalment.objects.filter(due_on__lt=on, overdue_since__isnull=True)
    if loans is not None:
        unmarked = unmarked.filter(loan__in=loans)
    # A day's margin for what was booked while the last close ran.
    for batch in _batches(_booked_event_loans(None if last_closed is None else last_closed[1] - ONE_DAY)):
        ids.update(unmarked.filter(loan__in=batch).values_list("pk", flat=True))
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
    rows = []
    for batch in _batches(sorted(ids)):
        rows += unmarked.filter(pk__in=batch).annotate(
            scheduled_through=Subquery(scheduled_through), repaid=Coalesce(Subquery(repaid), ZERO)
        ).values("pk", "loan_id", "loan__number", "loan__household__head_name", "seq", "due_on", "principal",
                 "scheduled_through", "repaid")
    rows.sort(key=lambda row: (row["loan__number"], row["seq"]))
    if calendar is None:
        first_due = min((row["due_on"] for row in rows), default=on)
        calendar = WorkingCalendar.for_span(first_due, on)
    movements, histories = {}, {}
    for batch in _batches(sorted({row["loan_id"] for row in rows if row["pk"] not in plain})):
        movements.update(_principal_movements(batch))
        histories.update(loan_status_histories(batch))
    missed, judged = [], []
    for row in rows:
        row["effective_due_on"] = effective = calendar.on_or_after(row["due_on"])
        if effective >= on:
            continue
        if row["pk"] in plain:  # not covered at the end of its working due date, on a loan active all along
            missed.append((row, effective + ONE_DAY))
            continue
        since = overdue_start(
            effective_due=effective, scheduled_through=row["scheduled_through"],
            repayments=movements.get(row["loan_id"], []),
            history=histories[row["loan_id"]], until=on,
        )
        if since is None:
            judged.append(row["pk"])
        else:
            missed.append((row, since))
    return missed, settled + judged


def _record_judged(on, judged):
    """Stamp `judged_through` = `on` on the instalments judged not overdue: one statement on PostgreSQL (an array of
    ids, read through the primary key), batches of 500 on SQLite."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE loans_repaymentinstalment SET judged_through = %s WHERE id = ANY(%s)", [on, list(judged)]
            )
        return
    for batch in _batches(judged):
        RepaymentInstalment.objects.filter(pk__in=batch).update(judged_through=on)


def overdue_close_day(*, on):
    """Mark every instalment overdue by `on` with the day it became overdue, bring cached balances and the past-date
    snapshots in line from that day, and record the day as closed. Returns (marked rows, refreshed loan ids).

    A fixed number of statements whatever the number of loans, and one more per 500 instalments judged row by row;
    a second run for the same day finds nothing.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Its statements read a few rows through indexes, but the planner cannot tell how few from the partial
            # index; compiling them (JIT) would cost seconds.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        missed, judged = judge_instalments(on)
        by_day = defaultdict(list)
        for row, since in missed:
            row["overdue_since"] = since
            by_day[since].append(row["pk"])
        if by_day:
            RepaymentInstalment.objects.filter(pk__in=[pk for pks in by_day.values() for pk in pks]).update(
                overdue_since=Case(*(When(pk__in=pks, then=Value(since)) for since, pks in by_day.items()))
            )
        _record_judged(on, judged)
        marked_loans = sorted({row["loan_id"] for row, _since in missed})
        refresh_overdue_balances(marked_loans, since=min(by_day, default=on))
        snapshots_close_months(max(on, timezone.localdate()))
        for program in LoanProgram.objects.filter(rates__effective_from__lte=on).distinct():
            program.sync_current_rate(on)
        DayClose.objects.update_or_create(on=on, defaults={"ran_at": timezone.now(), "instalments_marked": len(missed)})
    return [row for row, _since in missed], marked_loans

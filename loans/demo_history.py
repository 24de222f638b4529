"""The demo district's two years before its opening day, so that every past date shows a portfolio a supervisor
would believe: loans that were repaid and renewed, monthly interest and savings collected on the 13/TD collection
days, and a few instalments paid late (overdue for a month or two, then repaid).

Written set-based (a few bulk statements, no per-row service), right after seed_demo has built its loans and before
the ward merger, so the history stands under the old wards, branches and groups. Today's figures do not move: the
loans it adds were repaid in full before the opening day, late instalments were repaid before it too, and each
household's savings path ends at the balance the seed gave it on the opening day. Interest follows the interest rule
of loans.interest (daily accrual on the balances of each day, overdue principal at the overdue multiplier, rounded
once per period and kind); tests/test_demo_history.py checks it against `loan_period_interest`.
"""

import random
from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from loans.demo_activity import collection_days
from loans.interest import DAY_DIVISOR
from loans.ledger.summaries import refresh_monthly_balances
from loans.models import (
    Loan,
    LoanProgram,
    LoanStatusChange,
    Posting,
    RepaymentInstalment,
    add_months,
    schedule_instalments,
    schedule_rows,
)
from loans.money import round_vnd
from organizations.audit import audit_bulk
from organizations.models import GroupMembership, SavingsGroup

#: Months of history before the opening day (every past date of the last two years reads real figures).
HISTORY_MONTHS = 24
#: The dashboard's 12-month trend of any of those dates reads 12 more month ends before it.
TREND_MONTHS = HISTORY_MONTHS + 14
#: Share of the instalments due in the history that were paid late, and how late (days).
LATE_SHARE = 0.15
LATE_DAYS = (25, 80)
#: The earlier loan of each household: its amount against today's loan, its term and repayment frequency.
EARLIER_AMOUNT = (0.85, 1.15)
EARLIER_TERMS = (24, 36, 36)
EARLIER_FREQUENCIES = (12, 12, 0)  # yearly, or all at maturity
#: Its own random stream: seed_demo's later steps draw from demo.rng as they always did, so today stays the same.
HISTORY_SEED = 2024
BATCH = 5000

Kind = Posting.Kind


def build_history(demo):
    """Add the two years before the opening day to the loans and households seed_demo has just built."""
    rng = random.Random(HISTORY_SEED)
    opening, _days = collection_days(demo.today)
    days = [add_months(opening, -HISTORY_MONTHS + k) for k in range(HISTORY_MONTHS + 1)]  # days[-1] is the opening
    groups = dict(SavingsGroup.objects.values_list("pk", "code"))
    earlier = _earlier_loans(rng, days)
    late = _late_instalments(rng, days, earlier)
    interest = _interest_postings(days, earlier, late, groups)
    savings, removed = _savings_postings(rng, days, groups)
    rows = _earlier_postings(earlier, late) + interest + savings
    _insert_postings(rows)
    audit_bulk(Posting, count=len(rows), note="seed_demo history")
    demo.out.write(
        f"  History from {days[0]:%d/%m/%Y}: {len(earlier['loans'])} earlier loans repaid, {len(interest)} interest "
        f"and {len(savings)} savings postings ({removed} opening deposits replaced), {late['count']} instalments "
        f"paid late"
    )


def refresh_history_trend(today):
    """The month-end trend per branch far enough back for the 12-month chart of every date of the history."""
    refresh_monthly_balances(today, count=TREND_MONTHS)


# --- Loans repaid before the opening day --------------------------------------------------------------------------


def _earlier_loans(rng, days):
    """Each borrowing household's previous loan (same group and program, about the same amount), repaid in full by
    the day its current loan was disbursed, at the latest a month before the opening day: "trả cũ vay mới"."""
    cutoff = days[-2] - timedelta(days=1)
    programs = {p.pk: p for p in LoanProgram.objects.all()}
    current = (
        Loan.objects.order_by("household_id", "number")
        .values_list("household_id", "group_id", "program_id", "number", "amount", "disbursed_on")
    )
    loans, seen = [], set()
    for household, group, program_id, number, amount, disbursed_on in current:
        if household in seen:
            continue  # a second (clean-water) loan has no predecessor of its own
        seen.add(household)
        program = programs[program_id]
        matured = min(disbursed_on, cutoff - timedelta(days=rng.randint(0, 30)))
        matured = matured.replace(day=min(matured.day, 28))
        term = rng.choice(EARLIER_TERMS)
        principal = int(amount * Decimal(str(rng.uniform(*EARLIER_AMOUNT)))) // 1_000_000 * 1_000_000
        principal = max(3_000_000, min(principal, int(program.max_amount)))
        start = add_months(matured, -term)
        loans.append(
            Loan(
                number=f"{number[0]}9{number[2:]}",  # the seed's numbers never have a 9 there
                household_id=household, group_id=group, program=program, amount=principal, disbursed_on=start,
                maturity_on=matured, term_months=term, frequency=rng.choice(EARLIER_FREQUENCIES),
                annual_rate=program.annual_rate, overdue_multiplier=program.overdue_multiplier,
                status=Loan.Status.CLOSED,
            )
        )
    Loan.objects.bulk_create(loans, batch_size=1000)
    audit_bulk(Loan, objects=loans, note="seed_demo history")
    LoanStatusChange.objects.bulk_create(
        [
            LoanStatusChange(loan=loan, from_status=Loan.Status.ACTIVE, to_status=Loan.Status.CLOSED,
                             on=loan.maturity_on, note="Tất toán: đã trả hết gốc và lãi",
                             at=timezone.make_aware(datetime.combine(loan.maturity_on, time(10))))
            for loan in loans
        ],
        batch_size=2000,
    )
    instalments = {}
    for loan in loans:
        instalments[loan.pk] = schedule_rows(loan.amount, loan.disbursed_on, loan.term_months, loan.frequency)
    return {"loans": loans, "instalments": instalments}


def _earlier_postings(earlier, late):
    """The earlier loans' disbursements and repayments (at the bank's desk, on the day each instalment was paid)."""
    rows = []
    for loan in earlier["loans"]:
        rows.append((Kind.DISBURSEMENT, int(loan.amount), loan.disbursed_on, "Giải ngân tại điểm giao dịch phường",
                     loan.household_id, loan.pk))
        for _seq, _due_on, principal, paid_on in late["repaid"][loan.pk]:
            rows.append((Kind.PRINCIPAL, principal, paid_on, "", loan.household_id, loan.pk))
    return rows


# --- Instalments paid late ----------------------------------------------------------------------------------------


def _late_instalments(rng, days, earlier):
    """A few instalments due in the history paid a month or two late, before the next one fell due and a month
    before the opening day: overdue from the day after their due date until paid. Returns the repayment date of
    every instalment of the earlier loans and moves the seeded repayments of today's loans that were paid late."""
    # From a year before the history too: the 12-month trend of its first dates shows overdue as well.
    first, last = add_months(days[0], -14), days[-2] - timedelta(days=1)

    def paid_late(due_on, next_due):
        if not first <= due_on or rng.random() >= LATE_SHARE:
            return None
        paid_on = due_on + timedelta(days=rng.randint(*LATE_DAYS))
        if next_due is not None and paid_on >= next_due or paid_on > last:
            return None
        return paid_on

    count = 0
    repaid = {}  # earlier loan pk: [(seq, due_on, principal, paid_on)]
    for loan in earlier["loans"]:
        rows = earlier["instalments"][loan.pk]
        paid = []
        for index, (seq, due_on, principal) in enumerate(rows):
            is_last = index == len(rows) - 1
            paid_on = None if is_last else paid_late(due_on, rows[index + 1][1])
            paid.append((seq, due_on, principal, paid_on or due_on))
            if paid_on:
                count += 1
        repaid[loan.pk] = paid
    # Today's loans: their repaid instalments were posted on the due dates; a few move later.
    moved = []
    instalments = defaultdict(list)
    scheduled = RepaymentInstalment.objects.filter(
        due_on__gte=first, due_on__lte=last, loan__status=Loan.Status.ACTIVE  # the earlier loans are closed
    )
    for pk, loan_id, seq, due_on in scheduled.order_by("loan_id", "seq").values_list("pk", "loan_id", "seq", "due_on"):
        instalments[loan_id].append((pk, seq, due_on))
    postings = {
        (loan_id, on): pk
        for pk, loan_id, on in Posting.objects.filter(
            kind=Kind.PRINCIPAL, loan__in=list(instalments), on__gte=first, on__lte=last
        ).values_list("pk", "loan_id", "on")
    }
    next_due, through = {}, {}
    for loan_id, seq, due_on, principal in (
        RepaymentInstalment.objects.filter(loan__in=list(instalments)).order_by("loan_id", "seq")
        .values_list("loan_id", "seq", "due_on", "principal")
    ):
        next_due[loan_id, seq] = due_on
        through[loan_id, seq] = through.get((loan_id, seq - 1), 0) + int(principal)
    for loan_id, rows in instalments.items():
        for pk, seq, due_on in rows:
            posting = postings.get((loan_id, due_on))
            if posting is None:
                continue  # not repaid (yet): the seed's missed instalments stay as they are
            paid_on = paid_late(due_on, next_due.get((loan_id, seq + 1)))
            if paid_on:
                moved.append((posting, paid_on, pk, due_on + timedelta(days=1), loan_id, through[loan_id, seq]))
    with connection.cursor() as cursor:
        posting_table = connection.ops.quote_name(Posting._meta.db_table)
        instalment_table = connection.ops.quote_name(RepaymentInstalment._meta.db_table)
        cursor.executemany(f'UPDATE {posting_table} SET "on" = %s WHERE id = %s',
                           [(_day(row[1]), row[0]) for row in moved])
        cursor.executemany(f"UPDATE {instalment_table} SET overdue_since = %s WHERE id = %s",
                           [(_day(row[3]), row[2]) for row in moved])
    # The earlier loans' schedules, with their overdue marks.
    RepaymentInstalment.objects.bulk_create(
        [
            instalment
            for loan_pk, rows in repaid.items()
            for instalment in schedule_instalments(
                Loan(pk=loan_pk),
                [(seq, due_on, principal, due_on + timedelta(days=1) if paid_on != due_on else None)
                 for seq, due_on, principal, paid_on in rows],
            )
        ],
        batch_size=BATCH,
    )
    count += len(moved)
    return {"repaid": repaid, "moved": moved, "count": count}


# --- Interest collected on the collection days ---------------------------------------------------------------------


def _interest_postings(days, earlier, late, groups):
    """Interest (and overdue interest) of every loan for each month of the history, collected on the collection
    day that ends it; an earlier loan's last month is paid with its last instalment, on its maturity day."""
    collection_on = days[1:-1]  # the opening day's interest is demo_activity's opening posting
    loans = {}
    events = defaultdict(list)  # loan pk: [(day, disbursed, repaid, scheduled mark)]
    for loan in earlier["loans"]:
        loans[loan.pk] = (loan.household_id, loan.group_id, loan.annual_rate, loan.overdue_multiplier,
                          loan.disbursed_on, loan.maturity_on)
        events[loan.pk].append((loan.disbursed_on, int(loan.amount), 0, 0))
        through = 0
        for _seq, due_on, principal, paid_on in late["repaid"][loan.pk]:
            through += principal
            events[loan.pk].append((paid_on, 0, principal, 0))
            if paid_on != due_on:
                events[loan.pk].append((due_on + timedelta(days=1), 0, 0, through))
    current = Loan.objects.filter(disbursed_on__lt=days[-2], status=Loan.Status.ACTIVE)
    for pk, household, group, rate, multiplier, disbursed_on in current.values_list(
        "pk", "household_id", "group_id", "annual_rate", "overdue_multiplier", "disbursed_on"
    ):
        loans[pk] = (household, group, rate, multiplier, disbursed_on, None)
    for loan_id, kind, amount, on in Posting.objects.filter(
        loan__in=current.values("pk"), kind__in=[Kind.DISBURSEMENT, Kind.PRINCIPAL], on__lt=days[-2]
    ).values_list("loan_id", "kind", "amount", "on"):
        events[loan_id].append((on, int(amount), 0, 0) if kind == Kind.DISBURSEMENT else (on, 0, int(amount), 0))
    for _posting, _paid_on, _pk, since, loan_id, through in late["moved"]:
        events[loan_id].append((since, 0, 0, through))
    rows = []
    for pk, (household, group, rate, multiplier, disbursed_on, matured) in loans.items():
        periods = []
        previous = days[0]
        for day in collection_on:
            if day <= disbursed_on:
                previous = day
                continue
            start = max(previous, disbursed_on)
            if matured is not None and matured < day:
                periods.append((start, matured, matured))
                break
            periods.append((start, day, day))
            previous = day
        note_code = groups[group]
        for (_start, _end, on), (current_sum, overdue_sum) in zip(
            periods, _principal_days(events[pk], periods), strict=True
        ):
            current_interest = round_vnd(Decimal(current_sum) * rate / DAY_DIVISOR)
            overdue_interest = round_vnd(Decimal(overdue_sum) * rate * multiplier / DAY_DIVISOR)
            note = f"13/TD {note_code} {on:%d/%m/%Y}"
            if current_interest > 0:
                rows.append((Kind.INTEREST, int(current_interest), on, note, household, pk))
            if overdue_interest > 0:
                rows.append((Kind.OVERDUE_INTEREST, int(overdue_interest), on, note, household, pk))
    return rows


def _principal_days(events, periods):
    """(current principal-days, overdue principal-days) of each period [start, end), by the rule of
    loans.interest.daily_balances: a day's balances include every movement and overdue mark dated on or before it."""
    events = sorted(events)
    disbursed = repaid = scheduled = 0
    index = 0
    sums = []
    for start, end, _on in periods:
        current = overdue = 0
        day = start
        while day < end:
            while index < len(events) and events[index][0] <= day:
                _d, plus, minus, mark = events[index]
                disbursed, repaid, scheduled = disbursed + plus, repaid + minus, max(scheduled, mark)
                index += 1
            following = events[index][0] if index < len(events) else end
            until = min(following, end)
            outstanding = max(disbursed - repaid, 0)
            late = min(max(scheduled - repaid, 0), outstanding)
            span = (until - day).days
            current += (outstanding - late) * span
            overdue += late * span
            day = until
        sums.append((current, overdue))
    return sums


# --- Savings ---------------------------------------------------------------------------------------------------------


def _savings_postings(rng, days, groups):
    """Each saving household's deposits (and a few withdrawals) on the collection days, from an opening balance two
    years back, ending on the opening day at the balance the seed gave it then: the seed's deposits up to the
    opening day are replaced by this path, so today's balances do not move."""
    seeded = Posting.objects.filter(kind=Kind.SAVINGS_IN, loan__isnull=True, on__lte=days[-1])
    targets = defaultdict(int)
    for household, amount in seeded.values_list("household_id", "amount"):
        targets[household] += int(amount)
    # Rows seed_demo wrote a moment ago in this transaction, not the ledger of a working district: replaced in place.
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(Posting._meta.db_table)
        cursor.execute(f'DELETE FROM {table} WHERE kind = %s AND loan_id IS NULL AND "on" <= %s',
                       [str(Kind.SAVINGS_IN), _day(days[-1])])
        removed = cursor.rowcount
    group_of = dict(
        GroupMembership.objects.filter(left_on__isnull=True, household__in=list(targets)).values_list(
            "household_id", "group_id"
        )
    )
    rows = []
    steps = len(days) - 1
    for household, target in sorted(targets.items()):
        code = groups[group_of[household]]
        balance = 0
        opening = _round(target * rng.uniform(0.3, 0.8))
        for k, day in enumerate(days):
            if k == 0:
                planned = opening
            elif k == steps:
                planned = target
            else:
                trend = opening + (target - opening) * k / steps
                planned = _round(trend * rng.uniform(0.85, 1.15))
                if rng.random() < 0.05:
                    planned = _round(planned * 0.3)  # took most of it out for an instalment or a need
            change = planned - balance
            balance = planned
            if change == 0:
                continue
            if k == 0:
                note = "Số dư tiết kiệm đầu kỳ"
            else:
                note = f"13/TD {code} {day:%d/%m/%Y}"
            kind = Kind.SAVINGS_IN if change > 0 else Kind.SAVINGS_OUT
            rows.append((kind, abs(change), day, note, household, None))
    return rows, removed


def _round(amount, unit=10_000):
    return max(0, int(round(amount / unit)) * unit)


# --- Writing -------------------------------------------------------------------------------------------------------


def _day(day):
    return day.isoformat()


def _insert_postings(rows):
    """(kind, amount, on, note, household, loan) rows in date order, by one prepared INSERT per batch."""
    table = connection.ops.quote_name(Posting._meta.db_table)
    statement = (
        f'INSERT INTO {table} (kind, amount, "on", note, household_id, loan_id, created_at) '
        "VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    created_at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = sorted(rows, key=lambda row: row[2])
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            cursor.executemany(
                statement,
                [(str(kind), amount, _day(on), note, household, loan, created_at)
                 for kind, amount, on, note, household, loan in rows[start:start + BATCH]],
            )

"""The demo district's recent months, run through the product's own services so that every report has something to
show: collection days posted on 13/TD sheets by the interest rule, a few missed instalments made overdue by the day
close, a few freezes, some interest arrears and two write-offs.

Earlier history is kept as opening balances: the disbursement and the principal repaid at the bank's desk, and one
interest posting per loan settling interest up to the opening day, worked out by the same interest rule over the
month before it. Posting every month of up to five years through the services would make seed_demo take many
minutes; the last two collection days show the whole path. The two years before the opening day (earlier loans,
monthly interest and savings, instalments paid late) are written set-based by loans.demo_history. Called at the end
of seed_demo's DemoDistrict.build; it moves no principal, so the seed's outstanding balances and borrowing
households stay exactly DOMAIN.md's.
"""

from collections import defaultdict
from datetime import date, timedelta

from django.contrib.auth import get_user_model

from loans.interest import loan_period_interest
from loans.models import CollectionSheet, Loan, LoanChange, Posting, add_months
from loans.services.changes import loan_change_decide, loan_change_request
from loans.services.collection import collection_sheet_create, collection_sheet_post
from loans.services.overdue import missed_instalments, overdue_close_day
from organizations.models import OfficerProfile, SavingsGroup

#: Of the loans whose last instalment due falls between the opening day and the last collection day, the share that
#: missed it: about 1.5 % of all loans.
MISSED_SHARE = 0.045
#: Households that paid only part of the interest on the last collection day (their arrears carry forward).
PART_PAYERS_SHARE = 0.03
#: Loans frozen (khoanh nợ) per organization, and loans written off in the whole district.
FROZEN_PER_ORGANIZATION = 3
WRITTEN_OFF = 2
COLLECTION_DAY = 20


def collection_days(today):
    """The opening day (interest settled up to it) and the two collection days posted through the services."""
    last = add_months(date(today.year, today.month, COLLECTION_DAY), -1)  # up to last month
    return add_months(last, -2), [add_months(last, -1), last]


def missed_window(today):
    """Missed instalments fall due strictly between the opening day and the last collection day."""
    opening, days = collection_days(today)
    return opening, days[-1]


def run_demo_activity(demo):
    User = get_user_model()
    # The admin asks for the changes; each organization's own area-level staff decide them, as the policy wants.
    maker = User.objects.get(username="admin")
    checker = {
        profile.organization_id: profile.user
        for profile in OfficerProfile.objects.filter(role=OfficerProfile.Role.DISTRICT_STAFF).select_related("user")
    }
    opening, days = collection_days(demo.today)
    _post_opening_interest(opening)
    _freeze_a_few(demo, opening + timedelta(days=6), maker, checker)
    groups = list(SavingsGroup.objects.order_by("code"))
    for number, day in enumerate(days, start=1):
        overdue_close_day(on=day)
        last = number == len(days)
        for group in groups:
            _collect(demo.rng, group, day, maker, part_payers=last)
    _write_off_a_few(demo, days[-1] + timedelta(days=2), maker, checker)
    overdue_close_day(on=demo.today)
    demo.out.write(
        f"  Activity: opening {opening:%d/%m/%Y}, collection days "
        f"{', '.join(f'{day:%d/%m/%Y}' for day in days)} posted through the 13/TD services"
    )


def _post_opening_interest(opening):
    """Interest settled up to the opening day: the month before it, by the interest rule (no overdue yet)."""
    movements = defaultdict(list)
    rows = Posting.objects.filter(
        kind__in=[Posting.Kind.DISBURSEMENT, Posting.Kind.PRINCIPAL], on__lt=opening
    ).values_list("loan_id", "kind", "amount", "on")
    for loan_id, kind, amount, day in rows:
        movements[loan_id].append((day, amount, 0) if kind == Posting.Kind.DISBURSEMENT else (day, 0, amount))
    postings = []
    month_before = add_months(opening, -1)
    note = f"Số dư đầu kỳ: lãi đã thu đến {opening:%d/%m/%Y}"
    # Loans closed before it (loans.demo_history's earlier loans) owe nothing for that month.
    for loan in Loan.objects.filter(disbursed_on__lt=opening).exclude(status=Loan.Status.CLOSED):
        due = loan_period_interest(loan=loan, start=max(loan.disbursed_on, month_before), end=opening,
                                   movements=movements[loan.pk], overdue_marks=[])
        if due.total > 0:
            postings.append(Posting(kind=Posting.Kind.INTEREST, household_id=loan.household_id, loan=loan,
                                    amount=due.total, on=opening, note=note))
    Posting.objects.bulk_create(postings, batch_size=2000)


def _freeze_a_few(demo, on, maker, checker):
    """A few loans hit by a fire or a flood: frozen for three years by the change services (08/TD path)."""
    for kind in sorted(demo.districts):
        candidates = list(
            Loan.objects.filter(group__branch__kind=kind, status=Loan.Status.ACTIVE, disbursed_on__lt=on)
            .select_related("group__branch")
            .exclude(pk__in=[row["loan_id"] for row, _since in missed_instalments(on)])
            .order_by("number")[:400]
        )
        for loan in demo.rng.sample(candidates, min(FROZEN_PER_ORGANIZATION, len(candidates))):
            change = loan_change_request(loan=loan, kind=LoanChange.Kind.FREEZE, months=36, on=on, actor=maker,
                                         reason="Nhà bị hỏa hoạn, mất tài sản (biên bản của UBND phường)")
            loan_change_decide(change=change, approve=True, actor=checker[loan.group.branch.parent_id], on=on)


def _collect(rng, group, day, actor, *, part_payers):
    """One group's collection day: each household pays the interest due (principal goes to the bank's desk), many
    put some savings in; on the last day a few pay only part of the interest."""
    if CollectionSheet.objects.filter(group=group, collection_on=day).exists():
        return
    sheet = collection_sheet_create(group=group, on=day, actor=actor)
    entries = {}
    for line in sheet.lines.all():
        interest = line.overdue_interest_due + line.current_interest_due
        if part_payers and interest > 0 and rng.random() < PART_PAYERS_SHARE:
            interest = interest // 2000 * 1000
        savings = rng.choice([0, 0, 50_000, 100_000])
        entries[line.pk] = (interest, savings, 0)
    if entries:
        collection_sheet_post(sheet=sheet, actor=actor, entries=entries)


def _write_off_a_few(demo, on, maker, checker):
    """Two households that can never repay (the borrower died, no heir): written off by decision."""
    candidates = list(
        Loan.objects.filter(status=Loan.Status.ACTIVE).select_related("group__branch").order_by("number")[:2000]
    )
    for loan in demo.rng.sample(candidates, WRITTEN_OFF):
        change = loan_change_request(loan=loan, kind=LoanChange.Kind.WRITE_OFF, on=on, actor=maker,
                                     reason="Người vay đã chết, không có người thừa kế nghĩa vụ trả nợ")
        loan_change_decide(change=change, approve=True, actor=checker[loan.group.branch.parent_id], on=on)

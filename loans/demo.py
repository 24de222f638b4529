"""The demo district's capital plans, allocations and one submitted 03/TD list, consistent with the seeded loans.

Called at the end of seed_demo's DemoDistrict.build. It adds no loan and no posting, so the seeded portfolio
figures stay exactly as they are.
"""

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone

from loans.models import (
    AllocationEvent,
    CapitalAllocation,
    CapitalPlan,
    Loan,
    LoanApplication,
    LoanList,
    LoanProgram,
    ReviewMeeting,
)
from loans.models.pipeline import note_params

HUNDRED_MILLION = 100_000_000


def _round_up(amount, unit=HUNDRED_MILLION):
    return -(-int(amount) // unit) * unit


def seed_capital(demo):
    """Plan-year allocations for every branch and program with loans this year, plus headroom for new requests."""
    today = demo.today
    year = today.year
    User = get_user_model()
    district_user = User.objects.filter(username="district").first()
    ward_user = User.objects.filter(username="ward").first()
    ward2_user = User.objects.filter(username="ward2").first()
    programs = {p.code: p for p in LoanProgram.objects.all()}

    disbursed = defaultdict(int)
    rows = (
        Loan.objects.filter(disbursed_on__year=year, disbursed_on__lte=today)
        .values("group__branch", "program")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        disbursed[row["group__branch"], row["program"]] = int(row["total"])

    branches = [b for (kind, _ward), b in demo.branches.items() if kind in demo.districts and kind != "front"]
    needs = {}
    for branch in branches:
        for program_id in {programs["01"].pk} | {p for (b, p) in disbursed if b == branch.pk}:
            used = disbursed.get((branch.pk, program_id), 0)
            needs[branch, program_id] = (used, _round_up(used * Decimal("1.2") + 200_000_000))

    women_second_ward = demo.branches["12", demo.wards[1].pk]
    plans = {}
    for (branch, program_id), (_used, amount) in needs.items():
        key = (branch.parent_id, program_id)
        plans[key] = plans.get(key, 0) + amount
    plan_rows = {
        key: CapitalPlan(
            organization_id=key[0], program_id=key[1], year=year,
            amount=_round_up(total * Decimal("1.1")) + (1_000_000_000 if key[1] == programs["03"].pk else 0),
            note=f"Kế hoạch vốn ủy thác năm {year}", created_by=district_user,
        )
        for key, total in plans.items()
    }
    # The Women's Union also plans job-creation capital that its second ward has only proposed so far.
    women = demo.districts["12"].pk
    plan_rows.setdefault(
        (women, programs["03"].pk),
        CapitalPlan(organization_id=women, program_id=programs["03"].pk, year=year, amount=2_000_000_000,
                    note=f"Kế hoạch vốn ủy thác năm {year}", created_by=district_user),
    )
    CapitalPlan.objects.bulk_create(plan_rows.values())

    decided_at = timezone.make_aware(datetime(year, 1, 10, 9, 0))
    allocations = []
    for (branch, program_id), (used, amount) in needs.items():
        if branch == women_second_ward and program_id == programs["03"].pk:
            continue
        allocations.append(
            CapitalAllocation(
                plan=plan_rows[branch.parent_id, program_id], branch=branch, status=CapitalAllocation.Status.APPROVED,
                amount_proposed=amount, amount=amount, amount_committed=used, amount_disbursed=used,
                proposed_at=decided_at, decided_at=decided_at,
                decided_by=district_user if branch.parent_id == women else None,
                proposal_note="Theo danh sách 03/TD và dư nợ đến hạn trong năm",
            )
        )
    pending = CapitalAllocation(
        plan=plan_rows[women, programs["03"].pk], branch=women_second_ward, amount_proposed=500_000_000,
        proposed_by=ward2_user, proposal_note="Nhu cầu vay giải quyết việc làm của hội viên",
    )
    allocations.append(pending)
    CapitalAllocation.objects.bulk_create(allocations)
    events = []
    for allocation in allocations:
        events.append(AllocationEvent(allocation=allocation, kind=AllocationEvent.Kind.PROPOSED,
                                      amount=allocation.amount_proposed, actor=allocation.proposed_by,
                                      note=allocation.proposal_note, at=allocation.proposed_at))
        if allocation.status == CapitalAllocation.Status.APPROVED:
            events.append(AllocationEvent(allocation=allocation, kind=AllocationEvent.Kind.APPROVED,
                                          amount=allocation.amount, actor=allocation.decided_by, at=decided_at))
    AllocationEvent.objects.bulk_create(events)
    if ward_user is not None:
        _submitted_list(demo, ward_user, programs["01"])


def _submitted_list(demo, ward_user, program):
    """A 03/TD list of the first ward's Women's Union, certified and submitted, waiting for district approval."""
    branch = demo.branches["12", demo.wards[0].pk]
    group = branch.groups.order_by("code").first()
    borrowers = Loan.objects.filter(group=group).values("household")
    savers = list(
        group.memberships.filter(left_on__isnull=True)
        .exclude(household__in=borrowers)
        .select_related("household")
        .order_by("household__pk")[:3]
    )
    members = [m.household for m in savers]
    if len(members) < 2:
        members += [
            m.household for m in group.memberships.filter(left_on__isnull=True).select_related("household")
            .order_by("-household__pk")[: 3 - len(members)]
        ]
    today = demo.today
    held_on = max(date(today.year, today.month, 1), today.replace(day=max(1, today.day - 7)))
    meeting = ReviewMeeting.objects.create(
        group=group, held_on=held_on, attendee_count=group.memberships.count(), recorded_by=ward_user,
        neighbourhood_head=group.neighbourhood.head_name if group.neighbourhood else "",
        branch_officer=ward_user.get_full_name(),
    )
    loan_list = LoanList.objects.create(
        meeting=meeting, group=group, status=LoanList.Status.SUBMITTED, certified_on=held_on,
        certified_signer="Chủ tịch UBND phường", certification_ref="15/XN-UBND", certified_by=ward_user,
        submitted_at=timezone.now(), submitted_by=ward_user,
    )
    Status = LoanApplication.Status
    for household, (amount, purpose) in zip(
        members, [(40_000_000, "Mua bò giống"), (30_000_000, "Mở tiệm tạp hóa"), (25_000_000, "Mua máy may")],
        strict=False,
    ):
        application = LoanApplication.objects.create(
            household=household, group=group, program=program, amount_requested=amount, term_months=36,
            purpose=purpose, meeting=meeting, created_by=ward_user,
        )
        application.transition_to(Status.GROUP_APPROVED, actor=ward_user, on=held_on, note_code="group_approved",
                                  note_params=note_params(date=held_on, amount=amount))
        application.amount_group_approved = amount
        application.loan_list = loan_list
        application.save(update_fields=["amount_group_approved", "loan_list", "updated_at"])
        application.transition_to(Status.CERTIFIED, actor=ward_user, on=held_on)
        application.transition_to(Status.SUBMITTED, actor=ward_user)

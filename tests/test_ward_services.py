"""Services of the ward's work: households, groups, requests (01/TD), review (10A/TD), list 03/TD."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from borrowers import services as household_services
from borrowers.models import Household
from loans.models import ApplicationStatusChange, LoanApplication, LoanList
from loans.services import requests as requests_services
from loans.services.requests import ReviewResult
from organizations.errors import DomainError
from organizations.models import GroupMembership, SavingsGroup
from organizations.services import groups
from tests.factories import HouseholdFactory, LoanApplicationFactory, SavingsGroupFactory, program

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today(time_machine):
    """A fixed business date, and messages in English so the assertions read the rule's own words."""
    time_machine.move_to("2026-11-20 10:00 +07:00", tick=False)
    with translation.override("en"):
        yield
Status = LoanApplication.Status


def household_data(group, **overrides):
    data = {
        "head_name": "Lê Thị Hồng",
        "citizen_id": "079180456789",
        "customer_code": "",
        "birth_year": 1980,
        "phone": "0912345678",
        "address": "5 Hà Huy Giáp",
        "neighbourhood": None,
        "members": 4,
        "policy_status": Household.PolicyStatus.POOR,
        "policy_list_year": 2025,
        "escaped_year": None,
        "group": group,
        "joined_on": date(2026, 11, 1),
    }
    data.update(overrides)
    return data


# Households ---------------------------------------------------------------------------------------------------------

def test_household_create_joins_the_group_and_takes_its_branch(group_a, ward_officer_a):
    household = household_services.household_create(data=household_data(group_a), actor=ward_officer_a)
    assert household.branch == group_a.branch
    assert household.ward == group_a.branch.ward
    assert household.search_name == "le thi hong"
    assert household.customer_code is None
    membership = household.current_membership
    assert membership.group == group_a and membership.joined_on == date(2026, 11, 1)


def test_citizen_id_clash_in_another_ward_names_no_ward(group_a, household_b, ward_officer_a):
    with pytest.raises(DomainError) as error:
        household_services.household_create(
            data=household_data(group_a, citizen_id=household_b.citizen_id), actor=ward_officer_a
        )
    assert error.value.field == "citizen_id"
    assert household_b.citizen_id in error.value.message
    assert "Phường B" not in error.value.message and error.value.household is None
    assert not Household.objects.filter(head_name="Lê Thị Hồng").exists()


def test_citizen_id_clash_in_the_officers_own_branch_names_the_ward_and_the_household(
    group_a, household_a, ward_officer_a, admin_user
):
    for actor in (ward_officer_a, admin_user):
        with pytest.raises(DomainError) as error:
            household_services.household_create(
                data=household_data(group_a, citizen_id=household_a.citizen_id), actor=actor
            )
        assert error.value.field == "citizen_id"
        assert "Phường A" in error.value.message and error.value.household == household_a


def test_customer_code_clash_in_another_ward_names_no_ward(group_a, household_a, household_b, ward_officer_a):
    with pytest.raises(DomainError) as error:
        household_services.household_update(
            household=household_a, data={"customer_code": household_b.customer_code}, actor=ward_officer_a
        )
    assert error.value.field == "customer_code"
    assert "Phường B" not in error.value.message and error.value.household is None


def test_customer_code_clash_is_refused(group_a, household_b, ward_officer_a):
    with pytest.raises(DomainError) as error:
        household_services.household_create(
            data=household_data(group_a, customer_code=household_b.customer_code), actor=ward_officer_a
        )
    assert error.value.field == "customer_code"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "0212345678"}, "phone"),
        ({"citizen_id": "12345"}, "citizen_id"),
        ({"policy_list_year": None}, "policy_list_year"),
        ({"policy_status": "escaped", "escaped_year": None}, "escaped_year"),
    ],
)
def test_household_create_refuses_bad_data(group_a, ward_officer_a, overrides, field):
    with pytest.raises(DomainError) as error:
        household_services.household_create(data=household_data(group_a, **overrides), actor=ward_officer_a)
    assert error.value.field == field
    assert not Household.objects.filter(head_name="Lê Thị Hồng").exists()


def test_no_policy_status_needs_no_list_year(group_a, ward_officer_a):
    household = household_services.household_create(
        data=household_data(group_a, policy_status="none", policy_list_year=None), actor=ward_officer_a
    )
    assert household.policy_status == "none"


def test_household_create_refuses_an_inactive_or_full_group(group_a, ward_officer_a):
    group_a.status = SavingsGroup.Status.SUSPENDED
    group_a.save()
    with pytest.raises(DomainError):
        household_services.household_create(data=household_data(group_a), actor=ward_officer_a)
    group_a.status = SavingsGroup.Status.ACTIVE
    group_a.save()
    for _ in range(SavingsGroup.MAX_MEMBERS):
        HouseholdFactory(group=group_a)
    with pytest.raises(DomainError) as error:
        household_services.household_create(data=household_data(group_a), actor=ward_officer_a)
    assert "60" in error.value.message


def test_household_update_keeps_its_own_citizen_id_and_refuses_another(household_a, household_b, ward_officer_a):
    data = {"head_name": "Nguyễn Thị Ánh Hồng", "citizen_id": household_a.citizen_id, "phone": "0987654321"}
    updated = household_services.household_update(household=household_a, data=data, actor=ward_officer_a)
    assert updated.search_name == "nguyen thi anh hong"
    assert updated.phone == "0987654321"
    with pytest.raises(DomainError) as error:
        household_services.household_update(
            household=household_a, data={"citizen_id": household_b.citizen_id}, actor=ward_officer_a
        )
    assert error.value.field == "citizen_id" and household_b.citizen_id in error.value.message
    assert "Phường B" not in error.value.message  # household B's ward is not ward A's officer's to know
    household_a.refresh_from_db()
    assert household_a.citizen_id != household_b.citizen_id


def test_household_move_keeps_the_history(household_a, branch_a, ward_officer_a):
    other = SavingsGroupFactory(branch=branch_a)
    household_services.household_move(household=household_a, group=other, on=date(2026, 11, 10), actor=ward_officer_a)
    rows = list(GroupMembership.objects.filter(household=household_a).order_by("joined_on"))
    assert [(r.group_id, r.left_on) for r in rows] == [(rows[0].group_id, date(2026, 11, 10)), (other.pk, None)]
    assert household_a.current_membership.group == other


def test_household_move_refusals(household_a, group_a, group_b, branch_a, ward_officer_a):
    with pytest.raises(DomainError, match="own ward branch"):
        household_services.household_move(household=household_a, group=group_b, on=date(2026, 11, 10),
                                          actor=ward_officer_a)
    with pytest.raises(DomainError, match="already in this group"):
        household_services.household_move(household=household_a, group=group_a, on=date(2026, 11, 10),
                                          actor=ward_officer_a)
    other = SavingsGroupFactory(branch=branch_a)
    with pytest.raises(DomainError, match="earlier"):
        household_services.household_move(household=household_a, group=other, on=date(2023, 1, 1),
                                          actor=ward_officer_a)
    with pytest.raises(DomainError, match="future"):
        household_services.household_move(household=household_a, group=other, on=date(2027, 1, 1),
                                          actor=ward_officer_a)
    group_a.leader = household_a
    group_a.save()
    with pytest.raises(DomainError, match="leader"):
        household_services.household_move(household=household_a, group=other, on=date(2026, 11, 10),
                                          actor=ward_officer_a)
    assert household_a.current_membership.group == group_a


# Groups -------------------------------------------------------------------------------------------------------------

def test_group_create_with_members_moves_them_with_history(branch_a, group_a, ward_officer_a):
    members = [HouseholdFactory(group=group_a) for _ in range(5)]
    group = groups.group_create(
        data={"code": "8200001", "name": "Tổ mới", "branch": branch_a, "status": "active", "members": members,
              "leader": members[0], "deputy": members[1], "founded_on": date(2026, 11, 1)},
        actor=ward_officer_a,
    )
    assert group.memberships.filter(left_on__isnull=True).count() == 5
    assert GroupMembership.objects.filter(group=group_a, household__in=members, left_on=date(2026, 11, 1)).count() == 5
    assert group.leader == members[0] and group.deputy == members[1]


@pytest.mark.parametrize("count", [4, 61])
def test_active_group_needs_5_to_60_members(branch_a, ward_officer_a, count):
    members = [HouseholdFactory(branch=branch_a) for _ in range(count)]
    with pytest.raises(DomainError, match="between 5 and 60"):
        groups.group_create(
            data={"code": "8200001", "name": "Tổ mới", "branch": branch_a, "status": "active", "members": members},
            actor=ward_officer_a,
        )
    assert not SavingsGroup.objects.filter(code="8200001").exists()


def test_group_leader_and_deputy_are_two_different_members(branch_a, ward_officer_a):
    members = [HouseholdFactory(branch=branch_a) for _ in range(5)]
    outsider = HouseholdFactory(branch=branch_a)
    base = {"code": "8200001", "name": "Tổ mới", "branch": branch_a, "status": "active", "members": members}
    with pytest.raises(DomainError, match="two different"):
        groups.group_create(data={**base, "leader": members[0], "deputy": members[0]}, actor=ward_officer_a)
    with pytest.raises(DomainError, match="leader must be a member"):
        groups.group_create(data={**base, "leader": outsider}, actor=ward_officer_a)


def test_group_members_come_from_the_groups_branch(branch_a, branch_b, ward_officer_a):
    members = [HouseholdFactory(branch=branch_b) for _ in range(5)]
    with pytest.raises(DomainError, match="ward branch"):
        groups.group_create(
            data={"code": "8200001", "name": "Tổ", "branch": branch_a, "status": "active", "members": members},
            actor=ward_officer_a,
        )


def test_group_code_is_unique(branch_a, group_a, ward_officer_a):
    with pytest.raises(DomainError, match="already used"):
        groups.group_create(
            data={"code": group_a.code, "name": "Tổ", "branch": branch_a, "status": "suspended", "members": []},
            actor=ward_officer_a,
        )


def test_group_update_appoints_leaders_and_checks_size(group_a, ward_officer_a):
    members = [HouseholdFactory(group=group_a) for _ in range(5)]
    group = groups.group_update(
        group=group_a, data={"name": "Tổ A1 mới", "status": "active", "leader": members[0], "deputy": members[1]},
        actor=ward_officer_a,
    )
    assert group.name == "Tổ A1 mới" and group.leader == members[0]
    with pytest.raises(DomainError, match="two different"):
        groups.group_update(group=group_a, data={"deputy": members[0]}, actor=ward_officer_a)


def test_group_update_refuses_an_active_group_below_five(group_a, household_a, ward_officer_a):
    with pytest.raises(DomainError, match="between 5 and 60"):
        groups.group_update(group=group_a, data={"status": "active", "name": "x"}, actor=ward_officer_a)
    group = groups.group_update(group=group_a, data={"status": "suspended"}, actor=ward_officer_a)
    assert group.status == "suspended"


# Loan requests (01/TD) ----------------------------------------------------------------------------------------------

def make_request(household, actor, **overrides):
    args = {"program": program("01"), "amount": Decimal("30000000"), "term_months": 36, "purpose": "Chăn nuôi",
            "planned_use": "Mua 3 con heo giống"}
    args.update(overrides)
    return requests_services.application_create(household=household, actor=actor, **args)


def test_application_create_records_a_draft_in_the_households_group(household_a, group_a, ward_officer_a):
    application = make_request(household_a, ward_officer_a)
    assert application.status == Status.DRAFT
    assert application.group == group_a
    assert application.created_by == ward_officer_a


def test_application_refuses_an_ineligible_policy_status(household_a, ward_officer_a):
    with pytest.raises(DomainError) as error:
        make_request(household_a, ward_officer_a, program=program("07"))
    assert error.value.field == "program"
    assert "07" in str(error.value.message)
    assert str(Household.PolicyStatus.POOR.label) in str(error.value.message)


def test_application_refuses_more_than_the_ceiling_and_term(household_a, ward_officer_a):
    with pytest.raises(DomainError) as error:
        make_request(household_a, ward_officer_a, amount=Decimal("100000001"))
    assert error.value.field == "amount"
    with pytest.raises(DomainError) as error:
        make_request(household_a, ward_officer_a, term_months=121)
    assert error.value.field == "term_months"
    assert not LoanApplication.objects.exists()


def test_student_ceiling_is_per_month_of_study(household_a, ward_officer_a):
    application = make_request(household_a, ward_officer_a, program=program("02"), amount=Decimal("40000000"),
                               term_months=10)
    assert application.amount_requested == 40_000_000
    with pytest.raises(DomainError):
        make_request(household_a, ward_officer_a, program=program("02"), amount=Decimal("40000001"), term_months=10)


def test_application_refuses_non_positive_or_fractional_amounts(household_a, ward_officer_a):
    for amount in (Decimal("0"), Decimal("-5"), Decimal("1000.5")):
        with pytest.raises(DomainError):
            make_request(household_a, ward_officer_a, amount=amount)


def test_newly_escaped_at_most_three_years_ago(group_a, ward_officer_a):
    recent = HouseholdFactory(group=group_a, policy_status="escaped", escaped_year=2024)
    old = HouseholdFactory(group=group_a, policy_status="escaped", escaped_year=2022)
    assert make_request(recent, ward_officer_a, program=program("08"), term_months=60).status == Status.DRAFT
    with pytest.raises(DomainError, match="3 years"):
        make_request(old, ward_officer_a, program=program("08"), term_months=60)


def test_no_second_open_request_for_the_same_program(household_a, ward_officer_a):
    first = make_request(household_a, ward_officer_a)
    with pytest.raises(DomainError, match="open request"):
        make_request(household_a, ward_officer_a)
    # Another program is fine, and so is a new request once the first is withdrawn.
    make_request(household_a, ward_officer_a, program=program("06"), amount=Decimal("10000000"), term_months=60)
    requests_services.application_withdraw(application=first, reason="Gia đình đổi ý", actor=ward_officer_a)
    assert make_request(household_a, ward_officer_a).status == Status.DRAFT


def test_application_needs_a_group(branch_a, ward_officer_a):
    loner = HouseholdFactory(branch=branch_a)
    with pytest.raises(DomainError, match="not in a savings group"):
        make_request(loner, ward_officer_a)


def test_inactive_program_takes_no_requests(household_a, ward_officer_a):
    p = program("01")
    p.is_active = False
    p.save()
    with pytest.raises(DomainError, match="no longer"):
        make_request(household_a, ward_officer_a)


# Review meeting (10A/TD) and list 03/TD -----------------------------------------------------------------------------

@pytest.fixture
def two_requests(group_a, household_a, ward_officer_a):
    second = HouseholdFactory(group=group_a, head_name="Phạm Văn Sơn")
    return make_request(household_a, ward_officer_a), make_request(second, ward_officer_a, amount=Decimal("20000000"))


def review(group, actor, results, held_on=date(2026, 11, 20)):
    return requests_services.application_review(group=group, held_on=held_on, results=results, actor=actor,
                                       attendee_count=12, attendees="Các hộ trong tổ", neighbourhood_head="Ông Tư",
                                       branch_officer="Cán bộ hội phường")


def test_review_approves_and_rejects_and_builds_list_03(group_a, two_requests, ward_officer_a):
    first, second = two_requests
    meeting = review(group_a, ward_officer_a, [
        ReviewResult(first, ReviewResult.APPROVE, Decimal("25000000")),
        ReviewResult(second, ReviewResult.REJECT, reason="Chưa có phương án sử dụng vốn"),
    ])
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.GROUP_APPROVED and first.amount_group_approved == 25_000_000
    assert second.status == Status.GROUP_REJECTED and second.rejection_reason == "Chưa có phương án sử dụng vốn"
    assert meeting.neighbourhood_head == "Ông Tư" and meeting.attendee_count == 12
    loan_list = meeting.loan_list
    assert list(loan_list.applications.all()) == [first]
    assert loan_list.status == LoanList.Status.DRAFT
    change = ApplicationStatusChange.objects.get(application=second)
    assert (change.from_status, change.to_status, change.actor, change.note) == (
        "draft", "group_rejected", ward_officer_a, "Chưa có phương án sử dụng vốn")


def test_review_needs_a_rejection_reason(group_a, two_requests, ward_officer_a):
    first, second = two_requests
    with pytest.raises(DomainError, match="reason"):
        review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.APPROVE, Decimal("1000000")),
                                         ReviewResult(second, ReviewResult.REJECT, reason="  ")])
    first.refresh_from_db()
    assert first.status == Status.DRAFT
    assert not LoanList.objects.exists()


def test_review_approved_amount_at_most_requested(group_a, two_requests, ward_officer_a):
    first, _second = two_requests
    with pytest.raises(DomainError, match="cannot exceed"):
        review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.APPROVE, Decimal("30000001"))])
    with pytest.raises(DomainError):
        review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.APPROVE, None)])


def test_review_refuses_other_groups_requests_reviewed_ones_and_future_dates(
    group_a, group_b, household_b, two_requests, ward_officer_a, ward_officer_b
):
    first, second = two_requests
    foreign = make_request(household_b, ward_officer_b)
    with pytest.raises(DomainError, match="does not belong"):
        review(group_a, ward_officer_a, [ReviewResult(foreign, ReviewResult.APPROVE, Decimal("1000000"))])
    with pytest.raises(DomainError, match="future"):
        review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.APPROVE, Decimal("1000000"))],
               held_on=date(2026, 11, 21))
    with pytest.raises(DomainError, match="at least one"):
        review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.DEFER)])
    review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.APPROVE, Decimal("1000000"))])
    with pytest.raises(DomainError, match="already reviewed"):
        review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.REJECT, reason="x")])


def test_review_with_only_rejections_builds_no_list(group_a, two_requests, ward_officer_a):
    first, second = two_requests
    meeting = review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.REJECT, reason="Không đủ điều kiện"),
                                               ReviewResult(second, ReviewResult.DEFER)])
    assert not LoanList.objects.filter(meeting=meeting).exists()
    second.refresh_from_db()
    assert second.status == Status.DRAFT


@pytest.fixture
def reviewed_list(group_a, two_requests, ward_officer_a):
    first, second = two_requests
    meeting = review(group_a, ward_officer_a, [ReviewResult(first, ReviewResult.APPROVE, Decimal("30000000")),
                                               ReviewResult(second, ReviewResult.APPROVE, Decimal("15000000"))])
    return meeting.loan_list


def test_certify_then_submit_moves_every_request(reviewed_list, ward_officer_a):
    requests_services.loan_list_certify(loan_list=reviewed_list, certified_on=date(2026, 11, 20), signer="Chủ tịch UBND",
                               reference="123/XN-UBND", actor=ward_officer_a)
    reviewed_list.refresh_from_db()
    assert reviewed_list.status == LoanList.Status.CERTIFIED
    assert reviewed_list.certification_ref == "123/XN-UBND" and reviewed_list.certified_by == ward_officer_a
    assert set(reviewed_list.applications.values_list("status", flat=True)) == {Status.CERTIFIED}
    requests_services.loan_list_submit(loan_list=reviewed_list, actor=ward_officer_a)
    reviewed_list.refresh_from_db()
    assert reviewed_list.status == LoanList.Status.SUBMITTED
    assert reviewed_list.submitted_by == ward_officer_a and reviewed_list.submitted_at is not None
    assert set(reviewed_list.applications.values_list("status", flat=True)) == {Status.SUBMITTED}
    history = list(
        ApplicationStatusChange.objects.filter(application__loan_list=reviewed_list)
        .order_by("application", "pk").values_list("to_status", flat=True)
    )
    assert history == ["group_approved", "certified", "submitted"] * 2


def test_certify_refusals(reviewed_list, ward_officer_a):
    kwargs = {"loan_list": reviewed_list, "signer": "Chủ tịch", "reference": "1/XN", "actor": ward_officer_a}
    with pytest.raises(DomainError, match="future"):
        requests_services.loan_list_certify(certified_on=date(2026, 11, 21), **kwargs)
    with pytest.raises(DomainError, match="before the group meeting"):
        requests_services.loan_list_certify(certified_on=date(2026, 11, 19), **kwargs)
    with pytest.raises(DomainError, match="reference"):
        requests_services.loan_list_certify(certified_on=date(2026, 11, 20), **{**kwargs, "reference": " "})
    with pytest.raises(DomainError, match="Only a list certified"):
        requests_services.loan_list_submit(loan_list=reviewed_list, actor=ward_officer_a)
    requests_services.loan_list_certify(certified_on=date(2026, 11, 20), **kwargs)
    with pytest.raises(DomainError, match="already certified"):
        requests_services.loan_list_certify(certified_on=date(2026, 11, 20), **kwargs)


def test_withdrawn_requests_stay_off_certification(reviewed_list, ward_officer_a):
    first, second = reviewed_list.applications.order_by("pk")
    requests_services.application_withdraw(application=first, reason="Không vay nữa", actor=ward_officer_a)
    requests_services.loan_list_certify(loan_list=reviewed_list, certified_on=date(2026, 11, 20), signer="Chủ tịch",
                               reference="1/XN", actor=ward_officer_a)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.WITHDRAWN, Status.CERTIFIED)


# The status pipeline -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "target"),
    [("draft", "certified"), ("draft", "submitted"), ("group_rejected", "group_approved"),
     ("group_approved", "submitted"), ("certified", "approved"), ("withdrawn", "draft"), ("disbursed", "withdrawn")],
)
def test_illegal_moves_are_refused_with_a_message(household_a, ward_officer_a, start, target):
    application = LoanApplicationFactory(household=household_a, status=start)
    with pytest.raises(DomainError, match="Cannot move"):
        application.transition_to(target, actor=ward_officer_a)
    application.refresh_from_db()
    assert application.status == start
    assert not application.status_changes.exists()


def test_withdraw_needs_a_reason_and_an_open_request(household_a, ward_officer_a):
    application = LoanApplicationFactory(household=household_a)
    with pytest.raises(DomainError, match="reason"):
        requests_services.application_withdraw(application=application, reason=" ", actor=ward_officer_a)
    requests_services.application_withdraw(application=application, reason="Đổi ý", actor=ward_officer_a)
    with pytest.raises(DomainError, match="Cannot move"):
        requests_services.application_withdraw(application=application, reason="Đổi ý", actor=ward_officer_a)

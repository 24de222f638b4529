"""The inbox "What waits for me": every kind of decision shows to the people who decide it, in their scope, never to
the person who asked; oldest first; the count in the main menu; a bounded number of queries."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from loans.models import (
    CapitalAllocation,
    CapitalPlan,
    ImportBatch,
    LoanChange,
    Posting,
    ReversalRequest,
)
from loans.services import capital
from organizations import inbox
from organizations.models import OfficerProfile
from tests.factories import HouseholdFactory, LoanFactory, UserFactory, approved_allocation, officer, program
from tests.factories import submitted_loan_list as make_loan_list

pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-06-15"), pytest.mark.usefixtures("english")]

Role = OfficerProfile.Role
URL = "/inbox/"


@pytest.fixture
def second_staff(women_district):
    """Another district officer of the Women's Union: decides what `district_staff` proposes."""
    return officer("district_checker", women_district, Role.DISTRICT_STAFF)


@pytest.fixture
def importer(branch_a):
    """A ward officer given only the permission to import the bank's files."""
    user = officer("importer", branch_a, Role.WARD_OFFICER)
    user.user_permissions.add(Permission.objects.get(codename="import_bank_files"))
    return user


def names(user):
    return [(item.kind.name, item.title) for item in inbox.waiting_for(user)]


def kinds_for(user):
    return {item.kind.name for item in inbox.waiting_for(user)}


def plan(branch, amount=500_000_000):
    return CapitalPlan.objects.create(organization=branch.parent, program=program("01"), year=2026, amount=amount)


def loan_change(loan, kind, actor, **fields):
    defaults = {"months": 6} if kind in (LoanChange.Kind.EXTENSION, LoanChange.Kind.FREEZE) else {}
    if kind == LoanChange.Kind.TERM_ADJUSTMENT:
        first = loan.instalments.order_by("seq").first()
        defaults = {"instalment": first, "old_due_on": first.due_on, "new_due_on": first.due_on + timedelta(days=60)}
    return LoanChange.objects.create(loan=loan, kind=kind, reason="Thiên tai", requested_on=timezone.localdate(),
                                     requested_by=actor, **defaults, **fields)


# --- Each kind: the deciders in scope, not the requester, not another scope, not another role --------------------


def test_a_submitted_list_waits_for_district_staff_of_its_organization(
    group_a, ward_officer_a, district_staff, farmers_district_staff, front_supervisor, admin_user
):
    loan_list = make_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000, 20_000_000))
    [item] = inbox.waiting_for(district_staff)
    assert item.kind.name == "loan_list"
    assert item.url == reverse("loans:loan_list_review", args=[loan_list.pk])
    assert item.amount == 50_000_000
    assert item.since == loan_list.submitted_at
    assert "loan_list" in kinds_for(admin_user)
    for user in (ward_officer_a, farmers_district_staff, front_supervisor):
        assert inbox.waiting_for(user) == [], user


def test_a_list_submitted_by_an_admin_does_not_wait_for_that_admin(group_a, admin_user, district_staff):
    make_loan_list(group=group_a, submitted_by=admin_user)
    assert inbox.waiting_for(admin_user) == []
    assert kinds_for(district_staff) == {"loan_list"}


def test_a_proposed_total_waits_for_a_second_district_officer(
    branch_a, district_staff, second_staff, farmers_district_staff, ward_officer_a, admin_user
):
    capital.capital_plan_propose(organization=branch_a.parent, program=program("01"), year=2026,
                                 amount=900_000_000, actor=district_staff)
    [item] = inbox.waiting_for(second_staff)
    assert (item.kind.name, item.amount, item.url) == ("plan_change", 900_000_000, reverse("loans:capital_pending"))
    assert kinds_for(admin_user) == {"plan_change"}
    for user in (district_staff, farmers_district_staff, ward_officer_a):
        assert inbox.waiting_for(user) == [], user


def test_a_proposed_allocation_waits_for_district_staff_not_for_its_proposer(
    branch_a, ward_officer_a, ward_officer_b, district_staff, second_staff, farmers_district_staff
):
    plan_2026 = plan(branch_a)
    allocation = capital.allocation_propose(plan=plan_2026, branch=branch_a, amount=120_000_000, note="",
                                            actor=ward_officer_a)
    [item] = inbox.waiting_for(district_staff)
    assert (item.kind.name, item.amount) == ("allocation", 120_000_000)
    assert item.url == reverse("loans:allocation_detail", args=[allocation.pk])
    assert item.subject == str(branch_a)
    for user in (ward_officer_a, ward_officer_b, farmers_district_staff):
        assert inbox.waiting_for(user) == [], user

    # Proposed by district staff, it waits for the other district officer only.
    CapitalAllocation.objects.filter(pk=allocation.pk).update(proposed_by=district_staff)
    assert inbox.waiting_for(district_staff) == []
    assert kinds_for(second_staff) == {"allocation"}


def test_a_proposed_adjustment_waits_for_a_second_district_officer(
    branch_a, branch_b, district_staff, second_staff, farmers_district_staff, ward_officer_a
):
    source = approved_allocation(branch=branch_b, amount=50_000_000, plan_amount=200_000_000)
    target = approved_allocation(branch=branch_a, amount=50_000_000)
    capital.adjustment_propose(source=source, target=target, amount=10_000_000, reason="Điều chuyển",
                               actor=district_staff)
    [item] = inbox.waiting_for(second_staff)
    assert (item.kind.name, item.amount) == ("adjustment", 10_000_000)
    assert item.subject == f"{branch_b} → {branch_a}"
    for user in (district_staff, farmers_district_staff, ward_officer_a):
        assert inbox.waiting_for(user) == [], user


@pytest.mark.parametrize("kind", list(LoanChange.Kind))
def test_every_kind_of_loan_change_waits_for_district_staff(
    kind, household_a, ward_officer_a, ward_officer_b, district_staff, farmers_district_staff, front_supervisor
):
    loan = LoanFactory(household=household_a)
    loan_change(loan, kind, ward_officer_a)
    [item] = inbox.waiting_for(district_staff)
    assert item.kind.name == "loan_change"
    assert loan.number in item.title and str(LoanChange.Kind(kind).label) in item.title
    assert item.url == reverse("loans:loan_changes")
    for user in (ward_officer_a, ward_officer_b, farmers_district_staff, front_supervisor):
        assert inbox.waiting_for(user) == [], user


def test_a_decided_change_no_longer_waits(household_a, ward_officer_a, district_staff):
    loan_change(LoanFactory(household=household_a), LoanChange.Kind.EXTENSION, ward_officer_a,
                status=LoanChange.Status.APPROVED, decided_by=district_staff)
    assert inbox.waiting_for(district_staff) == []


def test_a_reversal_request_waits_for_district_staff_not_for_who_asked(
    household_a, household_b, ward_officer_a, district_staff, second_staff, farmers_district_staff, ward_officer_b
):
    posting = Posting.objects.get(loan=LoanFactory(household=household_a))
    ReversalRequest.objects.create(posting=posting, reason="Nhập nhầm", requested_by=ward_officer_a)
    [item] = inbox.waiting_for(district_staff)
    assert (item.kind.name, item.amount, item.subject) == ("reversal", 50_000_000, household_a.head_name)
    assert item.url == reverse("loans:reversal_requests")
    for user in (ward_officer_a, ward_officer_b, farmers_district_staff):
        assert inbox.waiting_for(user) == [], user

    # Asked by a district officer (a disbursement), it waits for the other one.
    other = Posting.objects.get(loan=LoanFactory(household=HouseholdFactory(group=household_a.current_membership.group)))
    ReversalRequest.objects.create(posting=other, reason="Giải ngân nhầm", requested_by=district_staff)
    assert len(inbox.waiting_for(district_staff)) == 1
    assert len(inbox.waiting_for(second_staff)) == 2


def test_a_checked_bank_file_waits_for_importers_only(admin_user, importer, district_staff, front_supervisor):
    def batch(status, name):
        return ImportBatch.objects.create(kind=ImportBatch.Kind.LOANS, file_name=name, sha256=name, content=b"",
                                          status=status, created_by=admin_user)

    checked = batch(ImportBatch.Status.PREVIEWED, "du-no.xlsx")
    batch(ImportBatch.Status.UPLOADED, "dang-kiem-tra.xlsx")
    batch(ImportBatch.Status.DONE, "da-nhap.xlsx")
    batch(ImportBatch.Status.FAILED, "loi.xlsx")
    # The uploader confirms their own file (no second person for imports), so it waits for them too.
    for user in (admin_user, importer):
        [item] = inbox.waiting_for(user)
        assert (item.kind.name, item.subject) == ("bank_import", "du-no.xlsx")
        assert item.url == reverse("loans:bank_import_detail", args=[checked.pk])
    for user in (district_staff, front_supervisor):
        assert inbox.waiting_for(user) == [], user


def test_a_user_without_a_profile_has_nothing_waiting(group_a, ward_officer_a):
    make_loan_list(group=group_a, submitted_by=ward_officer_a)
    assert inbox.waiting_for(UserFactory(username="nobody")) == []
    assert inbox.count_for(UserFactory(username="nobody2")) == 0


# --- The page ---------------------------------------------------------------------------------------------------


@pytest.fixture
def one_of_each(group_a, household_a, branch_a, branch_b, ward_officer_a, district_staff, admin_user):
    """One decision of every kind waiting for an admin, started on different days (see `AGES`)."""
    started = {}

    def on(days_ago, make):
        with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
            started[make()] = days_ago

    on(3, lambda: make_loan_list(group=group_a, submitted_by=ward_officer_a).pk and "loan_list")
    on(9, lambda: capital.capital_plan_propose(organization=branch_a.parent, program=program("02"), year=2026,
                                               amount=700_000_000, actor=district_staff) and "plan_change")
    on(5, lambda: capital.allocation_propose(plan=plan(branch_a), branch=branch_a, amount=80_000_000, note="",
                                             actor=ward_officer_a) and "allocation")
    source = approved_allocation(branch=branch_b, amount=50_000_000, plan_amount=200_000_000, program_code="03")
    on(1, lambda: capital.adjustment_propose(source=source, target=None, amount=5_000_000, reason="Trả lại",
                                             actor=district_staff) and "adjustment")
    on(7, lambda: loan_change(LoanFactory(household=household_a), LoanChange.Kind.FREEZE, ward_officer_a)
       and "loan_change")
    posting = Posting.objects.filter(household=household_a).first()
    on(0, lambda: ReversalRequest.objects.create(posting=posting, reason="Nhầm", requested_by=ward_officer_a)
       and "reversal")
    on(12, lambda: ImportBatch.objects.create(kind=ImportBatch.Kind.GROUPS, file_name="to.xlsx", sha256="a",
                                              content=b"", status=ImportBatch.Status.PREVIEWED,
                                              created_by=admin_user) and "bank_import")
    return started


def test_the_page_lists_every_kind_oldest_first_with_its_age(client_for, admin_user, one_of_each, settings):
    assert {kind.name for kind in inbox.kinds()} == set(one_of_each)
    client = client_for(admin_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page in English, to read its own words
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    shown = re.findall(r'data-kind="(\w+)"', html)
    assert shown == sorted(one_of_each, key=one_of_each.get, reverse=True)
    ages = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", age)).strip() for age in re.findall(r'data-testid="age">(.*?)</div>', html, re.S)]
    assert ages == ["12 days", "9 days", "7 days", "5 days", "3 days", "1 day", "today"]
    for item in inbox.waiting_for(admin_user):
        assert f'href="{item.url}"' in html


def test_the_page_says_when_nothing_waits(client_for, front_supervisor, one_of_each, settings):
    client = client_for(front_supervisor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(URL)
    assert 'data-testid="inbox-empty"' in response.content.decode()
    assert "Nothing waits for your decision." in response.content.decode()
    assert 'data-testid="inbox-count"' not in response.content.decode()


def test_the_page_is_get_only_and_needs_a_login(client, client_for, district_staff):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert client_for(district_staff).post(URL).status_code == 405


def test_the_menu_counts_what_waits_for_the_user(client_for, district_staff, second_staff, one_of_each):
    # district_staff proposed the total and the adjustment: the list, the allocation, the change and the reversal.
    html = client_for(district_staff).get(reverse("loans:loan_changes")).content.decode()
    assert re.search(r'data-testid="inbox-count">4<', html)
    assert inbox.count_for(district_staff) == len(inbox.waiting_for(district_staff)) == 4
    assert inbox.count_for(second_staff) == len(inbox.waiting_for(second_staff)) == 6


def test_the_count_is_one_query_and_costs_nothing_unless_shown(rf, admin_user, one_of_each,
                                                                django_assert_num_queries):
    from organizations.context_processors import inbox as inbox_context

    request = rf.get("/")
    request.user = admin_user
    with django_assert_num_queries(0):
        context = inbox_context(request)
    with django_assert_num_queries(1):
        assert str(context["inbox_count"]) == "7"


def test_the_page_costs_the_same_queries_for_many_items(client_for, admin_user, one_of_each, group_a, household_a,
                                                         ward_officer_a, branch_b, django_assert_max_num_queries):
    client = client_for(admin_user)
    client.get(URL)
    # Many more of every kind, each from a different group, household, branch or program.
    planner = officer("planner", branch_b.parent, Role.DISTRICT_STAFF)
    for code in ("06", "07", "08"):
        capital.capital_plan_propose(organization=branch_b.parent, program=program(code), year=2026,
                                     amount=100_000_000, actor=planner)
    for _ in range(4):
        make_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(10_000_000,))
        loan = LoanFactory(household=HouseholdFactory(group=group_a))
        loan_change(loan, LoanChange.Kind.WRITE_OFF, ward_officer_a, principal_written_off=loan.amount)
        ReversalRequest.objects.create(posting=Posting.objects.get(loan=loan), reason="Nhầm",
                                       requested_by=ward_officer_a)
    assert inbox.count_for(admin_user) == 7 + 3 + 4 * 3
    # The session (read, saved in a savepoint), the user, the profile and organization of the menu, one query per
    # kind of decision and one for the menu's count: the same for 7 items or for 22.
    with django_assert_max_num_queries(16):
        response = client.get(URL)
    assert len(re.findall(r'data-kind="', response.content.decode())) == 22

"""Nobody alone can change what a household owes: a reversal is asked for by one person and decided by another
(maker–checker), it takes the value date of what it reverses, and a reversal can itself be undone the same way."""

from datetime import date

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from loans.ledger.balances import with_derived_balances
from loans.models import CollectionLine, Loan, Posting, ReversalRequest
from loans.services.collection import collection_sheet_create, collection_sheet_post, collection_sheet_save
from loans.services.collection_reversals import collection_line_correct, reversal_decide, reversal_request
from organizations.errors import DomainError
from tests.factories import HouseholdFactory, LoanFactory, checker_for

Kind = Posting.Kind
Status = ReversalRequest.Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def at(day):
    return time_machine.travel(f"{day} 09:00 +0700", tick=False)


def post_sheet(group, on, actor, amounts):
    """{household: paid, or (paid, deposit, withdrawal)}; a household left out pays what it owes."""
    sheet = collection_sheet_create(group=group, on=on, actor=actor)
    entries = {}
    for line in sheet.lines.all():
        value = amounts.get(line.household_id, line.total_due)
        entries[line.pk] = value if isinstance(value, tuple) else (value, 0, 0)
    collection_sheet_save(sheet=sheet, entries=entries, actor=actor)
    return collection_sheet_post(sheet=sheet, actor=actor)


def ledger_is_clean():
    call_command("check_ledger")


@pytest.fixture
def paid_day(group_a, household_a, ward_officer_a):
    """A 13/TD posted on 20/06/2026: interest and a 30,000 deposit from household A."""
    with at("2026-06-20"):
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        return post_sheet(group_a, date(2026, 6, 20), ward_officer_a, {household_a.pk: (284_167, 30_000, 0)})


@pytest.fixture
def checker(branch_a):
    """A second district officer of the Women's Union, besides `district_staff`."""
    return checker_for(branch_a)


def test_a_ward_officer_alone_changes_nothing(paid_day, household_a, ward_officer_a, ward_officer_b, district_staff,
                                             farmers_district_staff, front_supervisor, checker):
    interest = paid_day.lines.get().postings.get(kind=Kind.INTEREST)
    loan = interest.loan
    with at("2026-06-22"):
        request = reversal_request(posting=interest, reason="Thu nhầm hộ", actor=ward_officer_a)
        loan.refresh_from_db()
        assert (request.status, loan.interest_arrears) == (Status.PROPOSED, 0)
        assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()
        with pytest.raises(DomainError, match="already waiting"):
            reversal_request(posting=interest, reason="Lần nữa", actor=district_staff)
        with pytest.raises(DomainError, match="does not work for|do not work for"):
            reversal_request(posting=interest, reason="x", actor=ward_officer_b)
        with pytest.raises(DomainError, match="role does not allow"):
            reversal_request(posting=interest, reason="x", actor=front_supervisor)
        # Nobody but district staff of the money's organization, other than the requester, decides.
        for outsider, message in ((ward_officer_a, "role does not allow"), (ward_officer_b, "role does not allow"),
                                  (front_supervisor, "role does not allow"),
                                  (farmers_district_staff, "do not work for")):
            with pytest.raises(DomainError, match=message):
                reversal_decide(request=request, approve=True, actor=outsider)
        with pytest.raises(DomainError, match="reason"):
            reversal_decide(request=request, approve=False, actor=district_staff)
        assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()
        ledger_is_clean()
        reversal_decide(request=request, approve=True, actor=district_staff, reason="Đã đối chiếu biên lai")
    request.refresh_from_db()
    loan.refresh_from_db()
    reversal = Posting.objects.get(kind=Kind.REVERSAL)
    assert (request.status, request.decided_by, reversal.request, reversal.created_by) == (
        Status.APPROVED, district_staff, request, district_staff)
    # Value date: the day the money moved; booked on the day of the decision.
    assert (reversal.on, reversal.created_at.date()) == (date(2026, 6, 20), date(2026, 6, 22))
    assert loan.interest_arrears == 284_167
    with pytest.raises(DomainError, match="already decided"):
        reversal_decide(request=request, approve=True, actor=checker)
    ledger_is_clean()


def test_a_row_and_one_of_its_postings_are_not_asked_about_at_once(paid_day, ward_officer_a, district_staff):
    line = paid_day.lines.get()
    interest = line.postings.get(kind=Kind.INTEREST)
    reversal_request(posting=interest, reason="Lãi nhầm", actor=ward_officer_a)
    with pytest.raises(DomainError, match="already waiting"):
        reversal_request(line=line, reason="Cả dòng", actor=district_staff)
    other = ReversalRequest.objects.get()
    reversal_decide(request=other, approve=False, reason="Không", actor=district_staff)
    reversal_request(line=line, reason="Cả dòng", actor=ward_officer_a)
    with pytest.raises(DomainError, match="already waiting"):
        reversal_request(posting=interest, reason="Lãi nhầm", actor=district_staff)


def test_a_refused_request_changes_nothing_and_says_why(paid_day, household_a, ward_officer_a, district_staff):
    line = paid_day.lines.get()
    request = reversal_request(line=line, reason="Nhầm", actor=ward_officer_a)
    with pytest.raises(DomainError, match="role does not allow"):
        reversal_decide(request=request, approve=True, actor=ward_officer_a)
    reversal_decide(request=request, approve=False, reason="Biên lai đúng", actor=district_staff)
    request.refresh_from_db()
    line.refresh_from_db()
    assert (request.status, request.decision_reason, line.status) == (
        Status.REJECTED, "Biên lai đúng", CollectionLine.Status.POSTED)
    assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()
    ledger_is_clean()


def test_the_requester_never_decides_even_as_district_staff(paid_day, district_staff, checker):
    interest = paid_day.lines.get().postings.get(kind=Kind.INTEREST)
    request = reversal_request(posting=interest, reason="Sai", actor=district_staff)
    with pytest.raises(DomainError, match="someone else must decide"):
        reversal_decide(request=request, approve=True, actor=district_staff)
    reversal_decide(request=request, approve=True, actor=checker)
    ledger_is_clean()


@pytest.mark.today("2026-06-20")
def test_a_disbursement_is_reversed_and_restored_only_by_two_district_officers(
    household_a, ward_officer_a, district_staff, checker
):
    loan = LoanFactory(household=household_a, amount=30_800_000, disbursed_on=date(2026, 6, 10))
    disbursement = loan.postings.get(kind=Kind.DISBURSEMENT)
    with pytest.raises(DomainError, match="role does not allow"):
        reversal_request(posting=disbursement, reason="Giải ngân nhầm", actor=ward_officer_a)
    request = reversal_request(posting=disbursement, reason="Giải ngân nhầm", actor=district_staff)
    with pytest.raises(DomainError, match="someone else must decide"):
        reversal_decide(request=request, approve=True, actor=district_staff)
    loan.refresh_from_db()
    assert (loan.principal_outstanding, loan.status) == (30_800_000, Loan.Status.ACTIVE)
    reversal_decide(request=request, approve=True, actor=checker)
    loan.refresh_from_db()
    assert (loan.principal_outstanding, loan.status) == (0, Loan.Status.CLOSED)
    ledger_is_clean()
    # Undoing the reversal takes the same two people, and leaves the loan as it was.
    reversal = loan.postings.get(kind=Kind.REVERSAL)
    with pytest.raises(DomainError, match="role does not allow"):
        reversal_request(posting=reversal, reason="Hủy nhầm", actor=ward_officer_a)
    undo = reversal_request(posting=reversal, reason="Hủy nhầm", actor=checker)
    reversal_decide(request=undo, approve=True, actor=district_staff)
    loan.refresh_from_db()
    assert (loan.principal_outstanding, loan.status) == (30_800_000, Loan.Status.ACTIVE)
    entry = loan.postings.get(restores=reversal)
    assert (entry.kind, entry.amount, entry.on) == (Kind.DISBURSEMENT, 30_800_000, date(2026, 6, 10))
    ledger_is_clean()
    # And that entry can be reversed again: no state is a dead end.
    again = reversal_request(posting=entry, reason="Đúng là nhầm", actor=district_staff)
    reversal_decide(request=again, approve=True, actor=checker)
    loan.refresh_from_db()
    assert loan.principal_outstanding == 0
    ledger_is_clean()


@pytest.mark.today("2026-06-20")
def test_check_ledger_finds_a_reversal_that_nobody_approved(household_a):
    loan = LoanFactory(household=household_a, disbursed_on=date(2026, 6, 10))
    disbursement = loan.postings.get(kind=Kind.DISBURSEMENT)
    Posting.objects.create(kind=Kind.REVERSAL, reverses=disbursement, household=household_a, loan=loan,
                           amount=disbursement.amount, on=disbursement.on)
    Loan.objects.filter(pk=loan.pk).update(principal_outstanding=0)
    with pytest.raises(CommandError, match="lack the postings or decision"):
        call_command("check_ledger")


def test_a_corrected_row_equals_a_row_entered_right_the_first_time(
    group_a, household_a, ward_officer_a, district_staff, client_for, front_supervisor
):
    """Household A's 20/03 payment is entered right; household B's has 3,720,000 too much, which went to principal.
    B's row is reversed (booked 25/03, value date 20/03) and corrected. From then on the two are alike: on every
    date, in the next sheet's interest, and in a report of a past date read afterwards, which names the correction."""
    twin = HouseholdFactory(group=group_a, head_name="Lê Văn Cường")
    with at("2026-01-20"):
        right = LoanFactory(household=household_a, amount=9_000_000, disbursed_on=date(2026, 1, 20))
        wrong = LoanFactory(household=twin, amount=9_000_000, disbursed_on=date(2026, 1, 20))
    with at("2026-03-20"):
        sheet = collection_sheet_create(group=group_a, on=date(2026, 3, 20), actor=ward_officer_a)
        due = {line.household_id: line.total_due for line in sheet.lines.all()}
        collection_sheet_save(sheet=sheet, entries={
            line.pk: (due[line.household_id] + (3_720_000 if line.household_id == twin.pk else 0), 0, 0)
            for line in sheet.lines.all()
        }, actor=ward_officer_a)
        collection_sheet_post(sheet=sheet, actor=ward_officer_a)
    wrong.refresh_from_db()
    assert wrong.principal_outstanding == 9_000_000 - 3_720_000
    with at("2026-03-25"):
        line = sheet.lines.get(household=twin)
        request = reversal_request(line=line, reason="Gõ thừa 3.720.000", actor=ward_officer_a)
        reversal_decide(request=request, approve=True, actor=district_staff)
        line.refresh_from_db()
        collection_line_correct(line=line, amount_paid=due[twin.pk], actor=ward_officer_a)
    ledger_is_clean()

    def outstanding(on):
        rows = with_derived_balances(Loan.objects.filter(pk__in=[right.pk, wrong.pk]), on).values_list(
            "pk", "derived_outstanding")
        return {pk: int(value) for pk, value in rows}

    for on in (date(2026, 3, 20), date(2026, 3, 22), date(2026, 3, 25), date(2026, 4, 1)):
        assert outstanding(on) == {right.pk: 9_000_000, wrong.pk: 9_000_000}, on
    with at("2026-04-20"):
        following = collection_sheet_create(group=group_a, on=date(2026, 4, 20), actor=ward_officer_a)
    dues = {
        line.household_id: (line.overdue_interest_due, line.current_interest_due, line.principal_due)
        for line in following.lines.all()
    }
    assert dues[twin.pk] == dues[household_a.pk]
    assert dues[twin.pk][1] > 0

    with at("2026-04-20"):
        client = client_for(front_supervisor)
        page = reverse("loans:report", args=["bctd_01_1"])
        past = client.get(page, {"on": "22/03/2026"}).content.decode()
        later = client.get(page, {"on": "26/03/2026"}).content.decode()
    assert 'data-testid="later-corrections"' in past and "Lê Văn Cường" in past
    assert 'data-testid="later-corrections"' not in later


def test_the_pages_show_who_asked_and_who_decided(paid_day, household_a, ward_officer_a, district_staff,
                                                  client_for):
    line = paid_day.lines.get()
    deposit = line.postings.get(kind=Kind.SAVINGS_IN)
    request = reversal_request(posting=deposit, reason="Gửi nhầm sổ", actor=ward_officer_a)
    loan = line.items.get().loan
    statement = reverse("loans:loan_statement", args=[loan.pk])
    line_page = reverse("loans:collection_line_detail", args=[paid_day.pk, line.pk])
    officer = client_for(ward_officer_a)
    assert "Gửi nhầm sổ" in officer.get(line_page).content.decode()
    queue = client_for(district_staff).get(reverse("loans:reversal_requests")).content.decode()
    assert "Gửi nhầm sổ" in queue and reverse("loans:reversal_decide", args=[request.pk]) in queue
    # The pending request shows on the loan's statement too, when it concerns the loan.
    interest = line.postings.get(kind=Kind.INTEREST)
    reversal_request(posting=interest, reason="Lãi thu nhầm", actor=ward_officer_a)
    assert 'data-testid="pending-reversal"' in officer.get(statement).content.decode()
    client_for(district_staff).post(reverse("loans:reversal_decide", args=[request.pk]), {"decision": "approve"})
    page = officer.get(line_page).content.decode()
    assert 'data-testid="posting-decided"' in page
    assert ward_officer_a.get_full_name() in page and district_staff.get_full_name() in page

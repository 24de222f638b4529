"""Changes to a loan: term adjustment (08/TD), extension, freeze and write-off, each with its limits, approved by
district staff (maker–checker), and the ledger check staying green after all of them."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse

from loans.ledger.balances import refresh_loan_balances
from loans.models import Loan, LoanChange, Posting
from loans.services.changes import (
    freezes_end_due,
    loan_change_decide,
    loan_change_request,
    loan_freeze_end,
    working_days_before,
)
from organizations.errors import DomainError
from organizations.policy import SYSTEM
from tests.factories import HouseholdFactory, LoanFactory

Kind = LoanChange.Kind


@pytest.fixture
def loan(household_a):
    # 50,000,000 over 36 months, quarterly: 12 instalments from 15/04/2026, maturity 15/01/2029.
    return LoanFactory(household=household_a)


def request(loan, kind, actor, on, **kwargs):
    return loan_change_request(loan=loan, kind=kind, reason="Hộ gặp khó khăn do thiên tai", actor=actor, on=on,
                               **kwargs)


def test_working_days_skip_weekends(db):  # the calendar reads the year's decisions
    assert working_days_before(date(2026, 4, 15), 5) == date(2026, 4, 8)  # Wed → Wed, over a weekend
    assert working_days_before(date(2026, 4, 13), 5) == date(2026, 4, 6)  # Mon → Mon
    assert working_days_before(date(2026, 4, 13), 1) == date(2026, 4, 10)  # Mon → Fri


# Term adjustment (08/TD) --------------------------------------------------------------------------------------


def test_term_adjustment_moves_the_instalment_and_keeps_maturity(loan, ward_officer_a, district_staff):
    first = loan.instalments.get(seq=1)
    assert first.due_on == date(2026, 4, 15)
    change = request(loan, Kind.TERM_ADJUSTMENT, ward_officer_a, date(2026, 4, 8), instalment=first,
                     new_due_on=date(2026, 6, 15))
    first.refresh_from_db()
    assert first.due_on == date(2026, 4, 15), "nothing moves before approval"

    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 4, 9))
    first.refresh_from_db()
    loan.refresh_from_db()
    assert first.due_on == date(2026, 6, 15)
    assert loan.maturity_on == date(2029, 1, 15)
    assert loan.instalments.aggregate(total=Sum("principal"))["total"] == loan.amount
    change.refresh_from_db()
    assert (change.status, change.old_due_on, change.decided_by) == (
        LoanChange.Status.APPROVED, date(2026, 4, 15), district_staff)


def test_term_adjustment_must_be_asked_5_working_days_ahead(loan, ward_officer_a):
    first = loan.instalments.get(seq=1)
    with pytest.raises(DomainError, match="08/04/2026"):
        request(loan, Kind.TERM_ADJUSTMENT, ward_officer_a, date(2026, 4, 9), instalment=first,
                new_due_on=date(2026, 6, 15))
    assert not LoanChange.objects.exists()


@pytest.mark.parametrize(
    ("new_due_on", "message"),
    [(date(2026, 4, 15), "phải sau ngày đến hạn hiện tại"), (date(2026, 3, 1), "phải sau ngày đến hạn hiện tại"),
     (date(2029, 1, 16), "không làm thay đổi ngày đáo hạn")],
)
def test_term_adjustment_keeps_within_the_loan_term(loan, ward_officer_a, new_due_on, message):
    with pytest.raises(DomainError, match=message):
        request(loan, Kind.TERM_ADJUSTMENT, ward_officer_a, date(2026, 3, 2),
                instalment=loan.instalments.get(seq=1), new_due_on=new_due_on)


def test_term_adjustment_refuses_repaid_and_overdue_instalments(loan, ward_officer_a):
    Posting.objects.create(kind=Posting.Kind.PRINCIPAL, household=loan.household, loan=loan,
                           amount=loan.instalments.get(seq=1).principal, on=date(2026, 4, 15))
    refresh_loan_balances([loan.pk])
    loan.refresh_from_db()
    with pytest.raises(DomainError, match="đã trả xong"):
        request(loan, Kind.TERM_ADJUSTMENT, ward_officer_a, date(2026, 3, 2),
                instalment=loan.instalments.get(seq=1), new_due_on=date(2026, 5, 15))
    second = loan.instalments.get(seq=2)
    second.overdue_since = date(2026, 7, 16)
    second.save()
    with pytest.raises(DomainError, match="đã quá hạn, không thể điều chỉnh"):
        request(loan, Kind.TERM_ADJUSTMENT, ward_officer_a, date(2026, 3, 2), instalment=second,
                new_due_on=date(2026, 9, 15))


# Extension ----------------------------------------------------------------------------------------------------


def test_extension_up_to_half_the_term_for_long_loans(loan, ward_officer_a, district_staff):
    with pytest.raises(DomainError, match="tối đa 18 tháng"):
        request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=19)
    change = request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=12)
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 5))
    loan.refresh_from_db()
    assert loan.maturity_on == date(2030, 1, 15)
    assert loan.instalments.get(seq=12).due_on == date(2030, 1, 15)
    assert loan.instalments.get(seq=11).due_on == date(2028, 10, 15)
    assert loan.instalments.aggregate(total=Sum("principal"))["total"] == loan.amount
    # 12 of 18 months are used: 7 more is too many, 6 is fine.
    with pytest.raises(DomainError, match="còn 6 tháng"):
        request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 6, 1), months=7)
    assert request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 6, 1), months=6).new_maturity_on == date(
        2030, 7, 15)


def test_extension_up_to_12_months_for_short_loans(household_a, ward_officer_a):
    short = LoanFactory(household=household_a, term_months=12, maturity_on=date(2027, 1, 15))
    with pytest.raises(DomainError, match="tối đa 12 tháng"):
        request(short, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=13)
    assert request(short, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=12).months == 12


def test_extension_must_be_asked_before_maturity(loan, ward_officer_a):
    with pytest.raises(DomainError, match="đã đến hạn"):
        request(loan, Kind.EXTENSION, ward_officer_a, date(2029, 1, 16), months=3)


# Freeze -------------------------------------------------------------------------------------------------------


def test_freeze_for_up_to_five_years_then_back_to_active(loan, ward_officer_a, district_staff):
    # English until the catalogue carries the new wording of the freeze bounds.
    with pytest.raises(DomainError, match="5 năm|5 years"):
        request(loan, Kind.FREEZE, ward_officer_a, date(2026, 5, 4), months=61)
    change = request(loan, Kind.FREEZE, ward_officer_a, date(2026, 5, 4), months=60)
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 6))
    loan.refresh_from_db()
    change.refresh_from_db()
    assert loan.status == Loan.Status.FROZEN
    assert (change.frozen_from, change.frozen_until) == (date(2026, 5, 6), date(2031, 5, 6))
    assert loan.status_changes.get().to_status == Loan.Status.FROZEN

    # No new changes while frozen, except a write-off.
    with pytest.raises(DomainError, match="Khoanh nợ"):
        request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 6, 1), months=3)

    assert freezes_end_due(on=date(2031, 5, 5), actor=SYSTEM) == []
    assert [c.pk for c in freezes_end_due(on=date(2031, 5, 6), actor=SYSTEM)] == [change.pk]
    loan.refresh_from_db()
    change.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert (change.status, change.ended_on) == (LoanChange.Status.ENDED, date(2031, 5, 6))


def test_freeze_can_be_lifted_early(loan, ward_officer_a, district_staff):
    change = request(loan, Kind.FREEZE, ward_officer_a, date(2026, 5, 4), months=36)
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 6))
    loan_freeze_end(change=change, actor=district_staff, on=date(2027, 1, 1))
    loan.refresh_from_db()
    change.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    # Frozen 7 months and 26 days: what was still to come moves 8 months later, and so does maturity; the instalment
    # that fell due before the freeze stays where it was.
    dues = list(loan.instalments.order_by("seq").values_list("due_on", flat=True))
    assert dues[:3] == [date(2026, 4, 15), date(2027, 3, 15), date(2027, 6, 15)]
    assert dues[-1] == loan.maturity_on == date(2029, 9, 15)
    assert (change.old_maturity_on, change.new_maturity_on) == (date(2029, 1, 15), date(2029, 9, 15))
    with pytest.raises(DomainError, match="Chỉ chấm dứt được khoanh nợ"):
        loan_freeze_end(change=change, actor=district_staff, on=date(2027, 1, 2))


# Write-off ----------------------------------------------------------------------------------------------------


def test_write_off_records_the_amounts_and_keeps_the_ledger(loan, ward_officer_a, district_staff, capsys):
    Loan.objects.filter(pk=loan.pk).update(interest_arrears=120_000)
    loan.refresh_from_db()
    change = request(loan, Kind.WRITE_OFF, ward_officer_a, date(2026, 5, 4))
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 8))
    loan.refresh_from_db()
    change.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF
    assert (change.principal_written_off, change.interest_written_off) == (Decimal(50_000_000), Decimal(120_000))
    assert not Posting.objects.exclude(kind=Posting.Kind.DISBURSEMENT).exists()
    with pytest.raises(DomainError, match="Đã xóa nợ"):
        request(loan, Kind.FREEZE, ward_officer_a, date(2026, 6, 1), months=12)
    call_command("check_ledger")
    assert "passed" in capsys.readouterr().out


# Maker–checker and the request's own rules ---------------------------------------------------------------------


def test_whoever_asks_cannot_decide(loan, admin_user, district_staff):
    change = request(loan, Kind.EXTENSION, admin_user, date(2026, 5, 4), months=3)
    with pytest.raises(DomainError, match="không được tự phê duyệt"):
        loan_change_decide(change=change, approve=True, actor=admin_user, on=date(2026, 5, 5))
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 5))
    with pytest.raises(DomainError, match="đã được quyết định"):
        loan_change_decide(change=change, approve=False, actor=district_staff, note="x", on=date(2026, 5, 6))


def test_rejection_needs_a_reason_and_changes_nothing(loan, ward_officer_a, district_staff):
    change = request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=6)
    with pytest.raises(DomainError, match="lý do từ chối"):
        loan_change_decide(change=change, approve=False, actor=district_staff, on=date(2026, 5, 5))
    loan_change_decide(change=change, approve=False, actor=district_staff, note="Chưa đủ hồ sơ", on=date(2026, 5, 5))
    loan.refresh_from_db()
    assert loan.maturity_on == date(2029, 1, 15)
    change.refresh_from_db()
    assert (change.status, change.decision_note) == (LoanChange.Status.REJECTED, "Chưa đủ hồ sơ")


def test_one_pending_change_at_a_time_and_a_reason_is_required(loan, ward_officer_a):
    with pytest.raises(DomainError, match="nêu lý do đề nghị"):
        loan_change_request(loan=loan, kind=Kind.EXTENSION, reason="  ", actor=ward_officer_a,
                            on=date(2026, 5, 4), months=3)
    request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=3)
    with pytest.raises(DomainError, match="chờ phê duyệt"):
        request(loan, Kind.FREEZE, ward_officer_a, date(2026, 5, 4), months=12)


def test_ledger_check_green_after_every_kind_of_change(household_a, ward_officer_a, district_staff, capsys):
    loans = [LoanFactory(household=household_a) for _ in range(4)]
    on = date(2026, 3, 2)
    changes = [
        request(loans[0], Kind.TERM_ADJUSTMENT, ward_officer_a, on, instalment=loans[0].instalments.get(seq=1),
                new_due_on=date(2026, 5, 15)),
        request(loans[1], Kind.EXTENSION, ward_officer_a, on, months=6),
        request(loans[2], Kind.FREEZE, ward_officer_a, on, months=36),
        request(loans[3], Kind.WRITE_OFF, ward_officer_a, on),
    ]
    for change in changes:
        loan_change_decide(change=change, approve=True, actor=district_staff, on=on)
    call_command("check_ledger")
    assert "passed" in capsys.readouterr().out


# Views --------------------------------------------------------------------------------------------------------


@pytest.fixture
def nobody(db):
    return get_user_model().objects.create_user("nobody", password="x")


@time_machine.travel("2026-05-04 09:00 +0700", tick=False)
def test_loan_detail_page(client_for, loan, ward_officer_a, ward_officer_b, nobody, django_assert_max_num_queries):
    request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=6)
    url = reverse("loans:loan_detail", args=[loan.pk])
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(21):  # +1: today's collection sheet in the next steps
        response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert loan.number in page and "15/01/2029" in page and "Hộ gặp khó khăn do thiên tai" in page
    assert client.post(url).status_code == 405
    assert client_for(ward_officer_b).get(url).status_code == 404
    assert client_for(nobody).get(url).status_code == 403


@time_machine.travel("2026-05-04 09:00 +0700", tick=False)
def test_request_view(client_for, loan, ward_officer_a, ward_officer_b, district_staff):
    url = reverse("loans:loan_change_request", args=[loan.pk, "extension"])
    client = client_for(ward_officer_a)
    assert client.get(url).status_code == 200
    response = client.post(url, {"months": "25", "reason": "Mất mùa"})
    assert response.status_code == 200 and not LoanChange.objects.exists()
    response = client.post(url, {"months": "6", "reason": "Mất mùa"})
    assert response.status_code == 302 and response.url == reverse("loans:loan_detail", args=[loan.pk])
    change = LoanChange.objects.get()
    assert (change.kind, change.months, change.requested_by, change.requested_on) == (
        Kind.EXTENSION, 6, ward_officer_a, date(2026, 5, 4))
    # A second request while one is pending: a message on the form, not a 500.
    response = client.post(reverse("loans:loan_change_request", args=[loan.pk, "freeze"]),
                           {"months": "36", "reason": "Bão"})
    assert response.status_code == 200 and "đang có một đề nghị chờ phê duyệt" in response.content.decode()
    assert client.put(url).status_code == 405
    assert client_for(district_staff).get(url).status_code == 403
    assert client_for(ward_officer_b).get(url).status_code == 404


@time_machine.travel("2026-04-09 09:00 +0700", tick=False)
def test_term_adjustment_form_refuses_late_requests(client_for, loan, ward_officer_a):
    url = reverse("loans:loan_change_request", args=[loan.pk, "term_adjustment"])
    client = client_for(ward_officer_a)
    page = client.get(url).content.decode()
    assert "15/04/2026" not in page and "15/07/2026" in page  # too late for April, July is fine
    second = loan.instalments.get(seq=2)
    response = client.post(url, {"instalment": second.pk, "new_due_on": "15/09/2026", "reason": "Ốm đau"})
    assert response.status_code == 302
    assert LoanChange.objects.get().new_due_on == date(2026, 9, 15)


@time_machine.travel("2026-05-05 09:00 +0700", tick=False)
def test_decide_view(client_for, loan, ward_officer_a, district_staff, farmers_district_staff):
    change = request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=6)
    url = reverse("loans:loan_change_decide", args=[change.pk])
    assert client_for(district_staff).get(url).status_code == 405
    assert client_for(ward_officer_a).post(url, {"decision": "approve"}).status_code == 403
    assert client_for(farmers_district_staff).post(url, {"decision": "approve"}).status_code == 404
    response = client_for(district_staff).post(url, {"decision": "approve", "note": ""})
    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.maturity_on == date(2029, 7, 15)
    # A second decision is refused with a message.
    response = client_for(district_staff).post(url, {"decision": "reject", "note": "x"}, follow=True)
    assert "đã được quyết định" in response.content.decode()


@time_machine.travel("2026-05-05 09:00 +0700", tick=False)
def test_end_freeze_view(client_for, loan, ward_officer_a, district_staff):
    change = request(loan, Kind.FREEZE, ward_officer_a, date(2026, 5, 4), months=36)
    loan_change_decide(change=change, approve=True, actor=district_staff)
    url = reverse("loans:loan_freeze_end", args=[change.pk])
    assert client_for(district_staff).get(url).status_code == 405
    assert client_for(ward_officer_a).post(url).status_code == 403
    assert client_for(district_staff).post(url).status_code == 302
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE


def test_changes_list(client_for, household_a, ward_officer_a, ward_officer_b, district_staff,
                      django_assert_max_num_queries):
    for _ in range(5):
        loan = LoanFactory(household=HouseholdFactory(group=household_a.current_membership.group))
        request(loan, Kind.EXTENSION, ward_officer_a, date(2026, 5, 4), months=3)
    url = reverse("loans:loan_changes")
    client = client_for(district_staff)
    with django_assert_max_num_queries(13):  # +1 for the level's name in the role and status labels
        response = client.get(url)
    assert response.content.decode().count('data-testid="decide-form"') == 5
    assert client.post(url).status_code == 405
    assert 'data-testid="decide-form"' not in client_for(ward_officer_b).get(url).content.decode()
    # Finding a loan by number opens it; an out-of-scope number does not.
    assert client_for(ward_officer_a).get(url, {"number": loan.number}).url == reverse(
        "loans:loan_detail", args=[loan.pk])
    assert client_for(ward_officer_b).get(url, {"number": loan.number}).status_code == 200


def test_end_freezes_command(loan, ward_officer_a, district_staff, capsys):
    change = request(loan, Kind.FREEZE, ward_officer_a, date(2026, 5, 4), months=36)
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 6))
    call_command("end_freezes", "--date", "05/05/2029")
    assert "0 freeze(s) ended" in capsys.readouterr().out
    call_command("end_freezes", "--date", "06/05/2029")
    assert loan.number in capsys.readouterr().out
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="dd/mm/yyyy"):
        call_command("end_freezes", "--date", "2027-05-06")


def test_the_loan_page_says_how_far_a_lifted_freeze_moved_the_schedule(client_for, loan, ward_officer_a,
                                                                       district_staff):
    change = request(loan, Kind.FREEZE, ward_officer_a, date(2026, 5, 4), months=36)
    loan_change_decide(change=change, approve=True, actor=district_staff, on=date(2026, 5, 6))
    loan_freeze_end(change=change, actor=district_staff, on=date(2027, 1, 1))
    page = client_for(ward_officer_a).get(reverse("loans:loan_detail", args=[loan.pk])).content.decode()
    assert "lịch trả nợ lùi lại: ngày đáo hạn 15/01/2029 → 15/09/2029" in page

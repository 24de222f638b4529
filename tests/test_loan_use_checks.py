"""The loan-use to-do list (06/TD) of a ward branch, and recording checks and group inspections."""

from datetime import date

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from loans.models import GroupInspection, LoanUseCheck, Posting
from loans.selectors.checks import loan_use_todo
from loans.services.checks import group_inspection_record, loan_use_check_record
from organizations.errors import DomainError
from tests.factories import HouseholdFactory, LoanFactory

TODAY = date(2026, 11, 20)
pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-11-20 09:00 +0700", tick=False):
        yield


def loan_in(group, **kwargs):
    return LoanFactory(household=HouseholdFactory(group=group), **kwargs)


def todo_for(branch):
    return loan_use_todo(branch_ids=[branch.pk], today=TODAY)


def test_new_loans_are_checked_within_30_days(group_a, branch_a, ward_officer_a):
    fresh = loan_in(group_a, disbursed_on=date(2026, 11, 1))
    late = loan_in(group_a, disbursed_on=date(2026, 9, 1))
    checked = loan_in(group_a, disbursed_on=date(2026, 9, 1))
    loan_use_check_record(loan=checked, result=LoanUseCheck.Result.AS_PLANNED, notes="", checked_on=date(2026, 9, 20),
                          actor=ward_officer_a)
    items = {item.loan.pk: item for item in todo_for(branch_a)["new_loans"]}
    assert set(items) == {fresh.pk, late.pk}
    assert (items[fresh.pk].due_on, items[fresh.pk].is_overdue) == (date(2026, 12, 1), False)
    assert (items[late.pk].due_on, items[late.pk].is_overdue) == (date(2026, 10, 1), True)


def test_loans_with_no_transaction_for_3_months(group_a, branch_a, ward_officer_a):
    quiet = loan_in(group_a)  # disbursed 15/01/2026, nothing since
    paying = loan_in(group_a)
    Posting.objects.create(kind=Posting.Kind.INTEREST, household=paying.household, loan=paying, amount=200_000,
                           on=date(2026, 10, 20))
    borderline = loan_in(group_a)
    Posting.objects.create(kind=Posting.Kind.INTEREST, household=borderline.household, loan=borderline,
                           amount=200_000, on=date(2026, 8, 20))  # exactly 3 months ago
    checked = loan_in(group_a)
    loan_use_check_record(loan=checked, result=LoanUseCheck.Result.PARTLY, notes="Mua 1 con bò thay vì 2",
                          checked_on=date(2026, 10, 1), actor=ward_officer_a)
    items = {item.loan.pk: item for item in todo_for(branch_a)["dormant_loans"]}
    assert set(items) == {quiet.pk, borderline.pk}
    assert items[quiet.pk].last_activity == date(2026, 1, 15)
    assert items[quiet.pk].is_overdue  # due 15/05/2026
    # 20/12/2026 is a Sunday: the deadline moves to the next working day.
    assert (items[borderline.pk].due_on, items[borderline.pk].is_overdue) == (date(2026, 12, 21), False)


def test_groups_not_inspected_this_year(group_a, branch_a, ward_officer_a):
    group_inspection_record(group=group_a, inspected_on=date(2025, 6, 1), findings="", actor=ward_officer_a)
    (item,) = todo_for(branch_a)["groups"]
    assert (item.group, item.last_activity, item.due_on, item.is_overdue) == (
        group_a, date(2025, 6, 1), date(2026, 12, 31), False)
    group_inspection_record(group=group_a, inspected_on=date(2026, 3, 1), findings="Tổ sinh hoạt đều",
                            actor=ward_officer_a)
    assert todo_for(branch_a)["groups"] == []


def test_the_list_is_per_branch(group_a, group_b, branch_a, branch_b):
    loan_in(group_b, disbursed_on=date(2026, 11, 1))
    todo = todo_for(branch_a)
    assert todo["new_loans"] == [] and [i.group for i in todo["groups"]] == [group_a]


def test_recording_refuses_bad_dates(group_a, ward_officer_a):
    loan = loan_in(group_a, disbursed_on=date(2026, 11, 1))
    with pytest.raises(DomainError, match="sau ngày hôm nay"):
        loan_use_check_record(loan=loan, result="as_planned", notes="", checked_on=date(2026, 11, 21),
                              actor=ward_officer_a)
    with pytest.raises(DomainError, match="trước ngày giải ngân"):
        loan_use_check_record(loan=loan, result="as_planned", notes="", checked_on=date(2026, 10, 31),
                              actor=ward_officer_a)
    with pytest.raises(DomainError, match="chọn kết quả"):
        loan_use_check_record(loan=loan, result="maybe", notes="", checked_on=TODAY, actor=ward_officer_a)
    with pytest.raises(DomainError, match="sau ngày hôm nay"):
        group_inspection_record(group=group_a, inspected_on=date(2027, 1, 1), findings="", actor=ward_officer_a)
    assert not LoanUseCheck.objects.exists() and not GroupInspection.objects.exists()


def test_todo_page(group_a, group_b, branch_a, branch_b, client_for, ward_officer_a, ward_officer_b, district_staff,
                   front_supervisor, django_assert_max_num_queries):
    late = loan_in(group_a, disbursed_on=date(2026, 9, 1))
    for _n in range(4):
        loan_in(group_a, disbursed_on=date(2026, 11, 2))
    url = reverse("loans:loan_use_checks")
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(14):  # +2 for the menu's inbox count
        response = client.get(url)
    page = response.content.decode()
    assert page.count('data-overdue="1"') == 1  # only the new loan not checked within 30 days
    assert late.number in page and group_a.name in page and group_b.name not in page
    assert client.post(url).status_code == 405
    assert client.get(url, {"branch": branch_b.pk}).status_code == 404
    # District staff choose among their branches; the Front reads.
    assert group_b.name in client_for(district_staff).get(url, {"branch": branch_b.pk}).content.decode()
    assert client_for(front_supervisor).get(url, {"branch": branch_a.pk}).status_code == 200
    nobody = get_user_model().objects.create_user("nobody", password="x")
    assert client_for(nobody).get(url).status_code == 403


def test_record_check_view(group_a, client_for, ward_officer_a, ward_officer_b, district_staff):
    loan = loan_in(group_a, disbursed_on=date(2026, 11, 1))
    url = reverse("loans:loan_use_check_record", args=[loan.pk])
    client = client_for(ward_officer_a)
    assert client.get(url).status_code == 200
    response = client.post(url, {"checked_on": "25/11/2026", "result": "as_planned", "notes": ""})
    assert response.status_code == 200 and not LoanUseCheck.objects.exists()  # a future date is refused
    response = client.post(url, {"checked_on": "18/11/2026", "result": "partly", "notes": "Mới mua một nửa"})
    assert response.status_code == 302
    check = LoanUseCheck.objects.get()
    assert (check.result, check.checked_on, check.checked_by) == ("partly", date(2026, 11, 18), ward_officer_a)
    assert client.delete(url).status_code == 405
    assert client_for(district_staff).get(url).status_code == 403
    assert client_for(ward_officer_b).get(url).status_code == 404


def test_record_inspection_view(group_a, group_b, client_for, ward_officer_a, front_supervisor):
    url = reverse("loans:group_inspection_record", args=[group_a.pk])
    client = client_for(ward_officer_a)
    response = client.post(url, {"inspected_on": "02/11/2026", "findings": "Sổ sách đầy đủ"})
    assert response.status_code == 302
    assert GroupInspection.objects.get().findings == "Sổ sách đầy đủ"
    assert client.put(url).status_code == 405
    assert client.get(reverse("loans:group_inspection_record", args=[group_b.pk])).status_code == 404
    assert client_for(front_supervisor).get(url).status_code == 403

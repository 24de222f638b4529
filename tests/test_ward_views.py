"""Ward pages with the personas: happy path, wrong method (405), no role (403), another ward (404), query bounds."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from borrowers.models import Household
from loans.models import LoanApplication, LoanList
from loans.services import requests as requests_services
from loans.services.requests import ReviewResult
from organizations.models import SavingsGroup
from tests.factories import HouseholdFactory, LoanFactory, SavingsGroupFactory, UserFactory, program

pytestmark = pytest.mark.django_db
Status = LoanApplication.Status


@pytest.fixture(autouse=True)
def today(time_machine):
    time_machine.move_to("2026-11-20 10:00 +07:00", tick=False)


def request_for(household, actor, amount=30_000_000):
    return requests_services.application_create(household=household, program=program("01"), amount=Decimal(amount),
                                       term_months=36, purpose="Chăn nuôi heo", planned_use="", actor=actor)


@pytest.fixture
def reviewed(group_a, household_a, ward_officer_a):
    """Group A met: household A's request approved at 25.000.000, a neighbour's rejected."""
    neighbour = HouseholdFactory(group=group_a, head_name="Phạm Văn Sơn")
    first, second = request_for(household_a, ward_officer_a), request_for(neighbour, ward_officer_a, 20_000_000)
    meeting = requests_services.application_review(
        group=group_a, held_on=date(2026, 11, 20), actor=ward_officer_a, neighbourhood_head="Ông Tư",
        attendee_count=9, attendees="Các hộ trong tổ", branch_officer="Cán bộ hội phường",
        results=[ReviewResult(first, "approve", Decimal(25_000_000)), ReviewResult(second, "reject", reason="Nợ cũ")],
    )
    return meeting


# Access matrix -------------------------------------------------------------------------------------------------------

def read_urls(household, group, meeting):
    application = meeting.applications.order_by("pk").first()
    return [
        reverse("borrowers:household_detail", args=[household.pk]),
        reverse("organizations:group_detail", args=[group.pk]),
        reverse("loans:application_detail", args=[application.pk]),
        reverse("loans:meeting_detail", args=[meeting.pk]),
        reverse("loans:meeting_xlsx", args=[meeting.pk]),
        reverse("loans:list03_detail", args=[meeting.loan_list.pk]),
        reverse("loans:list03_xlsx", args=[meeting.loan_list.pk]),
    ]


def change_urls(household, group, meeting):
    application = meeting.applications.order_by("pk").first()
    return [
        reverse("borrowers:household_update", args=[household.pk]),
        reverse("borrowers:household_move", args=[household.pk]),
        reverse("loans:application_create", args=[household.pk]),
        reverse("organizations:group_update", args=[group.pk]),
        reverse("loans:meeting_create", args=[group.pk]),
        reverse("loans:list03_certify", args=[meeting.loan_list.pk]),
    ] + [
        reverse("loans:application_withdraw", args=[application.pk]),
        reverse("loans:list03_submit", args=[meeting.loan_list.pk]),
    ]


def test_another_wards_officer_gets_404_on_every_url(client_for, ward_officer_b, household_a, group_a, reviewed):
    client = client_for(ward_officer_b)
    for url in read_urls(household_a, group_a, reviewed) + change_urls(household_a, group_a, reviewed)[:-2]:
        assert client.get(url).status_code == 404, url
    for url in change_urls(household_a, group_a, reviewed):
        assert client.post(url, {"reason": "x"}).status_code == 404, url


def test_another_organizations_district_staff_gets_404(client_for, farmers_district_staff, household_a, group_a,
                                                       reviewed):
    client = client_for(farmers_district_staff)
    for url in read_urls(household_a, group_a, reviewed):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("persona", ["district_staff", "front_supervisor", "admin_user", "ward_officer_a"])
def test_readers_within_scope_see_every_page(request, client_for, persona, household_a, group_a, reviewed):
    client = client_for(request.getfixturevalue(persona))
    for url in read_urls(household_a, group_a, reviewed):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["district_staff", "front_supervisor"])
def test_read_only_roles_get_403_on_every_change(request, client_for, persona, household_a, group_a, reviewed):
    client = client_for(request.getfixturevalue(persona))
    urls = change_urls(household_a, group_a, reviewed) + [
        reverse("borrowers:household_create"), reverse("organizations:group_create")
    ]
    for url in urls:
        assert client.post(url, {"reason": "x"}).status_code == 403, url
    for url in urls[:6]:
        assert client.get(url).status_code == 403, url
    assert LoanApplication.objects.filter(status=Status.WITHDRAWN).count() == 0
    assert LoanList.objects.get().status == LoanList.Status.DRAFT


def test_a_user_without_profile_gets_403(client_for, household_a):
    nobody = UserFactory(username="nobody")
    nobody.save()
    client = client_for(nobody)
    assert client.get(reverse("borrowers:household_list")).status_code == 403
    assert client.get(reverse("borrowers:household_detail", args=[household_a.pk])).status_code == 403


def test_wrong_methods_get_405(client_for, ward_officer_a, household_a, group_a, reviewed):
    client = client_for(ward_officer_a)
    for url in read_urls(household_a, group_a, reviewed) + [
        reverse("borrowers:household_list"), reverse("organizations:group_list"), reverse("loans:application_list"),
        reverse("loans:list03_index"),
    ]:
        assert client.post(url).status_code == 405, url
    for url in change_urls(household_a, group_a, reviewed)[:6]:
        assert client.delete(url).status_code == 405, url
    for url in change_urls(household_a, group_a, reviewed)[6:]:
        assert client.get(url).status_code == 405, url


# Households ---------------------------------------------------------------------------------------------------------

def test_household_list_is_scoped_searchable_and_bounded(client_for, ward_officer_a, household_a, household_b, group_a,
                                                         django_assert_max_num_queries):
    for n in range(30):
        household = HouseholdFactory(group=group_a)
        if n % 3 == 0:
            LoanFactory(household=household)
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(13):  # +1 for the menu's inbox count
        response = client.get(reverse("borrowers:household_list"))
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 31
    assert "Trần Văn Bình" not in response.content.decode()
    with django_assert_max_num_queries(13):  # +1 for the menu's inbox count
        response = client.get(reverse("borrowers:household_list"), {"page": 2})
    assert len(response.context["page"]) == 6

    def names(**params):
        page = client.get(reverse("borrowers:household_list"), params).context["page"]
        return [h.head_name for h in page]

    assert names(q="nguyen thi anh") == ["Nguyễn Thị Ánh"]
    assert names(q="NGUYỄN THỊ ÁNH") == ["Nguyễn Thị Ánh"]
    assert names(q=household_a.citizen_id) == ["Nguyễn Thị Ánh"]
    assert names(q=household_a.customer_code) == ["Nguyễn Thị Ánh"]
    assert names(q=household_b.citizen_id) == []
    assert len(names(outstanding="yes")) == 10
    assert "Nguyễn Thị Ánh" in names(outstanding="no")
    assert names(policy_status="near_poor") == []
    assert len(client.get(reverse("borrowers:household_list"), {"group": group_a.pk}).context["page"].object_list) == 25


def test_household_list_out_of_scope_group_filter_is_404(client_for, ward_officer_a, group_b):
    response = client_for(ward_officer_a).get(reverse("borrowers:household_list"), {"group": group_b.pk})
    assert response.status_code == 404


def test_household_detail_shows_history_loans_and_requests(client_for, ward_officer_a, household_a, reviewed):
    LoanFactory(household=household_a, amount=Decimal(40_000_000), number="5500000000009999")
    response = client_for(ward_officer_a).get(reverse("borrowers:household_detail", args=[household_a.pk]))
    html = response.content.decode()
    assert "5500000000009999" in html and "40.000.000 ₫" in html
    assert "Tổ A1" in html
    assert str(Status.GROUP_APPROVED.label) in html


def household_post(group, **overrides):
    data = {"head_name": "Lê  Thị Hồng", "citizen_id": "079180456789", "customer_code": "", "birth_year": "1980",
            "phone": "0912345678", "address": "5 Hà Huy Giáp", "members": "4", "policy_status": "poor",
            "policy_list_year": "2025", "escaped_year": "", "group": group.pk, "joined_on": "15/11/2026"}
    data.update(overrides)
    return data


def test_register_a_household(client_for, ward_officer_a, group_a):
    response = client_for(ward_officer_a).post(reverse("borrowers:household_create"), household_post(group_a))
    household = Household.objects.get(citizen_id="079180456789")
    assert response.status_code == 302 and response.url == reverse("borrowers:household_detail", args=[household.pk])
    assert household.head_name == "Lê Thị Hồng"
    assert household.current_membership.joined_on == date(2026, 11, 15)


def test_register_shows_clear_messages(client_for, ward_officer_a, group_a, household_b):
    client = client_for(ward_officer_a)
    response = client.post(reverse("borrowers:household_create"),
                           household_post(group_a, citizen_id=household_b.citizen_id))
    assert response.status_code == 200
    message = response.context["form"].errors["citizen_id"][0]
    assert household_b.citizen_id in message
    # Where another ward's household lives is not this officer's business: no ward, no name, no link.
    assert "Phường B" not in response.content.decode() and household_b.head_name not in response.content.decode()
    assert 'data-testid="registered-household"' not in response.content.decode()
    response = client.post(reverse("borrowers:household_create"),
                           household_post(group_a, phone="12345", policy_list_year="", citizen_id="0791"))
    errors = response.context["form"].errors
    assert set(errors) == {"phone", "policy_list_year", "citizen_id"}
    assert response.context["form"]["head_name"].value() == "Lê  Thị Hồng"  # nothing typed is lost
    assert not Household.objects.filter(head_name="Lê Thị Hồng").exists()


def test_a_citizen_id_registered_in_the_officers_own_branch_links_to_its_household(
    client_for, ward_officer_a, group_a, household_a
):
    response = client_for(ward_officer_a).post(reverse("borrowers:household_create"),
                                               household_post(group_a, citizen_id=household_a.citizen_id))
    assert response.status_code == 200
    assert "Phường A" in response.context["form"].errors["citizen_id"][0]
    link = reverse("borrowers:household_detail", args=[household_a.pk])
    assert f'href="{link}"' in response.content.decode() and household_a.head_name in response.content.decode()
    assert Household.objects.filter(citizen_id=household_a.citizen_id).count() == 1


def test_register_into_another_wards_group_is_404(client_for, ward_officer_a, group_b):
    response = client_for(ward_officer_a).post(reverse("borrowers:household_create"), household_post(group_b))
    assert response.status_code == 404
    assert not Household.objects.filter(citizen_id="079180456789").exists()


def test_edit_a_household(client_for, ward_officer_a, household_a):
    data = household_post(None or household_a.current_membership.group, head_name="Nguyễn Thị Ánh Hồng",
                          citizen_id=household_a.citizen_id, customer_code=household_a.customer_code)
    response = client_for(ward_officer_a).post(reverse("borrowers:household_update", args=[household_a.pk]), data)
    assert response.status_code == 302
    household_a.refresh_from_db()
    assert household_a.head_name == "Nguyễn Thị Ánh Hồng" and household_a.phone == "0912345678"


def test_move_a_household(client_for, ward_officer_a, household_a, branch_a, group_b):
    other = SavingsGroupFactory(branch=branch_a, name="Tổ A2")
    client = client_for(ward_officer_a)
    assert client.post(reverse("borrowers:household_move", args=[household_a.pk]),
                       {"group": group_b.pk, "on": "10/11/2026"}).status_code == 404
    response = client.post(reverse("borrowers:household_move", args=[household_a.pk]),
                           {"group": other.pk, "on": "10/11/2026", "note": "Chuyển nhà"})
    assert response.status_code == 302
    assert household_a.current_membership.group == other
    assert household_a.memberships.count() == 2


# Groups -------------------------------------------------------------------------------------------------------------

def test_group_list_is_scoped_and_bounded(client_for, ward_officer_a, branch_a, group_a, group_b,
                                          django_assert_max_num_queries):
    for _ in range(30):
        group = SavingsGroupFactory(branch=branch_a)
        LoanFactory(household=HouseholdFactory(group=group), amount=Decimal(10_000_000))
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(13):  # +1 for the menu's inbox count
        response = client.get(reverse("organizations:group_list"))
    page = response.context["page"]
    assert page.paginator.count == 31
    assert group_b.code not in response.content.decode()
    row = next(g for g in page if g.code != group_a.code)
    assert (row.member_count, row.outstanding) == (1, 10_000_000)


def test_group_detail_lists_members_requests_and_figures(client_for, ward_officer_a, group_a, household_a,
                                                         django_assert_max_num_queries):
    for _ in range(10):
        LoanFactory(household=HouseholdFactory(group=group_a), amount=Decimal(5_000_000))
    request_for(household_a, ward_officer_a)
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(16):  # +2 for the menu's inbox count
        response = client.get(reverse("organizations:group_detail", args=[group_a.pk]))
    group = response.context["group"]
    assert (group.member_count, group.open_requests, group.outstanding) == (11, 1, 50_000_000)
    assert reverse("loans:meeting_create", args=[group_a.pk]) in response.content.decode()


def test_create_a_group(client_for, ward_officer_a, branch_a, group_a):
    members = [HouseholdFactory(group=group_a) for _ in range(5)]
    response = client_for(ward_officer_a).post(reverse("organizations:group_create"), {
        "code": "8300001", "name": "Tổ khu phố 3", "branch": branch_a.pk, "status": "active",
        "founded_on": "01/11/2026", "members": [m.pk for m in members], "leader": members[0].pk,
        "deputy": members[1].pk,
    })
    group = SavingsGroup.objects.get(code="8300001")
    assert response.status_code == 302
    assert group.memberships.filter(left_on__isnull=True).count() == 5


def test_create_a_group_refusals_show_in_the_form(client_for, ward_officer_a, branch_a, group_a, household_b):
    members = [HouseholdFactory(group=group_a) for _ in range(3)]
    client = client_for(ward_officer_a)
    data = {"code": "8300001", "name": "Tổ", "branch": branch_a.pk, "status": "active",
            "members": [m.pk for m in members]}
    response = client.post(reverse("organizations:group_create"), data)
    assert response.status_code == 200 and "members" in response.context["form"].errors
    assert client.post(reverse("organizations:group_create"),
                       {**data, "members": [household_b.pk]}).status_code == 404
    assert not SavingsGroup.objects.filter(code="8300001").exists()


def test_edit_a_group(client_for, ward_officer_a, group_a):
    members = [HouseholdFactory(group=group_a) for _ in range(5)]
    response = client_for(ward_officer_a).post(reverse("organizations:group_update", args=[group_a.pk]), {
        "name": "Tổ A1 (mới)", "status": "active", "leader": members[0].pk, "deputy": members[0].pk,
    })
    assert "deputy" in response.context["form"].errors
    response = client_for(ward_officer_a).post(reverse("organizations:group_update", args=[group_a.pk]), {
        "name": "Tổ A1 (mới)", "status": "active", "leader": members[0].pk, "deputy": members[1].pk,
    })
    assert response.status_code == 302
    group_a.refresh_from_db()
    assert (group_a.name, group_a.leader, group_a.deputy) == ("Tổ A1 (mới)", members[0], members[1])


# Requests, review, list 03/TD ---------------------------------------------------------------------------------------

def test_make_a_request(client_for, ward_officer_a, household_a):
    client = client_for(ward_officer_a)
    url = reverse("loans:application_create", args=[household_a.pk])
    response = client.post(url, {"program": program("01").pk, "amount": "30.000.000", "term_months": "36",
                                 "purpose": "Chăn nuôi heo", "planned_use": "Mua heo giống"})
    application = LoanApplication.objects.get()
    assert response.url == reverse("loans:application_detail", args=[application.pk])
    assert application.amount_requested == 30_000_000
    response = client.post(url, {"program": program("01").pk, "amount": "30000000", "term_months": "36",
                                 "purpose": "Lần hai"})
    assert "open request" in response.context["form"].errors["program"][0] or response.context["form"].errors
    response = client.post(url, {"program": program("07").pk, "amount": "-5", "term_months": "36", "purpose": "x"})
    assert "amount" in response.context["form"].errors
    assert LoanApplication.objects.count() == 1


def test_request_list_is_scoped_and_bounded(client_for, ward_officer_a, ward_officer_b, group_a, household_b,
                                            django_assert_max_num_queries):
    for _ in range(30):
        request_for(HouseholdFactory(group=group_a), ward_officer_a)
    request_for(household_b, ward_officer_b)
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(15):  # +2 for the menu's inbox count, +1 for the level named in the status filter
        response = client.get(reverse("loans:application_list"), {"status": "open"})
    assert response.context["page"].paginator.count == 30
    assert "Trần Văn Bình" not in response.content.decode()


def test_record_a_review_meeting(client_for, ward_officer_a, group_a, household_a):
    neighbour = HouseholdFactory(group=group_a, head_name="Phạm Văn Sơn")
    first, second = request_for(household_a, ward_officer_a), request_for(neighbour, ward_officer_a, 20_000_000)
    client = client_for(ward_officer_a)
    url = reverse("loans:meeting_create", args=[group_a.pk])
    assert "Phạm Văn Sơn" in client.get(url).content.decode()
    data = {"held_on": "20/11/2026", "attendee_count": "9", "neighbourhood_head": "Ông Tư",
            "attendees": "Các hộ trong tổ", "branch_officer": "Cán bộ hội phường",
            f"r{first.pk}-decision": "approve", f"r{first.pk}-amount": "25.000.000",
            f"r{second.pk}-decision": "reject", f"r{second.pk}-reason": ""}
    response = client.post(url, data)
    assert response.status_code == 200
    assert "reason" in response.context["decisions"][1].errors or "reason" in response.context["decisions"][0].errors
    first.refresh_from_db()
    assert first.status == Status.DRAFT
    response = client.post(url, {**data, f"r{second.pk}-reason": "Chưa trả hết nợ cũ",
                                 f"r{first.pk}-amount": "35.000.000"})
    assert response.status_code == 200  # more than requested
    response = client.post(url, {**data, f"r{second.pk}-reason": "Chưa trả hết nợ cũ"})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.amount_group_approved) == (Status.GROUP_APPROVED, 25_000_000)
    assert (second.status, second.rejection_reason) == (Status.GROUP_REJECTED, "Chưa trả hết nợ cũ")


def test_minutes_and_list_print_and_download(client_for, ward_officer_a, reviewed):
    client = client_for(ward_officer_a)
    html = client.get(reverse("loans:meeting_detail", args=[reviewed.pk])).content.decode()
    assert "10A/TD" in html and "Nợ cũ" in html and "Ông Tư" in html
    html = client.get(reverse("loans:list03_detail", args=[reviewed.loan_list.pk])).content.decode()
    assert "03/TD" in html and "25.000.000" in html and "Phạm Văn Sơn" not in html
    response = client.get(reverse("loans:list03_xlsx", args=[reviewed.loan_list.pk]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = next(r for r in rows if r[0] == "STT")
    assert "Họ tên người vay" in header and "Số tiền tổ bình xét" in header
    # The total row is the last row of the table; the form's signature blocks follow it.
    total = next(r for r in rows if r[0] == "Tổng cộng")
    assert total[7] == 25_000_000 and all(r[0] != "STT" for r in rows[rows.index(total):])
    response = client.get(reverse("loans:meeting_xlsx", args=[reviewed.pk]))
    rows = [list(r) for r in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]
    assert rows[-1][0] == "Tổng cộng" and rows[-1][4] == 50_000_000 and rows[-1][8] == 25_000_000
    assert any(r[7] == "Không đồng ý" and r[9] == "Nợ cũ" for r in rows)


def test_certify_and_submit(client_for, ward_officer_a, reviewed):
    loan_list = reviewed.loan_list
    client = client_for(ward_officer_a)
    url = reverse("loans:list03_certify", args=[loan_list.pk])
    response = client.post(url, {"certified_on": "19/11/2026", "signer": "Chủ tịch", "reference": "12/XN"})
    assert "certified_on" in response.context["form"].errors
    response = client.post(url, {"certified_on": "20/11/2026", "signer": "Chủ tịch Nguyễn Văn A",
                                 "reference": "12/XN"})
    assert response.status_code == 302
    loan_list.refresh_from_db()
    assert loan_list.status == LoanList.Status.CERTIFIED
    assert client.get(url).status_code == 302  # nothing left to certify
    response = client.post(reverse("loans:list03_submit", args=[loan_list.pk]), {"confirm": "1"})
    assert response.status_code == 302
    loan_list.refresh_from_db()
    assert loan_list.status == LoanList.Status.SUBMITTED and loan_list.submitted_by == ward_officer_a
    assert loan_list.applications.get().status == Status.SUBMITTED
    response = client.post(reverse("loans:list03_submit", args=[loan_list.pk]), {"confirm": "1"}, follow=True)
    assert "certified" in response.content.decode() or "xác nhận" in response.content.decode()


def test_withdraw_a_request(client_for, ward_officer_a, reviewed):
    application = reviewed.applications.get(status=Status.GROUP_APPROVED)
    client = client_for(ward_officer_a)
    response = client.post(reverse("loans:application_withdraw", args=[application.pk]), {"reason": "Không vay nữa"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN
    html = client.get(reverse("loans:application_detail", args=[application.pk])).content.decode()
    assert "Không vay nữa" in html


def test_list03_index_is_scoped(client_for, ward_officer_b, district_staff, reviewed):
    assert client_for(ward_officer_b).get(reverse("loans:list03_index")).context["page"].paginator.count == 0
    assert client_for(district_staff).get(reverse("loans:list03_index")).context["page"].paginator.count == 1


def test_admin_cannot_bypass_the_pipeline(client_for, admin_user, reviewed):
    client = client_for(admin_user)
    application = reviewed.applications.get(status=Status.GROUP_APPROVED)
    assert client.get(reverse("admin:loans_loanapplication_add")).status_code == 403
    assert client.post(reverse("admin:loans_loanapplication_delete", args=[application.pk]),
                       {"post": "yes"}).status_code == 403
    response = client.get(reverse("admin:loans_loanapplication_change", args=[application.pk]))
    assert 'name="status"' not in response.content.decode()
    assert 'name="amount_requested"' not in response.content.decode()

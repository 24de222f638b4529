"""A second person for every movement of capital: district totals and adjustments are proposed by one officer and
decided by another; nothing changes the capital before the decision (issue 14, finding 5)."""

import re
import threading

import pytest
import time_machine
from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from loans.models import AllocationEvent, CapitalAdjustment, CapitalAllocation, CapitalPlan, CapitalPlanChange
from loans.services import approvals, capital
from organizations.area import area_label
from organizations.errors import DomainError
from organizations.models import OfficerProfile
from tests.factories import approved_allocation, officer, program, submitted_loan_list

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today", "english")]


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False):
        yield


@pytest.fixture
def second_staff(women_district):
    """Another district officer of the same organization: the checker of `district_staff`'s proposals."""
    return officer("district_checker", women_district, OfficerProfile.Role.DISTRICT_STAFF)


def propose_total(organization, amount, actor, year=2026, code="01"):
    return capital.capital_plan_propose(organization=organization, program=program(code), year=year, amount=amount,
                                        actor=actor)


# --- The finding, reproduced ----------------------------------------------------------------------------------------


def test_one_district_officer_alone_cannot_find_capital_for_a_refused_request(group_a, branch_a, branch_b,
                                                                              ward_officer_a, district_staff,
                                                                              second_staff):
    allocation = approved_allocation(branch=branch_a, amount=20_000_000, plan_amount=30_000_000)
    other = approved_allocation(branch=branch_b, amount=10_000_000)
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(30_000_000,))
    request = loan_list.applications.get()
    with pytest.raises(DomainError, match="only 20.000.000 ₫ is left"):
        approvals.application_approve(application=request, amount=30_000_000, actor=district_staff)

    # The same officer raises the plan and moves capital to ward A: both only wait for a decision.
    change = propose_total(branch_a.parent, 100_000_000, district_staff)
    move = capital.adjustment_propose(source=other, target=allocation, amount=10_000_000, reason="Điều chuyển",
                                      actor=district_staff)
    assert CapitalPlan.objects.get().amount == 30_000_000
    assert {a.pk: a.amount for a in CapitalAllocation.objects.all()} == {allocation.pk: 20_000_000,
                                                                       other.pk: 10_000_000}
    assert not AllocationEvent.objects.filter(adjustment__isnull=False).exists()
    with pytest.raises(DomainError, match="only 20.000.000 ₫ is left"):
        approvals.application_approve(application=request, amount=30_000_000, actor=district_staff)

    # Nor can they approve their own proposals.
    for decide, row in ((capital.capital_plan_decide, {"change": change}),
                        (capital.adjustment_decide, {"adjustment": move})):
        with pytest.raises(DomainError, match="someone else must decide"):
            decide(approve=True, actor=district_staff, **row)
    assert CapitalPlan.objects.get().amount == 30_000_000

    # A second officer approves the new total and the move; now the request fits.
    capital.capital_plan_decide(change=change, approve=True, actor=second_staff)
    capital.adjustment_decide(adjustment=move, approve=True, actor=second_staff)
    allocation.refresh_from_db()
    assert allocation.amount == 30_000_000
    approvals.application_approve(application=request, amount=30_000_000, actor=district_staff)


# --- District totals ------------------------------------------------------------------------------------------------


def test_a_proposed_total_applies_only_when_approved(women_district, district_staff, second_staff, admin_user):
    change = propose_total(women_district, 500_000_000, district_staff)
    assert (change.status, change.plan, change.amount_before) == ("proposed", None, None)
    assert not CapitalPlan.objects.exists()
    with pytest.raises(DomainError, match="already waiting"):
        propose_total(women_district, 600_000_000, second_staff)

    capital.capital_plan_decide(change=change, approve=True, reason="Theo văn bản NHCSXH", actor=second_staff)
    change.refresh_from_db()
    plan = CapitalPlan.objects.get()
    assert (plan.amount, plan.created_by, change.plan) == (500_000_000, district_staff, plan)
    assert (change.status, change.decided_by, change.decision_reason) == ("approved", second_staff,
                                                                          "Theo văn bản NHCSXH")
    with pytest.raises(DomainError, match="already decided"):
        capital.capital_plan_decide(change=change, approve=False, reason="x", actor=admin_user)

    raise_ = propose_total(women_district, 800_000_000, second_staff)
    assert raise_.amount_before == 500_000_000 and raise_.plan == plan
    with pytest.raises(DomainError, match="reason"):
        capital.capital_plan_decide(change=raise_, approve=False, reason="  ", actor=district_staff)
    capital.capital_plan_decide(change=raise_, approve=False, reason="Chưa có quyết định giao vốn",
                                actor=district_staff)
    plan.refresh_from_db()
    assert plan.amount == 500_000_000
    assert list(plan.changes.order_by("pk").values_list("status", "amount")) == [
        ("approved", 500_000_000), ("rejected", 800_000_000),
    ]
    with pytest.raises(DomainError, match="already"):
        propose_total(women_district, 500_000_000, district_staff)


def test_a_total_is_checked_again_when_decided(branch_a, district_staff, second_staff):
    allocation = approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)
    with pytest.raises(DomainError, match="cannot be lower"):
        propose_total(branch_a.parent, 90_000_000, district_staff)
    lower = propose_total(branch_a.parent, 150_000_000, district_staff)
    # Meanwhile more capital went to the ward (approved by someone else): the lower total no longer fits.
    CapitalAllocation.objects.filter(pk=allocation.pk).update(amount=200_000_000)
    with pytest.raises(DomainError, match="200.000.000 ₫"):
        capital.capital_plan_decide(change=lower, approve=True, actor=second_staff)
    lower.refresh_from_db()
    assert lower.status == "proposed" and CapitalPlan.objects.get().amount == 300_000_000


def test_a_front_or_ward_organization_gets_no_plan(front, branch_a, district_staff):
    for organization in (front, branch_a):
        with pytest.raises(DomainError, match=re.escape(f"member organization at the level of {area_label()}.")):
            propose_total(organization, 1_000_000, district_staff)
    assert not CapitalPlanChange.objects.exists()


def test_the_database_refuses_a_proposer_deciding(women_district, district_staff):
    change = propose_total(women_district, 500_000_000, district_staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        CapitalPlanChange.objects.filter(pk=change.pk).update(status="approved", decided_by=district_staff,
                                                              decided_at=change.proposed_at)


# --- Adjustments ----------------------------------------------------------------------------------------------------


def test_an_adjustment_moves_capital_only_when_approved(branch_a, branch_b, district_staff, second_staff):
    source = approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=200_000_000)
    target = approved_allocation(branch=branch_b, amount=50_000_000)
    adjustment = capital.adjustment_propose(source=source, target=target, amount=30_000_000,
                                            reason="Phường B có thêm hộ nghèo", actor=district_staff)
    assert adjustment.status == "proposed" and adjustment.decided_at is None
    with pytest.raises(DomainError, match="reason"):
        capital.adjustment_decide(adjustment=adjustment, approve=False, actor=second_staff)

    capital.adjustment_decide(adjustment=adjustment, approve=True, actor=second_staff)
    source.refresh_from_db()
    target.refresh_from_db()
    adjustment.refresh_from_db()
    assert (source.amount, target.amount) == (70_000_000, 80_000_000)
    assert (adjustment.status, adjustment.decided_by) == ("approved", second_staff)
    out = source.events.get(kind=AllocationEvent.Kind.ADJUSTED_OUT)
    assert (out.actor, out.note, out.at, out.adjustment) == (district_staff, "Phường B có thêm hộ nghèo",
                                                             adjustment.decided_at, adjustment)
    with pytest.raises(DomainError, match="already decided"):
        capital.adjustment_decide(adjustment=adjustment, approve=True, actor=second_staff)
    source.refresh_from_db()
    assert source.amount == 70_000_000


def test_a_rejected_adjustment_changes_nothing(branch_a, branch_b, district_staff, second_staff):
    source = approved_allocation(branch=branch_a, amount=100_000_000)
    target = approved_allocation(branch=branch_b, amount=50_000_000)
    adjustment = capital.adjustment_propose(source=source, target=target, amount=30_000_000, reason="Điều chuyển",
                                            actor=district_staff)
    capital.adjustment_decide(adjustment=adjustment, approve=False, reason="Phường A còn danh sách chờ",
                              actor=second_staff)
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decision_reason) == ("rejected", "Phường A còn danh sách chờ")
    assert [a.amount for a in CapitalAllocation.objects.order_by("pk")] == [100_000_000, 50_000_000]
    assert not AllocationEvent.objects.filter(adjustment=adjustment).exists()


def test_an_adjustment_is_checked_again_when_decided(branch_a, branch_b, district_staff, second_staff):
    source = approved_allocation(branch=branch_a, amount=100_000_000)
    target = approved_allocation(branch=branch_b, amount=50_000_000)
    adjustment = capital.adjustment_propose(source=source, target=target, amount=30_000_000, reason="Điều chuyển",
                                            actor=district_staff)
    # Requests approved since then hold most of ward A's capital.
    CapitalAllocation.objects.filter(pk=source.pk).update(amount_committed=90_000_000)
    with pytest.raises(DomainError, match="Only 10.000.000 ₫"):
        capital.adjustment_decide(adjustment=adjustment, approve=True, actor=second_staff)
    adjustment.refresh_from_db()
    assert adjustment.status == "proposed"
    assert [a.amount for a in CapitalAllocation.objects.order_by("pk")] == [100_000_000, 50_000_000]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Row locks race only on PostgreSQL; SQLite's "
                    "immediate transactions are tested in test_sqlite_concurrency.py")
@pytest.mark.django_db(transaction=True)
def test_two_checkers_at_once_decide_an_adjustment_once(branch_a, branch_b, district_staff, women_district):
    source = approved_allocation(branch=branch_a, amount=100_000_000)
    target = approved_allocation(branch=branch_b, amount=50_000_000)
    adjustment = capital.adjustment_propose(source=source, target=target, amount=30_000_000, reason="Điều chuyển",
                                            actor=district_staff)
    checkers = [officer(f"checker{i}", women_district, OfficerProfile.Role.DISTRICT_STAFF) for i in (1, 2)]
    barrier, outcomes = threading.Barrier(2), []

    def decide(actor):
        try:
            barrier.wait(timeout=10)
            with translation.override("en"):  # a thread starts in the default language
                capital.adjustment_decide(adjustment=adjustment, approve=True, actor=actor)
            outcomes.append("approved")
        except DomainError as error:
            outcomes.append(str(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=(actor,)) for actor in checkers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["This proposal is already decided.", "approved"]
    assert [a.amount for a in CapitalAllocation.objects.order_by("pk")] == [70_000_000, 80_000_000]
    assert AllocationEvent.objects.filter(adjustment=adjustment).count() == 2


# --- Pages ----------------------------------------------------------------------------------------------------------


def login(user):
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the pages in English, to read the rules' own words
    return client


def test_the_checker_decides_from_the_pending_page(branch_a, branch_b, district_staff, second_staff, ward_officer_a,
                                                   women_district, django_assert_max_num_queries):
    source = approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=200_000_000)
    target = approved_allocation(branch=branch_b, amount=50_000_000)
    maker = login(district_staff)
    response = maker.post(reverse("loans:plan_set"), {"organization": women_district.pk, "program": program("01").pk,
                                                      "year": 2026, "amount": "250.000.000"})
    assert response.status_code == 302 and response.url == reverse("loans:capital_pending")
    response = maker.post(reverse("loans:allocation_adjust"), {"source": source.pk, "target": target.pk,
                                                               "amount": "20.000.000", "reason": "Điều chuyển"})
    assert response.status_code == 302
    change, adjustment = CapitalPlanChange.objects.get(), CapitalAdjustment.objects.get()
    assert CapitalPlan.objects.get().amount == 200_000_000

    # The proposer's page shows both as waiting, without buttons for them.
    page = maker.get(reverse("loans:capital_pending"))
    content = page.content.decode()
    assert "250.000.000" in content and "Điều chuyển" in content
    assert reverse("loans:plan_change_decide", args=[change.pk]) not in content
    assert f"another officer at {area_label()} decides it" in content
    # The allocation list, the plan form, the adjust form and the allocation page show them too.
    for url in (reverse("loans:allocation_list") + "?year=2026", reverse("loans:plan_set"),
                reverse("loans:allocation_adjust"), reverse("loans:allocation_detail", args=[source.pk])):
        assert 'data-testid="pending-capital"' in maker.get(url).content.decode(), url
    ward_page = login(ward_officer_a).get(reverse("loans:allocation_list") + "?year=2026").content.decode()
    assert "Waiting for a second person" in ward_page and "250.000.000" in ward_page

    checker = login(second_staff)
    with django_assert_max_num_queries(15):  # +3 for the menu's inbox count
        page = checker.get(reverse("loans:capital_pending"))
    content = page.content.decode()
    assert reverse("loans:plan_change_decide", args=[change.pk]) in content
    assert reverse("loans:adjustment_decide", args=[adjustment.pk]) in content

    response = checker.post(reverse("loans:plan_change_decide", args=[change.pk]), {"decision": "approve"})
    assert response.status_code == 302
    response = checker.post(reverse("loans:adjustment_decide", args=[adjustment.pk]),
                            {"decision": "reject", "reason": ""}, follow=True)
    assert "Give a reason." in response.content.decode()
    checker.post(reverse("loans:adjustment_decide", args=[adjustment.pk]),
                 {"decision": "reject", "reason": "Chưa đủ căn cứ"})
    assert CapitalPlan.objects.get().amount == 250_000_000
    adjustment.refresh_from_db()
    assert adjustment.status == "rejected"
    recent = checker.get(reverse("loans:capital_pending"))
    assert recent.context["pending_changes"] == [] and recent.context["pending_adjustments"] == []
    assert "Chưa đủ căn cứ" in recent.content.decode()


def test_the_proposer_is_refused_on_the_page_too(women_district, district_staff):
    change = propose_total(women_district, 500_000_000, district_staff)
    response = login(district_staff).post(reverse("loans:plan_change_decide", args=[change.pk]),
                                          {"decision": "approve"}, follow=True)
    assert "someone else must decide" in response.content.decode()
    assert not CapitalPlan.objects.exists()


def test_pending_page_permissions(branch_a, branch_b, district_staff, ward_officer_a, farmers_district_staff,
                                  women_district, front_supervisor):
    source = approved_allocation(branch=branch_a, amount=100_000_000)
    change = propose_total(women_district, 500_000_000, district_staff, code="03")
    adjustment = capital.adjustment_propose(source=source, amount=1_000_000, reason="Thu hồi", actor=district_staff)
    pending = reverse("loans:capital_pending")
    decide_change = reverse("loans:plan_change_decide", args=[change.pk])
    decide_adjustment = reverse("loans:adjustment_decide", args=[adjustment.pk])
    assert login(ward_officer_a).get(pending).status_code == 403
    assert login(front_supervisor).get(pending).status_code == 403
    assert login(district_staff).post(pending).status_code == 405
    assert login(district_staff).get(decide_change).status_code == 405
    assert login(district_staff).get(decide_adjustment).status_code == 405
    for url in (decide_change, decide_adjustment):
        assert login(ward_officer_a).post(url, {"decision": "approve"}).status_code == 403
        # Another organization's district staff do not see the proposal at all.
        assert login(farmers_district_staff).post(url, {"decision": "approve"}).status_code == 404
    outsider = login(farmers_district_staff).get(pending)
    assert outsider.context["pending_changes"] == [] and outsider.context["pending_adjustments"] == []
    change.refresh_from_db()
    adjustment.refresh_from_db()
    assert change.status == adjustment.status == "proposed"

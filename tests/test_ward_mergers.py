"""Ward mergers: wards A and B form a new ward on 01/07/2026. History before the date shows the old wards, after it
the new one; totals are the same either way; officers follow their branch; nothing is deleted; refusals are clear."""

import io
from datetime import date

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from borrowers.models import Household
from loans.ledger.balances import refresh_household_savings
from loans.ledger.snapshots import snapshots_rebuild
from loans.models import AllocationEvent, CapitalAllocation, CollectionSheet, Loan, Posting
from loans.reports import selectors as report_selectors
from loans.reports.selectors import portfolio_report
from organizations.errors import DomainError
from organizations.models import (
    AuditEvent,
    GroupTransfer,
    OfficerProfile,
    Organization,
    SavingsGroup,
    Ward,
    WardMerger,
)
from organizations.policy import SYSTEM
from organizations.selectors.scope import groups_for
from organizations.services.mergers import merger_plan, wards_merge
from tests.factories import (
    BranchFactory,
    HouseholdFactory,
    LoanFactory,
    SavingsGroupFactory,
    approved_allocation,
    officer,
)

TODAY = date(2026, 11, 20)
MERGED_ON = date(2026, 7, 1)


@pytest.fixture(autouse=True)
def frozen_today():
    # The refusals are read in English.
    with time_machine.travel(TODAY, tick=False), translation.override("en"):
        yield


@pytest.fixture
def district(household_a, household_b, ward_c, women_district, front_supervisor):
    """Loans in wards A, B and C; an allocation in A and B; C stays out of the merger."""
    branch_c = BranchFactory(ward=ward_c, kind=Organization.Kind.WOMEN, parent=women_district)
    group_c = SavingsGroupFactory(branch=branch_c, code="8100003", name="Tổ C1")
    household_c = HouseholdFactory(group=group_c, head_name="Lê Văn Cường")
    loans = [
        LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2026, 1, 10)),
        LoanFactory(household=household_b, amount=20_000_000, disbursed_on=date(2026, 2, 10)),
        LoanFactory(household=household_c, amount=10_000_000, disbursed_on=date(2026, 3, 10)),
        LoanFactory(household=household_b, amount=5_000_000, disbursed_on=date(2026, 9, 10)),
    ]
    Posting.objects.create(kind="savings_in", household=household_b, amount=300_000, on=date(2026, 4, 3))
    refresh_household_savings([household_b.pk])
    branch_a, branch_b = household_a.branch, household_b.branch
    for branch, amount in ((branch_a, 40_000_000), (branch_b, 30_000_000)):
        allocation = approved_allocation(branch=branch, amount=amount, year=2026, plan_amount=100_000_000)
        CapitalAllocation.objects.filter(pk=allocation.pk).update(amount_committed=amount // 2)
    officer_c = officer("ward_c", branch_c, OfficerProfile.Role.WARD_OFFICER)
    return {"loans": loans, "branch_c": branch_c, "group_c": group_c, "officer_c": officer_c}


def merge(ward_a, ward_b, **overrides):
    arguments = {"sources": [ward_a, ward_b], "code": ward_a.code, "name": "Phường Mới", "merged_on": MERGED_ON,
                 "decision": "1685/NQ-UBTVQH15", "actor": SYSTEM, **overrides}
    return wards_merge(**arguments)


def by_ward(user, on, **options):
    return {row["ward"]: row["outstanding"] for row in portfolio_report(user=user, on=on, by=("ward",), **options)}


def test_the_merger_moves_everything_and_deletes_nothing(
    district, ward_a, ward_b, ward_c, group_a, group_b, household_a, ward_officer_a, ward_officer_b, admin_user
):
    counts = {model: model.objects.count() for model in (Ward, Organization, SavingsGroup, Household, Loan, Posting)}
    codes = sorted(SavingsGroup.objects.values_list("code", flat=True)), sorted(Loan.objects.values_list("number",
                                                                                                       flat=True))
    merger = merge(ward_a, ward_b, actor=admin_user)
    new = merger.ward
    assert (new.code, new.name, new.is_active) == (ward_a.code, "Phường Mới", True)
    for old in (ward_a, ward_b):
        old.refresh_from_db()
        assert (old.merged_into, old.merged_on) == (new, MERGED_ON)
    ward_c.refresh_from_db()
    assert ward_c.is_active
    # One Women's Union branch in the new ward; the two old ones stay as history.
    branch = Organization.objects.get(ward=new, kind=Organization.Kind.WOMEN)
    assert set(Organization.objects.filter(merged_into=branch).values_list("ward", flat=True)) == {ward_a.pk,
                                                                                                   ward_b.pk}
    for group in (group_a, group_b):
        group.refresh_from_db()
        assert group.branch == branch
    assert GroupTransfer.objects.filter(merger=merger).count() == 2
    household_a.refresh_from_db()
    assert (household_a.ward, household_a.branch) == (new, branch)
    officers = OfficerProfile.objects.filter(user__in=[ward_officer_a, ward_officer_b])
    assert set(officers.values_list("organization", flat=True)) == {branch.pk}
    # The bank's codes stay; only the new ward and its branch were added.
    assert (sorted(SavingsGroup.objects.values_list("code", flat=True)),
            sorted(Loan.objects.values_list("number", flat=True))) == codes
    assert Ward.objects.count() == counts[Ward] + 1 and Organization.objects.count() == counts[Organization] + 1
    for model in (SavingsGroup, Household, Loan, Posting):
        assert model.objects.count() == counts[model]
    # The capital: one allocation holding the sum, the old ones at zero with the reason in their history.
    allocation = CapitalAllocation.objects.get(branch=branch)
    assert (allocation.amount, allocation.amount_committed) == (70_000_000, 35_000_000)
    assert CapitalAllocation.objects.filter(branch__merged_into=branch, amount=0).count() == 2
    assert AllocationEvent.objects.filter(kind=AllocationEvent.Kind.MERGED_OUT).count() == 2
    # Recorded in the audit trail.
    assert AuditEvent.objects.filter(content_type__model="wardmerger", object_id=str(merger.pk)).exists()
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert "error" not in out.getvalue().lower()


@pytest.mark.parametrize("snapshots", [False, True], ids=["ledger", "snapshots"])
def test_reports_show_the_wards_of_the_date_and_the_same_totals(
    district, ward_a, ward_b, ward_c, front_supervisor, monkeypatch, snapshots
):
    merger = merge(ward_a, ward_b)
    if snapshots:
        snapshots_rebuild(since=date(2026, 1, 1))
    else:
        monkeypatch.setattr(report_selectors, "snapshot_month_end", lambda on: None)
    before, after = date(2026, 6, 30), date(2026, 7, 1)
    assert by_ward(front_supervisor, before) == {ward_a.pk: 30_000_000, ward_b.pk: 20_000_000,
                                                 ward_c.pk: 10_000_000}
    assert by_ward(front_supervisor, before, today_wards=True) == {merger.ward.pk: 50_000_000, ward_c.pk: 10_000_000}
    assert by_ward(front_supervisor, after) == {merger.ward.pk: 50_000_000, ward_c.pk: 10_000_000}
    assert by_ward(front_supervisor, TODAY) == {merger.ward.pk: 55_000_000, ward_c.pk: 10_000_000}
    for on in (date(2026, 3, 31), before, after, date(2026, 10, 15)):
        total = portfolio_report(user=front_supervisor, on=on)[0]
        for options in ({}, {"today_wards": True}):
            rows = portfolio_report(user=front_supervisor, on=on, by=("ward",), **options)
            for name in ("outstanding", "loans", "households", "savings", "groups", "lent_year"):
                assert sum(row[name] for row in rows) == total[name], (on, options, name)
    # A ward filter for a date before the merger takes the groups that were in that ward then.
    only_b = portfolio_report(user=front_supervisor, on=before, ward=ward_b.pk)[0]
    assert (only_b["outstanding"], only_b["savings"]) == (20_000_000, 300_000)


def test_the_dashboard_lists_the_old_wards_before_and_the_new_one_after(
    district, ward_a, ward_b, ward_c, front_supervisor, client_for
):
    merger = merge(ward_a, ward_b)
    client = client_for(front_supervisor)
    before = client.get(reverse("organizations:home"), {"on": "30/06/2026"})
    assert [row["ward_obj"] for row in before.context["by_ward"]] == [ward_a, ward_b, ward_c]
    assert before.context["form"].offers_today_wards
    mapped = client.get(reverse("organizations:home"), {"on": "30/06/2026", "today_wards": "on"})
    assert [row["ward_obj"] for row in mapped.context["by_ward"]] == [ward_c, merger.ward] or [
        row["ward_obj"] for row in mapped.context["by_ward"]] == [merger.ward, ward_c]
    assert mapped.context["totals"]["outstanding"] == before.context["totals"]["outstanding"] == 60_000_000
    today = client.get(reverse("organizations:home"))
    assert {row["ward_obj"] for row in today.context["by_ward"]} == {merger.ward, ward_c}
    assert not today.context["form"].offers_today_wards
    report = client.get(reverse("loans:report", args=["bctd_01_1"]), {"on": "30/06/2026"})
    assert report.status_code == 200


def test_officers_of_the_merged_wards_see_its_whole_history_and_others_see_nothing(
    district, ward_a, ward_b, group_a, group_b, ward_officer_a, client_for
):
    merge(ward_a, ward_b)
    ward_officer_a = type(ward_officer_a).objects.get(pk=ward_officer_a.pk)
    assert set(groups_for(ward_officer_a)) == {group_a, group_b}
    assert portfolio_report(user=ward_officer_a, on=date(2026, 6, 30))[0]["outstanding"] == 50_000_000
    officer_c = district["officer_c"]
    assert set(groups_for(officer_c)) == {district["group_c"]}
    assert portfolio_report(user=officer_c, on=date(2026, 6, 30))[0]["outstanding"] == 10_000_000
    page = client_for(officer_c).get(reverse("organizations:group_detail", args=[group_b.pk]))
    assert page.status_code == 404
    # The group's page tells its officer where it was before.
    page = client_for(ward_officer_a).get(reverse("organizations:group_detail", args=[group_b.pk]))
    assert "Phường B" in page.content.decode() and 'data-testid="group-transfer"' in page.content.decode()


def test_a_merger_that_cannot_apply_is_refused_with_its_reasons(district, ward_a, ward_b, ward_c, group_a, ward_officer_a):
    future = merger_plan(sources=[ward_a, ward_b], code="900009", name="X", merged_on=date(2026, 12, 1))
    assert not future.can_apply and "still to come" in " ".join(map(str, future.problems))
    taken = merger_plan(sources=[ward_a, ward_b], code=ward_c.code, name="X", merged_on=MERGED_ON)
    assert "stays in being" in " ".join(map(str, taken.problems))
    CollectionSheet.objects.create(group=group_a, collection_on=date(2026, 11, 19), created_by=ward_officer_a)
    with pytest.raises(DomainError, match="half entered"):
        merge(ward_a, ward_b)
    assert not WardMerger.objects.exists() and Ward.objects.filter(merged_on__isnull=False).count() == 0
    CollectionSheet.objects.all().delete()
    merge(ward_a, ward_b)
    ward_a.refresh_from_db()
    with pytest.raises(DomainError, match="already merged"):
        merge(ward_a, ward_c, code="900010")


def test_an_import_with_an_old_ward_code_goes_to_its_successor_with_a_note(
    ward_a, ward_b, group_b, branch_a, admin_user, client_for
):
    from loans.bankfiles.importing import import_confirm, import_upload
    from loans.models import ImportBatch
    from tests.test_bank_import import ledger_ok, loan_row, loans_file

    merger = merge(ward_a, ward_b, code="900009")
    # The bank still writes ward B's old code, for group B (now in the new ward) and for a group new to the app.
    rows = [loan_row(1, ward=ward_b.code, group=group_b.code), loan_row(2, ward=ward_b.code, group="8100077")]
    batch = import_upload(kind="loans", file_name="bank.xlsx", content=loans_file(rows), actor=admin_user)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    assert len(batch.summary["notes"]) == 1
    assert ward_b.code in batch.summary["notes"][0] and "Phường Mới" in batch.summary["notes"][0]
    page = client_for(admin_user).get(reverse("loans:bank_import_detail", args=[batch.pk]))
    assert "Phường Mới" in page.content.decode() and 'data-testid="import-notes"' in page.content.decode()
    import_confirm(batch=batch, actor=admin_user)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert set(Loan.objects.values_list("group__branch__ward", flat=True)) == {merger.ward.pk}
    assert SavingsGroup.objects.get(code="8100077").branch.ward == merger.ward
    assert ledger_ok()


def nothing_merged(wards):
    """No merger was recorded and no ward was formed or left being."""
    return not WardMerger.objects.exists() and Ward.objects.count() == wards and not Ward.objects.filter(
        merged_on__isnull=False).exists()


def test_a_ward_cannot_be_merged_into_itself(district, ward_a, ward_b):
    wards = Ward.objects.count()
    for name in (ward_a.name, "Phường Mới"):
        plan = merger_plan(sources=[ward_a], code=ward_a.code, name=name, merged_on=MERGED_ON)
        assert not plan.can_apply
        assert "Phường A cannot be merged into itself" in " ".join(map(str, plan.problems))
    with pytest.raises(DomainError, match="cannot be merged into itself"):
        wards_merge(sources=[ward_a], code=ward_a.code, name=ward_a.name, merged_on=MERGED_ON, actor=SYSTEM)
    assert nothing_merged(wards)
    # Listed twice, it is still one ward: refused for both reasons.
    with pytest.raises(DomainError, match="cannot be merged into itself") as refused:
        wards_merge(sources=[ward_a, ward_a], code=ward_a.code, name="Phường Mới", merged_on=MERGED_ON,
                    actor=SYSTEM)
    assert "listed more than once" in str(refused.value)
    assert nothing_merged(wards)
    # Taking over a source's code is what a merger of two or more wards does, and one ward may get a new code.
    assert merger_plan(sources=[ward_a, ward_b], code=ward_a.code, name="X", merged_on=MERGED_ON).can_apply
    assert merger_plan(sources=[ward_a], code="900009", name="X", merged_on=MERGED_ON).can_apply


def test_the_ward_formed_by_a_merger_cannot_be_merged_into_itself_again(district, ward_a, ward_b):
    new = merge(ward_a, ward_b).ward
    wards = Ward.objects.count()
    with pytest.raises(DomainError, match="Phường Mới cannot be merged into itself"):
        wards_merge(sources=[new], code=new.code, name=new.name, merged_on=date(2026, 8, 1), actor=SYSTEM)
    new.refresh_from_db()
    assert new.is_active and WardMerger.objects.count() == 1 and Ward.objects.count() == wards


def test_a_ward_listed_twice_is_refused(district, ward_a, ward_b):
    wards = Ward.objects.count()
    plan = merger_plan(sources=[ward_a, ward_b, ward_a], code="900009", name="X", merged_on=MERGED_ON)
    problems = [str(problem) for problem in plan.problems]
    assert problems == ["Phường A is listed more than once among the wards that merge."]
    with pytest.raises(DomainError, match="Phường A is listed more than once"):
        merge(ward_a, ward_b, sources=[ward_a, ward_b, ward_a])
    assert nothing_merged(wards)


def test_the_new_ward_cannot_take_the_code_of_a_ward_merged_into_another_one(district, ward_a, ward_b, ward_c):
    from tests.factories import WardFactory

    ward_d = WardFactory(area=ward_a.area, code="900004", name="Phường D")
    new = merge(ward_a, ward_b, code="900009").ward
    wards = Ward.objects.count()
    reason = ("The code 900002 was the code of Phường B, now part of Phường Mới, which is not in this merger: give the "
              "new ward another code.")
    plan = merger_plan(sources=[ward_c, ward_d], code=ward_b.code, name="Phường Khác", merged_on=date(2026, 8, 1))
    assert [str(problem) for problem in plan.problems] == [reason]
    with pytest.raises(DomainError, match="now part of Phường Mới"):
        merge(ward_c, ward_d, code=ward_b.code, merged_on=date(2026, 8, 1))
    assert WardMerger.objects.count() == 1 and Ward.objects.count() == wards
    # The ward that Phường B lives on in may hand its old code on to the ward it forms.
    assert merger_plan(sources=[new, ward_c], code=ward_b.code, name="X", merged_on=date(2026, 8, 1)).can_apply


def test_the_command_refuses_a_ward_merged_into_itself_listed_twice_or_already_merged(ward_a, ward_b, ward_c, group_a):
    from django.core.management import CommandError

    def command(*codes, into):
        with pytest.raises(CommandError) as refused:
            call_command("merge_wards", "--into-code", into, "--name", "Phường Mới", "--on", "2026-07-01", *codes,
                         stdout=io.StringIO())
        return str(refused.value)

    wards = Ward.objects.count()
    assert "Phường A cannot be merged into itself" in command(ward_a.code, into=ward_a.code)
    assert "Phường A is listed more than once" in command(ward_a.code, ward_b.code, ward_a.code, into="900009")
    assert nothing_merged(wards)
    merge(ward_a, ward_b, code="900009")
    assert "Phường A was already merged into Phường Mới on 01/07/2026" in command(ward_a.code, ward_c.code,
                                                                                 into="900010")
    assert WardMerger.objects.count() == 1 and not Ward.objects.filter(code="900010").exists()


def test_the_page_refuses_a_ward_merged_into_itself(ward_a, group_a, admin_user, client_for):
    from django.conf import settings

    client = client_for(admin_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page in English, to read the rule's own words
    wards = Ward.objects.count()
    data = {"sources": [ward_a.pk], "code": ward_a.code, "name": ward_a.name, "merged_on": "01/07/2026"}
    reason = "Phường A cannot be merged into itself"
    preview = client.post(reverse("organizations:ward_merge"), data)
    html = preview.content.decode()
    assert preview.status_code == 200 and not preview.context["plan"].can_apply
    assert 'data-testid="merger-problems"' in html and reason in html and 'data-testid="merger-confirm"' not in html
    forced = client.post(reverse("organizations:ward_merge"), {**data, "confirm": "1", "checked": "1"})
    assert forced.status_code == 200 and reason in forced.content.decode()
    assert nothing_merged(wards)


def test_every_move_of_a_merger_is_in_the_audit_trail_under_its_note(
    district, ward_a, ward_b, ward_c, group_a, group_b, household_a, household_b, ward_officer_a, ward_officer_b,
    admin_user,
):
    from organizations.models import Neighbourhood

    streets = [Neighbourhood.objects.create(ward=ward, code=code, name=f"Tổ dân phố {code[-1]}")
               for ward, code in ((ward_a, "10000001"), (ward_b, "10000002"))]
    left_out = Neighbourhood.objects.create(ward=ward_c, code="10000003", name="Tổ dân phố 3")
    old_branches = {household_a.branch_id, household_b.branch_id}
    merger = merge(ward_a, ward_b, actor=admin_user)

    (ward_event,) = AuditEvent.objects.filter(content_type__model="ward", action="bulk_update")
    note = ward_event.changes["note"]
    assert "1685/NQ-UBTVQH15" in note and "Phường Mới" in note
    moves = AuditEvent.objects.filter(action="bulk_update", changes__note=note)
    moved = {event.content_type.model: set(event.changes["ids"]) for event in moves}
    assert moved == {
        "ward": {ward_a.pk, ward_b.pk},
        "organization": old_branches,
        "officerprofile": set(OfficerProfile.objects.filter(user__in=[ward_officer_a, ward_officer_b])
                              .values_list("pk", flat=True)),
        "neighbourhood": {street.pk for street in streets},
        "savingsgroup": {group_a.pk, group_b.pk},
        "household": {household_a.pk, household_b.pk},
    }
    assert {event.actor for event in moves} == {admin_user}
    # Ward C's records stayed where they were and are not in the merger's trail.
    assert left_out.pk not in moved["neighbourhood"] and district["group_c"].pk not in moved["savingsgroup"]
    assert set(Organization.objects.filter(merged_into__ward=merger.ward).values_list("pk", flat=True)) == old_branches

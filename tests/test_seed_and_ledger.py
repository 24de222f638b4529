"""seed_demo builds the seed district's exact figures; summary and check_ledger read them from the ledger."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from borrowers.models import Household
from loans.models import Loan, Posting
from organizations.models import Organization, SavingsGroup

SEED = {
    "12": {"outstanding": 43_479_000_000, "households": 1_430},
    "13": {"outstanding": 44_519_000_000, "households": 1_329},
    "11": {"outstanding": 37_371_000_000, "households": 1_162},
    "14": {"outstanding": 30_178_000_000, "households": 987},
}


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_totals_summary_and_ledger_check(capsys):
    call_command("seed_demo")
    capsys.readouterr()

    call_command("summary", "--json")
    summary = json.loads(capsys.readouterr().out)
    # Outstanding and borrowing households are exactly DOMAIN.md's; within them a few missed instalments are overdue.
    assert {code: {k: v for k, v in row.items() if k != "overdue"} for code, row in summary.items()} == SEED
    for row in summary.values():
        assert 0 < row["overdue"] < row["outstanding"] * 0.01

    # Five organizations in the 11 wards of 2019, kept as history, and in the 5 wards formed on 01/07/2025.
    assert Organization.objects.filter(level="ward").count() == 5 * 11 + 5 * 5
    assert Organization.objects.filter(level="ward", merged_into__isnull=False).count() == 5 * 11
    demo_lives_through_the_merger()
    sizes = [g.memberships.count() for g in SavingsGroup.objects.prefetch_related("memberships")]
    assert min(sizes) >= 5 and max(sizes) <= 60
    assert Loan.objects.values("program__code").distinct().count() >= 4

    call_command("check_ledger")
    assert "passed" in capsys.readouterr().out
    demo_exercises_the_product()

    # A second run keeps the data as it is.
    households = Household.objects.count()
    call_command("seed_demo")
    assert Household.objects.count() == households

    # Tampering with one posting behind the ledger's back is caught.
    posting = Posting.objects.filter(kind=Posting.Kind.DISBURSEMENT).first()
    Posting.objects.filter(pk=posting.pk).update(amount=posting.amount + 1000)
    with pytest.raises(CommandError, match="1 loan"):
        call_command("check_ledger")
    assert posting.loan.number in capsys.readouterr().out


def demo_lives_through_the_merger():
    """The Front's dashboard shows the 11 wards on 30/06/2025 and the 5 wards today, with the same totals; the demo
    officers work in the wards their old ones joined."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from organizations.models import Ward

    client = Client()
    client.force_login(get_user_model().objects.get(username="front"))
    before = client.get("/", {"on": "30/06/2025"}).context
    today = client.get("/").context
    assert len({row["ward_obj"].code for row in before["by_ward"]}) == 11
    assert {row["ward_obj"].name for row in today["by_ward"]} == {
        "Thới An", "An Phú Đông", "Đông Hưng Thuận", "Trung Mỹ Tây", "Tân Thới Hiệp"}
    mapped = client.get("/", {"on": "30/06/2025", "today_wards": "on"}).context
    assert len(mapped["by_ward"]) == 5 and mapped["totals"]["outstanding"] == before["totals"]["outstanding"]
    assert Ward.objects.get(code="026764").merged_into.name == "Thới An"
    officers = {user.username: user.officer.organization.ward.name
                for user in get_user_model().objects.filter(username__in=["ward", "ward2"])}
    assert officers == {"ward": "Thới An", "ward2": "An Phú Đông"}


def demo_exercises_the_product():
    """The demo data shows what the reports are for: overdue, frozen, arrears, write-offs, posted collection days."""
    from django.contrib.auth import get_user_model
    from django.db.models import Sum
    from django.test import Client
    from django.utils import timezone

    from loans.models import CollectionItem, CollectionSheet, LoanChange
    from loans.reports.selectors import portfolio_report

    loans = Loan.objects.count()
    overdue = Loan.objects.filter(overdue_principal__gt=0).count()
    assert 0.01 * loans <= overdue <= 0.02 * loans
    assert Loan.objects.filter(status=Loan.Status.FROZEN).count() >= 4
    assert 1 <= Loan.objects.filter(status=Loan.Status.WRITTEN_OFF).count() <= 2
    assert Loan.objects.filter(interest_arrears__gt=0).count() >= 20
    assert LoanChange.objects.filter(kind=LoanChange.Kind.FREEZE, status=LoanChange.Status.APPROVED).exists()
    # Collection days were posted by the services: 130 % interest on the missed instalments, none on frozen loans.
    assert CollectionSheet.objects.filter(status=CollectionSheet.Status.POSTED).count() >= SavingsGroup.objects.count()
    assert CollectionItem.objects.filter(overdue_interest_accrued__gt=0).exists()
    assert Posting.objects.filter(kind=Posting.Kind.INTEREST, collection_lines__isnull=False).exists()
    admin = get_user_model().objects.get(username="admin")
    totals = portfolio_report(user=admin, on=timezone.localdate())[0]
    assert totals["overdue"] > 0 and totals["frozen"] > 0 and totals["interest_arrears"] > 0
    assert totals["overdue"] == Loan.objects.aggregate(total=Sum("overdue_principal"))["total"]
    assert totals["interest_arrears"] == Loan.objects.aggregate(total=Sum("interest_arrears"))["total"]
    client = Client()
    client.force_login(admin)
    assert client.get("/").status_code == 200


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_seed_demo_refuses_without_debug():
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert not Organization.objects.exists()


@pytest.mark.django_db
def test_summary_as_of_a_date_only_counts_earlier_postings(household_a, capsys):
    from datetime import date

    from tests.factories import LoanFactory

    LoanFactory(household=household_a, amount=20_000_000, disbursed_on=date(2026, 3, 1))
    call_command("summary", "--json", "--date", "28/02/2026")
    assert json.loads(capsys.readouterr().out) == {}
    call_command("summary", "--json", "--date", "01/03/2026")
    assert json.loads(capsys.readouterr().out) == {"12": {"outstanding": 20_000_000, "overdue": 0, "households": 1}}
    with pytest.raises(CommandError, match="dd/mm/yyyy"):
        call_command("summary", "--date", "2026-03-01")

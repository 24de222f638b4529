"""`seed_province`: a province built with set-based SQL (loans/province.py), here at a tiny size.

PostgreSQL only (the builder is PostgreSQL's generate_series and INSERT … SELECT); on SQLite the command refuses.
"""

import io
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from loans.models import DayClose, Loan, Posting, RepaymentInstalment
from loans.province import Province, build_province
from loans.services.overdue import overdue_close_day
from organizations.models import Organization, SavingsGroup, Ward

pytestmark = [pytest.mark.today("2026-12-09"), pytest.mark.django_db]
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="seed_province builds with PostgreSQL's set-based SQL"
)
TODAY = date(2026, 12, 9)  # a Wednesday: the day before is a working day


def seed(**options):
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_province", stdout=out, **options)
    return out.getvalue()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="checks the refusal on SQLite")
def test_refuses_on_sqlite():
    with pytest.raises(CommandError, match="PostgreSQL"):
        seed(loans=10, wards=1)


@postgres_only
def test_builds_a_province_that_check_ledger_accepts_and_officers_can_browse(client):
    output = seed(loans=900, wards=3, no_snapshots=True)
    assert "Province built in" in output
    assert Ward.objects.count() == 3
    assert Organization.objects.filter(level="ward").count() == 3 * 5  # the Front and four organizations per ward
    assert SavingsGroup.objects.count() == Province(loans=900, wards=3).groups == 21  # about 43 loans a group
    member_branches = Organization.objects.filter(level="ward").exclude(kind=Organization.Kind.FRONT)
    assert not member_branches.filter(groups__isnull=True).exists()
    assert Loan.objects.count() == 900
    assert Posting.objects.filter(kind="disbursement").count() == 900
    assert RepaymentInstalment.objects.filter(overdue_since__isnull=False).exists()
    assert Loan.objects.filter(overdue_principal__gt=0).exists()
    assert DayClose.objects.filter(on=date(2026, 12, 8)).exists()
    call_command("check_ledger", stdout=io.StringIO())  # raises CommandError on any difference

    for username in ("front", "ward"):
        client.force_login(get_user_model().objects.get(username=username))
        assert client.get(reverse("organizations:home")).status_code == 200
        assert client.get(reverse("loans:report", args=["bctd_01_1"])).status_code == 200


@postgres_only
def test_every_reference_holds_and_the_overdue_rule_agrees():
    """Built with the foreign-key checks on (the command skips them while loading), then checked at once. The day
    close of the day before, which the province records as run, finds nothing more to mark; today's marks only what
    fell due on that working day."""
    build_province(Province(loans=600, wards=2, today=TODAY), log=lambda line: None, fast_load=False)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # raises if any reference is dangling
    DayClose.objects.all().delete()  # judge every instalment again, not only the recent ones
    assert overdue_close_day(on=date(2026, 12, 8))[0] == []
    marked, _refreshed = overdue_close_day(on=TODAY)
    assert all(row["effective_due_on"] == date(2026, 12, 8) for row in marked)
    assert overdue_close_day(on=TODAY)[0] == []  # a second run finds nothing
    call_command("check_ledger", stdout=io.StringIO())

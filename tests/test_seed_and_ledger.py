"""seed_demo refuses to run without DEBUG; summary reads the ledger as of a date. What seed_demo builds is checked in
tests/test_dashboard_reports.py, on the seed that module builds once."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from organizations.models import Organization


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

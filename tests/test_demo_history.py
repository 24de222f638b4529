"""The demo's two years before its opening balances (loans/demo_history.py): past dates read figures a supervisor
would believe, under the wards of their day, while today's figures stay DOMAIN.md's.

The other modules' demo is seeded without this history (tests/conftest.py sets DEMO_HISTORY off); this module seeds
it once, with the history, and shares it (seeding takes a minute or two)."""

import io
import json
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from loans.interest import StatusHistory, loan_period_interest
from loans.models import Loan, Posting, RepaymentInstalment
from loans.reports.selectors import portfolio_report, portfolio_trend
from organizations.models import Ward
from tests import databases
from tests.conftest import DEMO_TODAY

pytestmark = pytest.mark.today(DEMO_TODAY)

#: DOMAIN.md's seed figures: outstanding and borrowing households per organization code.
SEED = {"12": (43_479_000_000, 1_430), "13": (44_519_000_000, 1_329), "11": (37_371_000_000, 1_162),
        "14": (30_178_000_000, 987)}
#: Before the merger, 20 months back, and the last year end.
PAST = [date(2025, 6, 30), date(2025, 3, 31), date(2025, 12, 31)]


@pytest.fixture(scope="module")
def demo_with_history(django_db_setup, django_db_blocker):
    import time_machine
    from django.test import override_settings

    def seed():
        with time_machine.travel(DEMO_TODAY, tick=False), override_settings(DEBUG=True):
            call_command("seed_demo", "--history", stdout=io.StringIO())

    with django_db_blocker.unblock(), databases.database_copy(seed, name="demo-history"):
        yield


@pytest.fixture
def front(demo_with_history, db):
    return get_user_model().objects.get(username="front")


def test_todays_figures_stay_domains_and_the_ledger_checks(front, capsys):
    call_command("summary", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert {code: (row["outstanding"], row["households"]) for code, row in summary.items()} == SEED
    for row in summary.values():
        assert 0 < row["overdue"] < row["outstanding"] * 0.01
    call_command("check_ledger")
    assert "passed" in capsys.readouterr().out
    # The earlier loans were repaid in full before the opening day; nothing of them is outstanding now.
    earlier = Loan.objects.filter(status=Loan.Status.CLOSED, disbursed_on__lt=date(2024, 11, 20))
    assert earlier.count() > 4000
    assert not earlier.filter(principal_outstanding__gt=0).exists()


@pytest.mark.parametrize("on", PAST, ids=str)
def test_a_past_date_reads_a_believable_portfolio(front, client, on):
    total = portfolio_report(user=front, on=on)[0]
    # Comparable with today's 155 tỷ: the loans of that day, not only today's loans already lent then.
    assert 100_000_000_000 < total["outstanding"] < 170_000_000_000
    assert total["households"] > 4000
    assert 0 < total["overdue"] and total["overdue_ratio"] < 2
    assert total["savings"] > 500_000_000
    assert total["collected_month"] > 1_000_000_000  # the month's interest and principal
    trend = portfolio_trend(user=front, today=on)
    assert len(trend["days"]) == 13
    for index, day in enumerate(trend["days"][:-1]):
        outstanding = sum(series["outstanding"][index] for series in trend["series"])
        assert outstanding > 100_000_000_000, day
    # The dashboard of that date shows the same.
    client.force_login(front)
    response = client.get(reverse("organizations:home"), {"on": on.strftime("%d/%m/%Y")})
    assert response.status_code == 200
    assert response.context["totals"]["outstanding"] == total["outstanding"]
    assert all(row["outstanding"] > 0 for row in response.context["trend_rows"])


def test_before_the_merger_the_history_stands_under_the_eleven_wards(front):
    rows = portfolio_report(user=front, on=date(2025, 6, 30), by=("ward",))
    wards = Ward.objects.in_bulk([row["ward"] for row in rows])
    assert len(rows) == 11 and all(wards[row["ward"]].merged_on == date(2025, 7, 1) for row in rows)
    assert all(row["outstanding"] > 0 and row["savings"] > 0 and row["collected_month"] > 0 for row in rows)
    assert sum(1 for row in rows if row["overdue"] > 0) >= 6


def test_history_interest_follows_the_interest_rule(front):
    """The set-based interest of the history equals `loan_period_interest` for the same days, late instalments (at
    the overdue rate) included."""
    late = RepaymentInstalment.objects.filter(overdue_since__isnull=False, loan__status=Loan.Status.CLOSED)
    loans = list(Loan.objects.filter(pk__in=late.values("loan")[:6])) + list(
        Loan.objects.filter(status=Loan.Status.CLOSED).order_by("number")[:6]
    )
    checked = overdue_checked = 0
    for loan in loans:
        postings = list(loan.postings.order_by("on", "pk"))
        movements = [(p.on, p.amount, 0) if p.kind == Posting.Kind.DISBURSEMENT else (p.on, 0, p.amount)
                     for p in postings if p.kind in (Posting.Kind.DISBURSEMENT, Posting.Kind.PRINCIPAL)]
        marks, through = [], 0
        for row in loan.instalments.order_by("seq"):
            through += row.principal
            if row.overdue_since:
                marks.append((row.overdue_since, through))
        statuses = StatusHistory([(c.on, c.from_status, c.to_status) for c in loan.status_changes.all()], loan.status)
        collected = {}
        for p in postings:
            if p.kind in (Posting.Kind.INTEREST, Posting.Kind.OVERDUE_INTEREST):
                collected.setdefault(p.on, {})[p.kind] = p.amount
        days = sorted(collected)
        for start, end in zip(days, days[1:], strict=False):
            due = loan_period_interest(loan=loan, start=start, end=end, movements=movements, overdue_marks=marks,
                                       statuses=statuses)
            assert collected[end].get(Posting.Kind.INTEREST, 0) == due.current, (loan.number, end)
            assert collected[end].get(Posting.Kind.OVERDUE_INTEREST, 0) == due.overdue, (loan.number, end)
            checked += 1
            overdue_checked += due.overdue > 0
    assert checked > 50 and overdue_checked > 0

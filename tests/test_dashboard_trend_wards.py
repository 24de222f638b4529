"""The dashboard's 12-month trend under today's wards or under each month's: wards A and B, with loans since
December 2025, form a new "Phường A mới" on 01/07/2026; under each month's wards the months before the merger are
counted under A and B, the later ones under the new ward, and the totals are the same either way."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loans.ledger.snapshots import snapshots_rebuild
from loans.ledger.summaries import refresh_portfolio_summary
from loans.reports.selectors import portfolio_trend, ward_trend
from organizations.policy import SYSTEM
from organizations.services.mergers import wards_merge
from tests.factories import BranchFactory, HouseholdFactory, LoanFactory, SavingsGroupFactory, WardFactory

pytestmark = [pytest.mark.today("2026-11-20"), pytest.mark.usefixtures("english")]

TODAY = date(2026, 11, 20)
MERGED_ON = date(2026, 7, 1)
BEFORE, AFTER = date(2026, 5, 31), date(2026, 8, 31)


@pytest.fixture
def merged(household_a, household_b, front_supervisor):
    ward_a, ward_b = household_a.ward, household_b.ward
    LoanFactory(household=household_a, amount=30_000_000, disbursed_on=date(2025, 12, 10))
    LoanFactory(household=household_b, amount=20_000_000, disbursed_on=date(2026, 1, 5))
    merger = wards_merge(sources=[ward_a, ward_b], code="900009", name="Phường A mới", merged_on=MERGED_ON,
                         actor=SYSTEM)
    refresh_portfolio_summary(TODAY)
    snapshots_rebuild(since=date(2025, 1, 1))
    ward_a.refresh_from_db()
    ward_b.refresh_from_db()
    return {"new": merger.ward, "a": ward_a, "b": ward_b, "front": front_supervisor}


def outstanding(trend, ward, day):
    row = next((row for row in trend["rows"] if row["ward"] == ward.pk), None)
    if row is None:
        return None
    cell = row["points"][trend["days"].index(day)]
    return cell and cell["outstanding"]


def test_each_months_wards_put_the_months_before_the_merger_under_the_old_wards(merged):
    front = merged["front"]
    by_month = ward_trend(user=front, today=TODAY, current=[], per_month=True)
    assert outstanding(by_month, merged["a"], BEFORE) == 30_000_000
    assert outstanding(by_month, merged["b"], BEFORE) == 20_000_000
    assert outstanding(by_month, merged["new"], BEFORE) is None
    assert outstanding(by_month, merged["a"], AFTER) is None
    assert outstanding(by_month, merged["new"], AFTER) == 50_000_000


def test_todays_wards_put_every_month_under_the_new_ward(merged):
    today = ward_trend(user=merged["front"], today=TODAY, current=[], per_month=False)
    assert [row["ward"] for row in today["rows"]] == [merged["new"].pk]
    assert outstanding(today, merged["new"], BEFORE) == outstanding(today, merged["new"], AFTER) == 50_000_000


def test_the_totals_are_the_same_under_either_wards(merged):
    front = merged["front"]
    for day_index in range(12):
        totals = [
            sum(series["outstanding"][day_index]
                for series in portfolio_trend(user=front, today=TODAY, per_month=per_month)["series"])
            for per_month in (False, True)
        ]
        assert totals[0] == totals[1]
    assert totals[0] == 50_000_000


def test_a_ward_filter_takes_the_groups_in_that_ward_each_month(merged):
    front, new = merged["front"], merged["new"]
    days = portfolio_trend(user=front, today=TODAY, ward=new.pk)["days"]
    today_wards = portfolio_trend(user=front, today=TODAY, ward=new.pk)["series"]
    each_month = portfolio_trend(user=front, today=TODAY, ward=new.pk, per_month=True)["series"]
    before = days.index(BEFORE)
    assert sum(series["outstanding"][before] for series in today_wards) == 50_000_000
    assert sum(series["outstanding"][before] for series in each_month) == 0
    old_a = portfolio_trend(user=front, today=TODAY, ward=merged["a"].pk, per_month=True)["series"]
    assert sum(series["outstanding"][before] for series in old_a) == 30_000_000
    assert sum(series["outstanding"][days.index(AFTER)] for series in old_a) == 0


def test_the_dashboard_toggle_is_two_links_and_shows_the_old_wards_by_month(merged, client):
    client.force_login(merged["front"])
    page = client.get(reverse("organizations:home"))
    assert page.context["trend_wards"] == "today"
    links = dict((choice, href) for choice, _label, href in page.context["trend_links"])
    assert "trend_wards=month" in links["month"] and "trend_wards" not in links["today"]
    html = page.content.decode()
    assert 'aria-current="true"' in html and 'data-trend-wards="month"' in html
    assert "Phường A (" not in html  # the old wards' names carry the date they ceased: "(đến 01/07/2026)"

    by_month = client.get(reverse("organizations:home"), {"trend_wards": "month"})
    assert by_month.context["trend_wards"] == "month"
    html = by_month.content.decode()
    table = html[html.index('data-testid="trend-by-ward"'):]
    assert "Phường A (" in table and "Phường B (" in table and "01/07/2026" in table
    # The chart and its hidden table agree whichever wards are used: the totals do not depend on them.
    assert by_month.context["chart_data"]["trend"] == page.context["chart_data"]["trend"]
    assert client.get(reverse("organizations:home"), {"trend_wards": "nonsense"}).context["trend_wards"] == "today"


def test_a_ward_officer_sees_only_their_ward_by_month(merged, client, ward_officer_b):
    client.force_login(ward_officer_b)
    page = client.get(reverse("organizations:home"), {"trend_wards": "month"})
    wards = {row["ward"] for row in page.context["wards_trend"]["rows"]}
    assert merged["a"].pk not in wards


def test_the_trend_queries_do_not_grow_with_the_number_of_wards(merged, client):
    client.force_login(merged["front"])
    url = reverse("organizations:home")

    def count(params):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params).status_code == 200
        return len(queries)

    before = {mode: count({"trend_wards": mode}) for mode in ("today", "month")}
    branch = merged["new"].branches.first()
    for n in range(6):
        ward = WardFactory(area=merged["a"].area, code=f"9100{n:02d}", name=f"Phường thêm {n}")
        group = SavingsGroupFactory(branch=BranchFactory(ward=ward, kind=branch.kind, parent=branch.parent),
                                    code=f"82000{n:02d}")
        LoanFactory(household=HouseholdFactory(group=group), amount=5_000_000, disbursed_on=date(2026, 2, 2))
    refresh_portfolio_summary(TODAY)
    snapshots_rebuild(since=date(2025, 1, 1))
    after = {mode: count({"trend_wards": mode}) for mode in ("today", "month")}
    assert after == before
    assert before["month"] <= 40

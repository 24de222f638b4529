"""The dashboard's by-ward table at a province's size: 25 wards a page, sorted by a column (a GET link that sets
aria-sort), narrowed by a part of the name with accents ignored, all through GET so that it works without
JavaScript, in a number of queries that does not grow with the wards."""

import re
from datetime import date

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loans.reports.tables import WardTable
from tests.factories import BranchFactory, HouseholdFactory, LoanFactory, SavingsGroupFactory, WardFactory

pytestmark = [pytest.mark.today("2026-11-20"), pytest.mark.usefixtures("english")]

NAMES = ["Bến Thành", "Sài Gòn", "Tân Định", "Thới An", "Chợ Lớn"]


def make_wards(area, branch, count, start=0):
    """`count` wards with one group and one loan each; ward n lends (n + 1) million."""
    for n in range(start, start + count):
        ward = WardFactory(area=area, code=f"95{n:04d}", name=f"{NAMES[n % len(NAMES)]} {n:02d}")
        group = SavingsGroupFactory(branch=BranchFactory(ward=ward, kind=branch.kind, parent=branch.parent),
                                    code=f"83{n:05d}")
        LoanFactory(household=HouseholdFactory(group=group), amount=(n + 1) * 1_000_000,
                    disbursed_on=date(2026, 3, 2))


@pytest.fixture
def province(branch_a, front_supervisor):
    make_wards(branch_a.ward.area, branch_a, 30)
    return front_supervisor


def ward_names(response):
    return [row["ward_obj"].name for row in response.context["ward_table"].rows]


def test_the_first_page_holds_25_wards_in_code_order_and_links_to_the_next(province, client):
    client.force_login(province)
    page = client.get(reverse("organizations:home"))
    table = page.context["ward_table"]
    assert len(table.rows) == 25 and table.page.paginator.count == 30
    codes = [row["ward_obj"].code for row in table.rows]
    assert codes == sorted(codes)
    assert table.next_href.startswith("?ward_page=2") and table.previous_href is None
    second = client.get(reverse("organizations:home"), {"ward_page": 2})
    assert len(second.context["ward_table"].rows) == 5
    # The ward chart draws the page's wards, not all of them.
    assert len(page.context["chart_data"]["wards"]["labels"]) == 25


def test_a_column_header_sorts_and_says_so_with_aria_sort(province, client):
    client.force_login(province)
    page = client.get(reverse("organizations:home"))
    html = page.content.decode()
    assert "aria-sort" not in html
    outstanding = next(h for h in page.context["ward_table"].headers if h["key"] == "outstanding")
    assert outstanding["href"] == "?ward_sort=-outstanding#by-ward"  # figures read largest first
    largest = client.get(reverse("organizations:home"), {"ward_sort": "-outstanding"})
    amounts = [row["outstanding"] for row in largest.context["ward_table"].rows]
    assert amounts == sorted(amounts, reverse=True) and amounts[0] >= 30_000_000
    assert re.search(r'<th[^>]*aria-sort="descending"[^>]*data-column="outstanding"', largest.content.decode())
    header = next(h for h in largest.context["ward_table"].headers if h["key"] == "outstanding")
    assert header["href"] == "?ward_sort=outstanding#by-ward"
    by_name = client.get(reverse("organizations:home"), {"ward_sort": "name"})
    names = ward_names(by_name)
    assert names[0].startswith("Bến Thành") and 'aria-sort="ascending"' in by_name.content.decode()
    # An unknown column is ignored.
    assert client.get(reverse("organizations:home"), {"ward_sort": "-password"}).context["ward_table"].sort == ""


def test_the_name_search_ignores_accents_and_keeps_the_other_parameters(province, client):
    client.force_login(province)
    found = client.get(reverse("organizations:home"), {"ward_q": "thoi an", "ward_sort": "-outstanding",
                                                       "trend_wards": "month"})
    names = ward_names(found)
    assert names and all(name.startswith("Thới An") for name in names) and len(names) == 6
    html = found.content.decode()
    assert '<input type="hidden" name="ward_sort" value="-outstanding">' in html
    assert '<input type="hidden" name="trend_wards" value="month">' in html
    nothing = client.get(reverse("organizations:home"), {"ward_q": "zzz"})
    assert nothing.context["ward_table"].rows == [] and "Không có phường nào có tên như vậy" in nothing.content.decode()


def test_the_report_links_do_not_carry_the_tables_parameters(province, client):
    client.force_login(province)
    page = client.get(reverse("organizations:home"), {"ward_q": "sai", "ward_page": "1", "on": "20/11/2026"})
    assert page.context["query"] == "on=20%2F11%2F2026"


def test_queries_do_not_grow_with_the_wards(province, client, branch_a):
    client.force_login(province)

    def count(params):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("organizations:home"), params).status_code == 200
        return len(queries)

    params = {"ward_sort": "-overdue_ratio", "ward_page": "2"}
    before = count(params)
    make_wards(branch_a.ward.area, branch_a, 20, start=30)
    assert count(params) == before <= 40


def test_ward_table_pages_out_of_range_show_the_last_page():
    rows = [{"ward_obj": type("W", (), {"name": f"P {n}", "code": f"{n:06d}"})(), "outstanding": n, "ward": n}
            for n in range(30)]
    table = WardTable(rows, QueryDict("ward_page=99"))
    assert table.page.number == 2 and len(table.rows) == 5
    table = WardTable(rows, QueryDict("ward_page=abc"))
    assert table.page.number == 1

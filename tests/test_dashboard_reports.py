"""Dashboard and the bank's report layouts: figures from one selector, scope, query bounds, xlsx, drill-down."""

import io
import json
from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from borrowers.models import Household
from loans.models import Loan, Posting
from loans.money import format_vnd
from loans.reports import selectors as report_selectors
from loans.reports.selectors import portfolio_report
from loans.reports.views import REPORTS
from loans.selectors.loans import portfolio_by_organization
from organizations.models import Organization, SavingsGroup
from tests.conftest import DEMO_TODAY

TODAY = date.fromisoformat(DEMO_TODAY)
SEED = {
    "12": (43_479_000_000, 1_430),
    "13": (44_519_000_000, 1_329),
    "11": (37_371_000_000, 1_162),
    "14": (30_178_000_000, 987),
}
FIGURES = ("outstanding", "overdue", "frozen", "interest_arrears", "lent_month", "lent_year", "collected_month",
           "collected_year")

#: Queries a report page may make whatever the data: its figures, plus the menu's inbox count (one query, and the
#: two permission reads behind the bank-import rule), the corrections booked after a past date and a ward's inspections.
BOUND = 28


def report_url(layout, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("loans:report", args=[layout]) + (f"?{query}" if query else "")


def workbook(response):
    return load_workbook(io.BytesIO(response.content)).active


# --- The demo district, seeded once for this module -------------------------------------------------------------

#: Every test reads the demo as of the day it is seeded on, whatever the real date.
pytestmark = pytest.mark.today(DEMO_TODAY)


@pytest.fixture
def demo_user(demo_district, db):
    from django.contrib.auth import get_user_model

    return lambda username: get_user_model().objects.get(username=username)


@pytest.fixture
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def test_dashboard_shows_the_seed_figures_per_organization(demo_user, client, frozen_today, capsys):
    client.force_login(demo_user("front"))
    response = client.get(reverse("organizations:home"))
    assert response.status_code == 200
    by_kind = {row["kind"]: row for row in response.context["by_kind"]}
    assert {kind: (row["outstanding"], row["households"]) for kind, row in by_kind.items()} == SEED
    assert response.context["totals"]["outstanding"] == sum(amount for amount, _h in SEED.values())
    assert response.context["totals"]["households"] == sum(count for _a, count in SEED.values())
    html = response.content.decode()
    women = html.split('data-kind="12"')[1].split("</tr>")[0]
    assert "43.479.000.000" in women and ">1.430<" in women

    call_command("summary", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert {kind: (row["outstanding"], row["households"]) for kind, row in summary.items()} == SEED


def test_every_report_agrees_with_the_dashboard_and_with_itself(demo_user, client, frozen_today):
    client.force_login(demo_user("front"))
    home = client.get(reverse("organizations:home")).context
    first_ward = home["by_ward"][0]
    for layout in REPORTS:
        # LEN_31 is drawn per ward (the first one unless another is chosen): it agrees with that ward's figures.
        dashboard = first_ward if layout == "len_31" else home["totals"]
        response = client.get(report_url(layout))
        assert response.status_code == 200, layout
        rows = [line["row"] for line in response.context["rows"]]
        assert rows, layout
        for name in FIGURES:
            assert sum(row[name] for row in rows) == dashboard[name], (layout, name)
        if layout != "bctd_01_2":
            # Households and savings add up across wards, organizations and groups; by program a household that
            # borrows under two programs appears under both.
            assert sum(row["households"] for row in rows) == dashboard["households"], layout
            assert sum(row["savings"] for row in rows) == dashboard["savings"], layout
        total = {cell["name"]: cell["text"] for cell in response.context["total_cells"]}
        assert total["outstanding"] == format_vnd(dashboard["outstanding"], symbol=False)
        assert total["households"] == format_vnd(dashboard["households"], symbol=False)
    # The BC0438 Women's Union rows add up to the seed figure.
    rows = [line["row"] for line in client.get(report_url("bc0438")).context["rows"]]
    assert sum(row["outstanding"] for row in rows if row["kind"] == "12") == SEED["12"][0]
    assert sum(row["households"] for row in rows if row["kind"] == "12") == SEED["12"][1]


def test_cached_and_ledger_figures_are_identical(demo_user, frozen_today, monkeypatch):
    front = demo_user("front")
    for by in [(), ("kind",), ("ward",), ("program",), ("ward", "kind"), ("group",)]:
        cached = portfolio_report(user=front, on=TODAY, by=by)
        monkeypatch.setattr(report_selectors, "uses_cached_balances", lambda on: False)
        derived = portfolio_report(user=front, on=TODAY, by=by)
        monkeypatch.undo()
        key = lambda row: row["key"]  # noqa: E731
        assert sorted(cached, key=key) == sorted(derived, key=key), by
    figures = portfolio_by_organization(on=TODAY)
    for row in portfolio_report(user=front, on=TODAY, by=("kind",)):
        assert (row["outstanding"], row["overdue"], row["households"]) == tuple(
            figures[row["kind"]][name] for name in ("outstanding", "overdue", "households")
        )


def test_a_past_date_matches_summary_for_that_date(demo_user, client, frozen_today, capsys):
    on = TODAY - timedelta(days=75)
    call_command("summary", "--json", "--date", on.strftime("%d/%m/%Y"))
    summary = json.loads(capsys.readouterr().out)
    client.force_login(demo_user("front"))
    response = client.get(reverse("organizations:home"), {"on": on.strftime("%d/%m/%Y")})
    assert response.context["on"] == on
    by_kind = {row["kind"]: (row["outstanding"], row["households"]) for row in response.context["by_kind"]}
    assert by_kind == {kind: (row["outstanding"], row["households"]) for kind, row in summary.items()}
    assert sum(row["outstanding"] for row in summary.values()) < sum(a for a, _h in SEED.values())
    rows = [line["row"] for line in client.get(report_url("bctd_01_1", on=on.strftime("%d/%m/%Y"))).context["rows"]]
    assert sum(row["outstanding"] for row in rows) == sum(row["outstanding"] for row in summary.values())


def test_trend_ends_today_and_agrees_with_the_ledger_at_each_month_end(demo_user, frozen_today):
    front = demo_user("front")
    trend = report_selectors.portfolio_trend(user=front, today=TODAY)
    assert len(trend["days"]) == 13 and trend["days"][-1] == TODAY and trend["days"][0] == date(2025, 11, 30)
    women = next(series for series in trend["series"] if series["kind"] == "12")
    assert women["outstanding"][-1] == SEED["12"][0]
    month_end = trend["days"][6]
    assert women["outstanding"][6] == portfolio_by_organization(on=month_end)["12"]["outstanding"]


def test_ward_officer_dashboard_shows_only_their_branch(demo_user, client, frozen_today):
    officer = demo_user("ward")
    client.force_login(officer)
    response = client.get(reverse("organizations:home"))
    branch = officer.officer.organization
    expected = portfolio_by_organization(on=TODAY, loans=Loan.objects.filter(group__branch=branch))["12"]
    totals = response.context["totals"]
    assert (totals["outstanding"], totals["households"]) == (expected["outstanding"], expected["households"])
    assert totals["outstanding"] < SEED["12"][0]
    assert [row["kind"] for row in response.context["by_kind"]] == ["12"]
    assert [row["ward"] for row in response.context["by_ward"]] == [branch.ward_id]
    assert "Hội Nông dân" not in response.content.decode()


def test_drill_down_from_ward_to_group_to_households(demo_user, client, frozen_today):
    client.force_login(demo_user("front"))
    dashboard = client.get(reverse("organizations:home"))
    ward_row = dashboard.context["by_ward"][0]
    ward_page = client.get(reverse("loans:report_ward", args=[ward_row["ward"]]))
    assert ward_page.status_code == 200
    groups = ward_page.context["groups"]
    assert sum(row["outstanding"] for row in groups) == ward_row["outstanding"]
    assert sum(row["households"] for row in groups) == ward_row["households"]
    group_row = groups[0]
    group_page = client.get(reverse("loans:report_group", args=[group_row["group"]]))
    assert group_page.status_code == 200
    assert group_page.context["total"]["outstanding"] == group_row["outstanding"]
    assert group_page.context["total"]["households"] == group_row["households"]
    assert group_page.context["total"]["savings"] == group_row["savings"]
    assert group_row["group_obj"].leader.head_name in group_page.content.decode()


def test_query_counts_stay_bounded_on_the_demo_district(demo_user, client, frozen_today, django_assert_max_num_queries):
    client.force_login(demo_user("front"))
    with django_assert_max_num_queries(40):
        client.get(reverse("organizations:home"))
    with django_assert_max_num_queries(40):
        client.get(reverse("organizations:home"), {"on": "31/10/2026"})
    for layout in REPORTS:
        with django_assert_max_num_queries(BOUND):
            client.get(report_url(layout))
        with django_assert_max_num_queries(BOUND):
            client.get(report_url(layout, on="31/10/2026", format="xlsx"))
    ward = client.get(reverse("organizations:home")).context["by_ward"][0]["ward"]
    with django_assert_max_num_queries(BOUND):
        client.get(reverse("loans:report_ward", args=[ward]))


def test_xlsx_has_the_bank_title_block_vietnamese_headings_and_total(demo_user, client, frozen_today):
    client.force_login(demo_user("front"))
    expected_headings = {
        "bctd_01_1": ["STT", "Mã phường", "Phường", "Số tổ", "Số hộ còn dư nợ", "Dư nợ", "Nợ quá hạn"],
        "bctd_01_2": ["STT", "Mã chương trình", "Chương trình cho vay", "Số món vay", "Số hộ còn dư nợ", "Dư nợ"],
        "bc0438": ["STT", "Mã phường", "Phường", "Mã ĐVUT", "Tổ chức hội", "Số tổ", "Số hộ còn dư nợ", "Dư nợ"],
        "len_31": ["STT", "Phường", "Mã tổ", "Tên tổ", "Tổ trưởng", "Số món vay", "Số hộ còn dư nợ", "Dư nợ"],
    }
    dashboard = client.get(reverse("organizations:home")).context["totals"]
    for layout, headings in expected_headings.items():
        response = client.get(report_url(layout, format="xlsx"))
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        sheet = workbook(response)
        values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
        header_index = next(i for i, row in enumerate(values) if row[0] == "STT")
        assert any(REPORTS[layout]["code"] in str(row[0]) for row in values[:header_index])
        assert any(str(row[0]).startswith("Đến ngày 20/11/2026") for row in values[:header_index])
        header = list(values[header_index])
        assert header[: len(headings)] == headings, layout
        total = values[-1]
        assert total[0] == "Tổng cộng"
        if layout == "len_31":
            continue  # one ward; its agreement is checked in test_every_report_agrees_with_the_dashboard
        assert total[header.index("Dư nợ")] == dashboard["outstanding"]
        assert sum(row[header.index("Dư nợ")] for row in values[header_index + 1 : -1]) == dashboard["outstanding"]


BREAKDOWNS = [(), ("kind",), ("ward",), ("program",), ("ward", "kind"), ("group",)]


def ledger_report(monkeypatch, **kwargs):
    """portfolio_report as if no snapshot existed, so every figure is derived from the postings."""
    with monkeypatch.context() as patch:
        patch.setattr(report_selectors, "snapshot_month_end", lambda on: None)
        return portfolio_report(**kwargs)


def test_past_dates_read_from_snapshots_equal_the_ledger_on_the_demo_district(demo_user, frozen_today, monkeypatch):
    front = demo_user("front")
    key = lambda row: row["key"]  # noqa: E731
    for on in (TODAY - timedelta(days=75), date(2026, 10, 31), date(2026, 11, 1), date(2026, 6, 15),
               date(2026, 1, 1), TODAY - timedelta(days=1)):
        assert report_selectors.snapshot_month_end(on) is not None, on
        for by in BREAKDOWNS:
            snapshot = sorted(portfolio_report(user=front, on=on, by=by), key=key)
            assert snapshot == sorted(ledger_report(monkeypatch, user=front, on=on, by=by), key=key), (on, by)
        figures = portfolio_by_organization(on=on)
        for row in portfolio_report(user=front, on=on, by=("kind",)):
            assert (row["outstanding"], row["overdue"], row["households"]) == tuple(
                figures[row["kind"]][name] for name in ("outstanding", "overdue", "households")
            ), on


def test_a_backdated_collection_sheet_corrects_past_reports_and_their_interest_arrears(
    demo_user, client, frozen_today, monkeypatch
):
    from loans.models import InterestArrearsEntry
    from loans.services.collection import collection_sheet_create, collection_sheet_post, collection_sheet_save

    # The Front reads the reports; the sheet is posted by someone who may post it in any group (the admin).
    front, clerk = demo_user("front"), demo_user("admin")
    on, later = TODAY - timedelta(days=20), TODAY - timedelta(days=10)
    group = Loan.objects.filter(principal_outstanding__gt=0, disbursed_on__lt=on).order_by("pk").first().group
    before = {day: portfolio_report(user=front, on=day)[0] for day in (on - timedelta(days=1), on, later)}

    sheet = collection_sheet_create(group=group, on=on, actor=clerk)
    first, *others = sheet.lines.order_by("position")
    # The first household pays its interest and 500,000 of principal; the others pay nothing yet.
    entries = {first.pk: (first.overdue_interest_due + first.current_interest_due + 500_000, 0, 0)}
    entries.update({line.pk: (0, 0, 0) for line in others})
    collection_sheet_save(sheet=sheet, entries=entries, actor=clerk)
    collection_sheet_post(sheet=sheet, actor=clerk)
    left_unpaid = sum(line.overdue_interest_due + line.current_interest_due for line in others)
    assert left_unpaid > 0
    assert sum(InterestArrearsEntry.objects.filter(on=on).values_list("amount", flat=True)) == left_unpaid

    assert portfolio_report(user=front, on=on - timedelta(days=1))[0] == before[on - timedelta(days=1)]
    for day in (on, later):
        after = portfolio_report(user=front, on=day)[0]
        assert after["outstanding"] == before[day]["outstanding"] - 500_000
        assert after["interest_arrears"] == before[day]["interest_arrears"] + left_unpaid
        # The sheet is dated 31/10: it counts in October's collections and in the year's.
        month_added = entries[first.pk][0] if day.month == on.month else 0
        assert after["collected_month"] == before[day]["collected_month"] + month_added
        assert after["collected_year"] == before[day]["collected_year"] + entries[first.pk][0]
        assert after == ledger_report(monkeypatch, user=front, on=day)[0]
    client.force_login(front)
    rows = [line["row"] for line in client.get(report_url("bc0438", on=later.strftime("%d/%m/%Y"))).context["rows"]]
    assert sum(row["interest_arrears"] for row in rows) == before[later]["interest_arrears"] + left_unpaid
    assert sum(row["outstanding"] for row in rows) == before[later]["outstanding"] - 500_000
    call_command("check_ledger", stdout=io.StringIO())


def test_past_date_pages_keep_the_query_bound_on_the_demo_district(
    demo_user, client, frozen_today, django_assert_max_num_queries
):
    client.force_login(demo_user("front"))
    past = (TODAY - timedelta(days=75)).strftime("%d/%m/%Y")
    with django_assert_max_num_queries(40):
        assert client.get(reverse("organizations:home"), {"on": past}).status_code == 200
    for layout in REPORTS:
        with django_assert_max_num_queries(BOUND):
            assert client.get(report_url(layout, on=past)).status_code == 200


# --- What seed_demo builds (the same seed as above: seeding takes minutes, so the module does it once) -----------


@override_settings(DEBUG=True)
def test_seed_demo_totals_summary_and_ledger_check(demo_user, frozen_today, capsys):

    call_command("summary", "--json")
    summary = json.loads(capsys.readouterr().out)
    # Outstanding and borrowing households are exactly DOMAIN.md's; within them a few missed instalments are overdue.
    assert {code: (row["outstanding"], row["households"]) for code, row in summary.items()} == SEED
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
    call_command("seed_demo", stdout=io.StringIO())
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


@override_settings(DEBUG=True)
def test_seed_records_a_year_of_supervision_like_the_seed_report(demo_user, frozen_today):
    from organizations.models import OutreachSession
    from organizations.selectors.supervision import supervision_summary
    from tests.test_supervision import row_of

    rows, totals = supervision_summary(demo_user("front"), 2026)
    assert totals["inspections"] > 50
    assert totals["classes"] > 20 and totals["attendances"] == 12_000
    youth = row_of(rows, Organization.Kind.YOUTH)
    assert 95 <= youth["outreach"] <= 110
    for kind in Organization.MEMBER_KINDS:
        row = row_of(rows, kind)
        # The demo's 11 wards formed 5 on 01/07/2025; this year's agreements are signed in the 5.
        assert (row["wards_with_agreement"], row["wards"]) == (5, 5)
    assert totals["models"] >= 5 and totals["model_households"] > 0 and totals["awards"] >= 5
    assert totals["follow_ups_overdue"] >= 1
    assert OutreachSession.objects.filter(held_on__year=2026).count() == totals["outreach"]


def test_seed_demo_grades_the_demo_groups(demo_user):
    from organizations.models import GroupGrade

    assert GroupGrade.objects.count() == SavingsGroup.objects.count()
    assert GroupGrade.objects.values("month").distinct().count() == 1


def test_seed_demo_citizen_ids_and_phones_keep_the_rule(demo_user, capsys):
    """Province code, sex and century, the year of birth stored with the household (borrowers/identity.py)."""
    call_command("check_identity_numbers")
    assert "passed" in capsys.readouterr().out
    households = Household.objects.exclude(birth_year=None)
    assert households.count() == Household.objects.count()
    for household in households.order_by("pk")[:200]:
        assert household.citizen_id[4:6] == f"{household.birth_year % 100:02d}", household.citizen_id


def test_chart_data_sums_the_trend_and_puts_the_overdue_ratio_beside_each_amount(demo_user, client, frozen_today):
    client.force_login(demo_user("front"))
    response = client.get(reverse("organizations:home"))
    charts = json.loads(response.content.decode().split('id="dashboard-data" type="application/json">')[1]
                        .split("</script>")[0])
    totals = response.context["totals"]
    trend = charts["trend"]
    # One outstanding total and one ratio per month end (not a pair per organization), ending today's totals.
    assert len(trend["labels"]) == len(trend["outstanding"]) == len(trend["overdue_ratio"]) == 13
    assert trend["labels"][-1] == TODAY.strftime("%d/%m/%Y")
    assert trend["outstanding"][-1] == totals["outstanding"] and trend["overdue"][-1] == totals["overdue"]
    assert trend["overdue_ratio"][-1] == str(totals["overdue_ratio"])
    by_kind = response.context["by_kind"]
    assert charts["kinds"]["overdue_ratio"] == [str(row["overdue_ratio"]) for row in by_kind]
    # The demo's overdue is a small share of its outstanding: the point of a ratio axis of its own.
    assert 0 < float(totals["overdue_ratio"]) < 5
    # The screen-reader table holds the same month-end figures.
    assert format_vnd(trend["outstanding"][0]).replace("\xa0", " ") in response.content.decode().replace("\xa0", " ")

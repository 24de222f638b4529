"""The loan's statement (sao kê): postings with a running principal balance, interest and overdue periods, changes,
loan-use checks; printable and as .xlsx; only within the viewer's scope; and loan numbers that link to the loan."""

import io
from datetime import date, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from loans.models import LoanChange, LoanUseCheck, Posting
from loans.selectors.statements import loan_statement
from tests.factories import LoanFactory, reverse_posting

Kind = Posting.Kind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def frozen_today():
    with time_machine.travel("2026-06-15 09:00 +07:00", tick=False):
        yield


@pytest.fixture
def loan(household_a, ward_officer_a):
    """50.000.000 disbursed on 15/01/2026, two repayments, the second reversed, an interest payment."""
    loan = LoanFactory(household=household_a, number="7900000000000001")
    post = dict(household=household_a, loan=loan, created_by=ward_officer_a)
    Posting.objects.create(kind=Kind.INTEREST, amount=275_000, on=date(2026, 2, 15), **post)
    Posting.objects.create(kind=Kind.PRINCIPAL, amount=5_000_000, on=date(2026, 4, 15), voucher="BL-001", **post)
    wrong = Posting.objects.create(kind=Kind.PRINCIPAL, amount=3_000_000, on=date(2026, 5, 15), **post)
    reverse_posting(posting=wrong, reason="Ghi nhầm hộ", actor=ward_officer_a, booked_on=date(2026, 5, 20))
    return loan


def test_running_balance_counts_a_reversal_back(loan):
    statement = loan_statement(loan)
    rows = [(e.on, e.posting.kind, e.disbursed, e.principal_repaid, e.interest, e.balance) for e in statement.entries]
    assert rows == [
        (date(2026, 1, 15), Kind.DISBURSEMENT, 50_000_000, 0, 0, 50_000_000),
        (date(2026, 2, 15), Kind.INTEREST, 0, 0, 275_000, 50_000_000),
        (date(2026, 4, 15), Kind.PRINCIPAL, 0, 5_000_000, 0, 45_000_000),
        (date(2026, 5, 15), Kind.PRINCIPAL, 0, 3_000_000, 0, 42_000_000),
        # The reversal takes the value date of what it reverses; it was booked on 20/05.
        (date(2026, 5, 15), Kind.REVERSAL, 0, -3_000_000, 0, 45_000_000),
    ]
    assert statement.entries[3].reversed_on == date(2026, 5, 20)
    loan.refresh_from_db()
    assert statement.balance == loan.principal_outstanding == 45_000_000
    assert statement.totals == {"disbursed": 50_000_000, "principal_repaid": 5_000_000, "interest": 275_000}


def test_overdue_periods_say_when_they_were_settled(loan):
    first, second = loan.instalments.order_by("due_on")[:2]
    assert first.principal <= 5_000_000 < first.principal + second.principal
    loan.instalments.filter(pk=first.pk).update(overdue_since=date(2026, 4, 10))
    loan.instalments.filter(pk=second.pk).update(overdue_since=date(2026, 5, 10))
    periods = loan_statement(loan).overdue_periods
    assert [(p.seq, p.since) for p in periods] == [(first.seq, date(2026, 4, 10)), (second.seq, date(2026, 5, 10))]
    # The 5.000.000 of 15/04 settles the first instalment; the 3.000.000 of 15/05 was reversed, so the second is not.
    assert periods[0].settled_on == date(2026, 4, 15)
    assert periods[1].settled_on is None


def test_statement_page_lists_everything_in_a_bounded_number_of_queries(client_for, ward_officer_a, loan,
                                                                         django_assert_max_num_queries):
    LoanChange.objects.create(loan=loan, kind=LoanChange.Kind.EXTENSION, reason="Mất mùa", months=6,
                              requested_on=date(2026, 5, 1), requested_by=ward_officer_a)
    LoanUseCheck.objects.create(loan=loan, checked_on=date(2026, 2, 10), result=LoanUseCheck.Result.AS_PLANNED,
                                notes="Đã mua bò", checked_by=ward_officer_a)
    client = client_for(ward_officer_a)
    url = reverse("loans:loan_statement", args=[loan.pk])
    with django_assert_max_num_queries(19):  # +1 for the menu's inbox count
        response = client.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    for text in ("7900000000000001", "BL-001", "Ghi nhầm hộ", "Mất mùa", "Đã mua bò", "45.000.000", "print-document"):
        assert text in content, text
    # More postings do not mean more queries.
    for day in range(1, 20):
        Posting.objects.create(kind=Kind.INTEREST, amount=1_000, on=date(2026, 6, day), household=loan.household,
                               loan=loan)
    with django_assert_max_num_queries(19):  # +1 for the menu's inbox count
        assert client.get(url).status_code == 200


def test_statement_permissions(client_for, ward_officer_b, district_staff, front_supervisor, admin_user, loan):
    url = reverse("loans:loan_statement", args=[loan.pk])
    assert client_for(ward_officer_b).get(url).status_code == 404
    assert client_for(ward_officer_b).get(reverse("loans:loan_statement_xlsx", args=[loan.pk])).status_code == 404
    nobody = get_user_model().objects.create_user("nobody", password="x")
    assert client_for(nobody).get(url).status_code == 403
    assert client_for(district_staff).post(url).status_code == 405
    for reader in (district_staff, front_supervisor, admin_user):
        assert client_for(reader).get(url).status_code == 200


def test_statement_xlsx_stores_amounts_as_numbers(client_for, ward_officer_a, loan):
    LoanUseCheck.objects.create(loan=loan, checked_on=date(2026, 2, 10), result=LoanUseCheck.Result.PARTLY,
                                notes="=cmd()", checked_by=ward_officer_a)
    response = client_for(ward_officer_a).get(reverse("loans:loan_statement_xlsx", args=[loan.pk]))
    assert response.status_code == 200
    assert "7900000000000001" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    postings = workbook.worksheets[0]
    rows = [[c.value for c in row] for row in postings.iter_rows()]
    assert rows[1][0] == "7900000000000001 – " + loan.household.head_name + " – " + str(loan.program)
    data = [r for r in rows if isinstance(r[0], datetime)]
    assert [r[6] for r in data] == [50_000_000, 50_000_000, 45_000_000, 42_000_000, 45_000_000]
    assert data[4][4] == -3_000_000 and isinstance(data[0][3], int)
    total = rows[-1]
    assert total[3:7] == [50_000_000, 5_000_000, 275_000, 45_000_000]
    assert postings.cell(row=rows.index(data[0]) + 1, column=4).number_format == "#,##0"
    assert postings.cell(row=rows.index(data[0]) + 1, column=1).number_format == "dd/mm/yyyy"
    checks = workbook.worksheets[-1]
    with translation.override("vi"):
        partly = str(LoanUseCheck.Result.PARTLY.label)
    assert [c.value for c in checks[2]][:3] == [datetime(2026, 2, 10), partly, "'=cmd()"]
    assert checks[2][0].number_format == "dd/mm/yyyy"
    assert len(workbook.worksheets) == 5


def test_loan_page_lists_postings_links_the_statement_and_has_a_household_breadcrumb(client_for, ward_officer_a,
                                                                                      loan):
    response = client_for(ward_officer_a).get(reverse("loans:loan_detail", args=[loan.pk]))
    content = response.content.decode()
    assert reverse("loans:loan_statement", args=[loan.pk]) in content
    entries = response.context["recent_entries"]
    assert [e.posting.kind for e in entries][:2] == [Kind.REVERSAL, Kind.PRINCIPAL] and entries[0].balance == 45_000_000
    breadcrumb = content.split('aria-label="breadcrumb"')[1].split("</ol>")[0]
    assert "Loan changes" not in breadcrumb
    assert reverse("borrowers:household_detail", args=[loan.household_id]) in breadcrumb
    assert reverse("organizations:group_detail", args=[loan.group_id]) in breadcrumb


def test_loan_numbers_on_the_household_page_link_to_the_loan(client_for, ward_officer_a, loan):
    response = client_for(ward_officer_a).get(reverse("borrowers:household_detail", args=[loan.household_id]))
    link = f'href="{reverse("loans:loan_detail", args=[loan.pk])}">7900000000000001</a>'
    assert link in response.content.decode()


def test_a_posted_13td_sheet_gives_the_interest_period_and_links_its_loan_numbers(client_for, household_a,
                                                                                  group_a, ward_officer_a):
    from loans.services.collection import collection_sheet_create, collection_sheet_post, collection_sheet_save

    loan = LoanFactory(household=household_a, number="7900000000000077")
    sheet = collection_sheet_create(group=group_a, on=date(2026, 2, 15), actor=ward_officer_a)
    line = sheet.lines.get(household=household_a)
    collection_sheet_save(sheet=sheet, entries={line.pk: (1_000_000, 0, 0)}, actor=ward_officer_a)
    collection_sheet_post(sheet=sheet, actor=ward_officer_a)

    statement = loan_statement(loan)
    (period,) = statement.interest_periods
    assert (period.period_start, period.period_end, period.days) == (date(2026, 1, 15), date(2026, 2, 15), 31)
    interest = [e for e in statement.entries if e.interest]
    assert interest and all(e.line.pk == line.pk for e in interest)
    assert sum(e.interest for e in interest) == period.current_interest_paid + period.overdue_interest_paid

    client = client_for(ward_officer_a)
    link = f'href="{reverse("loans:loan_detail", args=[loan.pk])}">7900000000000077</a>'
    for url in (reverse("loans:collection_sheet_detail", args=[sheet.pk]),
                reverse("loans:collection_line_detail", args=[sheet.pk, line.pk]),
                reverse("loans:loan_statement", args=[loan.pk])):
        content = client.get(url).content.decode()
        assert "7900000000000077" in content, url
        if "statement" not in url:
            assert link in content, url

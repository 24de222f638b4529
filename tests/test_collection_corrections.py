"""After a 13/TD row is reversed, the officer records the right amounts for the same household, group and day: a
correction row on the same sheet. The print and the .xlsx show the original, its reversal and the correction, and
the totals count every đồng once."""

import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from loans.models import CollectionLine, Loan, Posting, ReversalRequest
from loans.services.collection import collection_sheet_create
from loans.services.collection_reversals import collection_line_correct, reversal_decide
from organizations.errors import DomainError
from tests.factories import HouseholdFactory, LoanFactory, checker_for, post_sheet, reverse_line, reverse_posting

Kind = Posting.Kind
Status = CollectionLine.Status
TODAY = "2026-06-20 09:00 +0700"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(TODAY, tick=False):
        yield



@pytest.fixture
def wrong_day(group_a, household_a, ward_officer_a):
    """Two households; for the first, 2,841,670 was typed instead of 284,167 (the interest of 31 days on 50 M), so
    2,557,503 went to principal by mistake."""
    neighbour = HouseholdFactory(group=group_a, head_name="Lê Văn Cường")
    LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
    LoanFactory(household=neighbour, disbursed_on=date(2026, 5, 20))
    sheet = post_sheet(group_a, date(2026, 6, 20), ward_officer_a,
                       {household_a: (2_841_670, 30_000, 0), neighbour: (284_167, 10_000, 0)})
    return sheet


def line_of(sheet, household):
    return sheet.lines.get(household=household, corrects__isnull=True)


def ledger_is_clean():
    call_command("check_ledger")


def test_reverse_then_correct_leaves_the_books_as_if_entered_right(wrong_day, household_a, ward_officer_a):
    loan = Loan.objects.get(household=household_a)
    assert loan.principal_outstanding == 50_000_000 - 2_557_503
    line = reverse_line(line=line_of(wrong_day, household_a), reason="Gõ thừa số 0",
                                   actor=ward_officer_a)
    assert line.status == Status.REVERSED
    correction = collection_line_correct(line=line, amount_paid=284_167, savings_in=30_000, actor=ward_officer_a)
    assert (correction.sheet_id, correction.household_id, correction.corrects_id, correction.status) == (
        wrong_day.pk, household_a.pk, line.pk, Status.POSTED)
    assert (correction.current_interest_due, correction.current_interest_paid, correction.principal_paid) == (
        284_167, 284_167, 0)
    loan.refresh_from_db()
    household_a.refresh_from_db()
    assert (loan.principal_outstanding, loan.interest_arrears, household_a.savings_balance) == (50_000_000, 0, 30_000)
    # The original and its reversal stay in the ledger; the correction's postings are dated the collection day.
    assert Posting.objects.filter(kind=Kind.REVERSAL, household=household_a).count() == 3
    assert set(correction.postings.values_list("kind", "amount", "on")) == {
        (Kind.INTEREST, 284_167, date(2026, 6, 20)), (Kind.SAVINGS_IN, 30_000, date(2026, 6, 20))}
    ledger_is_clean()
    # The next month starts from the collection day, with nothing in arrears.
    with time_machine.travel("2026-07-20 09:00 +0700", tick=False):
        following = collection_sheet_create(group=wrong_day.group, on=date(2026, 7, 20), actor=ward_officer_a)
        item = following.lines.get(household=household_a).items.get()
        assert (item.period_start, item.days, item.arrears_before, item.outstanding) == (
            date(2026, 6, 20), 30, 0, 50_000_000)


def test_a_correction_can_itself_be_reversed_and_corrected(wrong_day, household_a, ward_officer_a):
    line = reverse_line(line=line_of(wrong_day, household_a), reason="Sai", actor=ward_officer_a)
    first = collection_line_correct(line=line, amount_paid=200_000, actor=ward_officer_a)
    with pytest.raises(DomainError, match="already corrected"):
        collection_line_correct(line=line, amount_paid=284_167, actor=ward_officer_a)
    reverse_line(line=first, reason="Vẫn sai", actor=ward_officer_a)
    second = collection_line_correct(line=first, amount_paid=284_167, savings_in=30_000, actor=ward_officer_a)
    assert second.corrects_id == first.pk
    loan = Loan.objects.get(household=household_a)
    assert (loan.principal_outstanding, loan.interest_arrears) == (50_000_000, 0)
    ledger_is_clean()


def test_one_reversed_posting_marks_the_row_partly_reversed(wrong_day, household_a, ward_officer_a):
    line = line_of(wrong_day, household_a)
    principal = line.postings.get(kind=Kind.PRINCIPAL)
    reverse_posting(posting=principal, reason="Gõ thừa", actor=ward_officer_a)
    line.refresh_from_db()
    assert line.status == Status.PARTLY_REVERSED and line.reversal_reason == "Gõ thừa"
    with pytest.raises(DomainError, match="reverse what still stands"):
        collection_line_correct(line=line, amount_paid=284_167, actor=ward_officer_a)
    # Reversing the rest of the row leaves the principal reversal alone and reverses interest and savings.
    line = reverse_line(line=line, reason="Nhập lại cả dòng", actor=ward_officer_a)
    assert line.status == Status.REVERSED
    assert line.postings.filter(kind=Kind.REVERSAL).count() == 3
    collection_line_correct(line=line, amount_paid=284_167, savings_in=30_000, actor=ward_officer_a)
    ledger_is_clean()


def test_refusals(wrong_day, household_a, group_a, ward_officer_a):
    line = line_of(wrong_day, household_a)
    with pytest.raises(DomainError, match="Only a reversed row"):
        collection_line_correct(line=line, amount_paid=284_167, actor=ward_officer_a)
    line = reverse_line(line=line, reason="Sai", actor=ward_officer_a)
    with pytest.raises(DomainError, match="whole đồng"):
        collection_line_correct(line=line, amount_paid=Decimal("10.5"), actor=ward_officer_a)
    with pytest.raises(DomainError, match="more than all the interest due"):
        collection_line_correct(line=line, amount_paid=60_000_000, actor=ward_officer_a)
    with pytest.raises(DomainError, match="withdrawal"):
        collection_line_correct(line=line, amount_paid=0, savings_out=1_000_000, actor=ward_officer_a)
    assert not CollectionLine.objects.filter(corrects=line).exists()
    # Once a later sheet is posted, the right amount goes on the next sheet instead.
    with time_machine.travel("2026-07-20 09:00 +0700", tick=False):
        post_sheet(group_a, date(2026, 7, 20), ward_officer_a, {})
        with pytest.raises(DomainError, match="next collection sheet"):
            collection_line_correct(line=line, amount_paid=284_167, actor=ward_officer_a)
    ledger_is_clean()


def corrected(wrong_day, household_a, ward_officer_a):
    line = reverse_line(line=line_of(wrong_day, household_a), reason="Gõ thừa số 0",
                                   actor=ward_officer_a)
    return collection_line_correct(line=line, amount_paid=284_167, savings_in=30_000, actor=ward_officer_a)


def test_print_shows_original_reversal_and_correction_with_right_totals(client_for, wrong_day, household_a,
                                                                        ward_officer_a):
    corrected(wrong_day, household_a, ward_officer_a)
    client = client_for(ward_officer_a)
    page = client.get(reverse("loans:collection_sheet_print", args=[wrong_day.pk]))
    assert page.status_code == 200
    kinds = [row.kind for row in page.context["sheet_rows"]]
    assert sorted(kinds) == ["correction", "reversal", "row", "row"]
    totals = page.context["totals"]
    # What was really collected: 284,167 of interest twice, 40,000 of savings; dues counted once per household.
    assert (totals["current_interest_paid"], totals["principal_paid"], totals["savings_in"]) == (568_334, 0, 40_000)
    assert totals["current_interest_due"] == 568_334
    assert totals["outstanding"] == 100_000_000 and totals["savings_after"] == 40_000
    html = page.content.decode()
    assert "-2.841.670" not in html and "-2.557.503" in html and "Gõ thừa số 0" in html
    detail = client.get(reverse("loans:collection_sheet_detail", args=[wrong_day.pk]))
    assert detail.context["totals"]["amount_paid"] == 568_334
    assert 'data-reversal-of=' in detail.content.decode()


def test_xlsx_shows_original_reversal_and_correction_with_right_totals(client_for, wrong_day, household_a,
                                                                       ward_officer_a):
    corrected(wrong_day, household_a, ward_officer_a)
    response = client_for(ward_officer_a).get(reverse("loans:collection_sheet_xlsx", args=[wrong_day.pk]))
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    mine = [row for row in rows if row[2] == household_a.head_name]
    assert len(mine) == 3
    original, reversal, correction = mine
    assert original[9] == 284_167 and original[10] == 2_557_503 and original[14]  # noted as reversed
    assert reversal[9] == -284_167 and reversal[10] == -2_557_503 and reversal[11] == -30_000
    assert reversal[4] is None and "Gõ thừa số 0" in reversal[14]
    assert correction[9] == 284_167 and correction[10] == 0 and correction[14]  # noted as the correction
    assert original[0] == reversal[0] == correction[0]  # the household's row number
    total = rows[-1]
    assert total[4] == 100_000_000 and total[6] == 568_334 and total[9] == 568_334 and total[10] == 0
    assert total[11] == 40_000 and total[13] == 40_000


def test_reversing_one_posting_asks_for_a_reason_and_confirmation(client_for, wrong_day, household_a,
                                                                 ward_officer_a):
    line = line_of(wrong_day, household_a)
    principal = line.postings.get(kind=Kind.PRINCIPAL)
    client = client_for(ward_officer_a)
    detail = client.get(reverse("loans:collection_line_detail", args=[wrong_day.pk, line.pk])).content.decode()
    assert 'name="confirm"' in detail
    url = reverse("loans:posting_reverse", args=[principal.pk])
    client.post(url, {"reason": "Gõ thừa"})
    client.post(url, {"confirm": "on", "reason": ""})
    assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()
    client.post(url, {"reason": "Gõ thừa", "confirm": "on"})
    assert not Posting.objects.filter(kind=Kind.REVERSAL).exists()
    request = ReversalRequest.objects.get(posting=principal, status=ReversalRequest.Status.PROPOSED)
    reversal_decide(request=request, approve=True, actor=checker_for(household_a.branch))
    assert Posting.objects.get(kind=Kind.REVERSAL).reverses == principal
    line.refresh_from_db()
    assert line.status == Status.PARTLY_REVERSED


def test_officer_records_the_correction_on_the_row_page(client_for, wrong_day, household_a, ward_officer_a,
                                                       district_staff):
    line = reverse_line(line=line_of(wrong_day, household_a), reason="Sai", actor=ward_officer_a)
    client = client_for(ward_officer_a)
    page = client.get(reverse("loans:collection_line_detail", args=[wrong_day.pk, line.pk])).content.decode()
    assert 'data-testid="correction-card"' in page
    url = reverse("loans:collection_line_correct", args=[wrong_day.pk, line.pk])
    assert client_for(district_staff).post(url, {"amount_paid": "284167"}).status_code == 403
    client = client_for(ward_officer_a)
    refused = client.post(url, {"amount_paid": "60.000.000"})
    assert refused.status_code == 400 and "lớn hơn toàn bộ lãi phải thu" in refused.content.decode()
    response = client.post(url, {"amount_paid": "284.167", "savings_in": "30.000"})
    correction = CollectionLine.objects.get(corrects=line)
    assert response.status_code == 302
    assert response["Location"] == reverse("loans:collection_line_detail", args=[wrong_day.pk, correction.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="corrects"' in page
    page = client.get(reverse("loans:collection_line_detail", args=[wrong_day.pk, line.pk])).content.decode()
    assert 'data-testid="corrected-by"' in page and 'data-testid="correction-card"' not in page
    ledger_is_clean()

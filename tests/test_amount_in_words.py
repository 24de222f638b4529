"""Amounts written out as the bank writes them on its forms ("Bằng chữ")."""

import pytest
from django.urls import reverse

from loans.money import amount_in_words


@pytest.mark.parametrize(("amount", "words"), [
    (0, "Không đồng"),
    (21_000, "Hai mươi mốt nghìn đồng"),
    (105_000, "Một trăm lẻ năm nghìn đồng"),
    (1_000_000, "Một triệu đồng"),
    (1_001_000, "Một triệu không trăm lẻ một nghìn đồng"),
    (1_000_005, "Một triệu không trăm lẻ năm đồng"),
    (30_800_000, "Ba mươi triệu tám trăm nghìn đồng"),
    (50_000_000, "Năm mươi triệu đồng"),
    (1_250_000, "Một triệu hai trăm năm mươi nghìn đồng"),
    (2_000_050_000, "Hai tỷ không trăm năm mươi nghìn đồng"),
    (2_500_000_000, "Hai tỷ năm trăm triệu đồng"),
    (115_015_000, "Một trăm mười lăm triệu không trăm mười lăm nghìn đồng"),
])
def test_vietnamese_amounts_in_words(amount, words):
    assert amount_in_words(amount) == words


def test_other_languages_read_the_number_with_num2words():
    assert amount_in_words(30_800_000, "en") == "Thirty million, eight hundred thousand dong"


@pytest.mark.django_db
def test_the_printed_01td_writes_the_amount_out(client_for, ward_officer_a, household_a, group_a):
    from tests.factories import LoanApplicationFactory

    application = LoanApplicationFactory(household=household_a, group=group_a, amount_requested=30_800_000)
    page = client_for(ward_officer_a).get(reverse("loans:application_print", args=[application.pk])).content.decode()
    assert "Ba mươi triệu tám trăm nghìn đồng" in page

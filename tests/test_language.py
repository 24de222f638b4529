"""Vietnamese by default whatever the browser says; English when the officer switches."""

from django.urls import reverse


def test_vietnamese_by_default_even_for_an_english_browser(client, db):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "Đăng nhập" in response.content.decode()


def test_switching_to_english_sticks(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302
    response = client.get(reverse("login"))
    body = response.content.decode()
    assert "Log in" in body and "Đăng nhập" not in body


def test_amounts_and_dates_are_written_the_vietnamese_way(client, ward_officer_a, household_a):
    from tests.factories import LoanFactory

    LoanFactory(household=household_a, amount=1_500_000)
    client.force_login(ward_officer_a)
    body = client.get(reverse("organizations:home")).content.decode()
    assert "1.500.000 ₫" in body


def test_ids_in_forms_are_never_written_with_thousand_separators(client, ward_officer_a, branch_a):
    from tests.factories import SavingsGroupFactory

    group = SavingsGroupFactory(pk=123456, branch=branch_a, code="8123456")
    client.force_login(ward_officer_a)
    body = client.get(reverse("loans:collection_sheet_list")).content.decode()
    assert f'value="{group.pk}"' in body and 'value="123.456"' not in body

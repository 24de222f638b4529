"""After a ward merger, a ward officer registers a household and district staff open the disbursement day: the
pickers show today's map (each name once, the moved neighbourhood labelled), and axe finds nothing serious."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from organizations.models import Neighbourhood
from organizations.policy import SYSTEM
from organizations.services.mergers import wards_merge
from tests.browser.conftest import login
from tests.browser.test_accessibility import axe_violations, describe
from tests.browser.test_accessibility import page as page  # noqa: F401  (axe needs the CSP bypassed)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.today("2026-11-16", tick=True)]


@pytest.fixture
def merged(household_a, household_b, ward_officer_a, district_staff):
    ward_a, ward_b = household_a.ward, household_b.ward
    Neighbourhood.objects.create(ward=ward_a, code="90000101", name="Khu phố 1")
    Neighbourhood.objects.create(ward=ward_b, code="90000201", name="Khu phố 1")
    merged_on = date(timezone.localdate().year - 1, 7, 1)
    return wards_merge(sources=[ward_a, ward_b], code=ward_a.code, name="Phường A", merged_on=merged_on,
                       actor=SYSTEM).ward


def option_texts(page, selector):
    return [text.strip() for text in page.locator(f"{selector} option").all_inner_texts()]


def test_household_form_and_disbursement_day_show_todays_map(merged, page, screenshot):
    username = get_user_model().objects.get(officer__role="ward_officer").username
    login(page, username)
    assert not describe("/households/new/", axe_violations(page, "/households/new/"))
    neighbourhoods = option_texts(page, "select[name=neighbourhood]")[1:]
    assert len(neighbourhoods) == 2 and len(set(neighbourhoods)) == 2
    assert neighbourhoods[0] == "Khu phố 1" and "Phường B" in neighbourhoods[1]
    page.select_option("select[name=neighbourhood]", label=neighbourhoods[1])
    screenshot("todays_map_household_form")

    page.context.clear_cookies()
    login(page, "district")
    assert not describe("/loans/disbursements/", axe_violations(page, "/loans/disbursements/"))
    wards = option_texts(page, "select[name=ward]")[1:]
    assert wards == ["Phường A"]
    screenshot("todays_map_disbursement_day")

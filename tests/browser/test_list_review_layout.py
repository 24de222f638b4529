"""The 03/TD approval page on a laptop and a phone: the whole approved amount is visible and no field overlaps."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import approved_allocation, submitted_loan_list

# Box of one element and whether its text fits inside it.
MEASURE = """el => { const r = el.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, fits: el.scrollWidth <= el.clientWidth}; }"""


def _overlap(a, b):
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1366, 390])
def test_the_approved_amount_is_fully_visible(page, screenshot, width, group_a, branch_a, ward_officer_a,
                                              district_staff):
    approved_allocation(branch=branch_a, amount=100_000_000, plan_amount=300_000_000)
    loan_list = submitted_loan_list(group=group_a, submitted_by=ward_officer_a, amounts=(40_000_000, 20_000_000))
    first, second = loan_list.applications.order_by("pk")
    page.set_viewport_size({"width": width, "height": 860})
    login(page, "district")
    page.goto(f"{page.base_url}/loans/approvals/lists/{loan_list.pk}/")
    amount = page.locator(f"#id_amount_{first.pk}")
    expect(amount).to_have_value("40.000.000")
    boxes = {name: page.locator(f"#id_{name}_{first.pk}").evaluate(MEASURE) for name in ("decision", "amount", "reason")}
    assert boxes["amount"]["fits"], boxes
    assert boxes["amount"]["right"] - boxes["amount"]["left"] >= 100
    assert not _overlap(boxes["amount"], boxes["reason"]) and not _overlap(boxes["amount"], boxes["decision"])
    assert page.locator(f"#id_decision_{first.pk}").input_value() == ""
    screenshot(f"list-review-{width}")

    # Sending without a decision for the second request keeps everything and says what is missing.
    page.select_option(f"#id_decision_{first.pk}", "approve")
    page.locator("form[data-once] button[type=submit]").click()
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    expect(page.locator(f"#id_decision_{second.pk}")).to_be_visible()
    screenshot(f"list-review-missing-decision-{width}")

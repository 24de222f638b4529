"""Monthly group grades: the score from weighted criteria, the grade boundaries, the command and the pages."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from loans.ledger.balances import refresh_household_savings
from loans.models import Posting, ReviewMeeting
from organizations.grading import criteria_for, grade_groups, score_of
from organizations.models import GradingCriteria, GroupGrade, SavingsGroup
from tests.factories import HouseholdFactory, LoanFactory, SavingsGroupFactory

G = GroupGrade.Grade


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, G.GOOD), (85, G.GOOD), (84, G.FAIR), (70, G.FAIR), (69, G.AVERAGE), (50, G.AVERAGE), (49, G.WEAK),
     (0, G.WEAK)],
)
def test_grade_boundaries(db, score, grade):
    assert criteria_for(date(2026, 10, 1)).grade_for(score) == grade


def test_score_is_weighted_and_rounded_half_up(db):
    criteria = criteria_for(date(2026, 10, 1))
    assert (criteria.overdue_weight, criteria.interest_weight, criteria.savings_weight,
            criteria.meetings_weight) == (40, 30, 15, 15)
    one = Decimal(1)
    assert score_of(criteria, overdue_ratio=0, interest_share=one, savings_share=one, meetings_share=one) == 100
    # 5 % overdue or more scores nothing for that criterion.
    assert score_of(criteria, overdue_ratio=Decimal(7), interest_share=one, savings_share=one, meetings_share=one) == 60
    # 40 × 0.5 + 30 × 0.5 + 15 × 0.5 + 15 × 0.5 = 50; and 84.5 rounds up to 85.
    half = Decimal("0.5")
    assert score_of(criteria, overdue_ratio=Decimal("2.5"), interest_share=half, savings_share=half,
                    meetings_share=half) == 50
    assert score_of(criteria, overdue_ratio=0, interest_share=one, savings_share=one,
                    meetings_share=Decimal("0.3")) == 90
    assert score_of(criteria, overdue_ratio=0, interest_share=Decimal("0.85"), savings_share=one,
                    meetings_share=Decimal("0.3")) == 85  # 40 + 25.5 + 15 + 4.5 = 85
    assert score_of(criteria, overdue_ratio=Decimal("0.0625"), interest_share=one, savings_share=one,
                    meetings_share=Decimal(0)) == 85  # 39.5 + 30 + 15 + 0 = 84.5 → 85


def test_criteria_weights_are_editable(db):
    GradingCriteria.objects.create(name="2026", valid_from=date(2026, 1, 1), overdue_weight=70, interest_weight=10,
                                   savings_weight=10, meetings_weight=10)
    criteria = criteria_for(date(2026, 10, 1))
    assert criteria.overdue_weight == 70
    assert criteria_for(date(2025, 10, 1)).overdue_weight == 40


@pytest.fixture
def graded_group(group_a, household_a):
    """October 2026, window August–October.

    h1 (50 M loan) paid interest in August, September and October; h2 (20 M loan, one 1,666,666 instalment overdue)
    only in September and October; h3 only saves, and saved in October. Postings in all three months.
    overdue 1,666,666 / 70,000,000 = 2.38 %  → 40 × (1 − 2.38 / 5) = 20.96
    interest 1 of 2                          → 30 × 0.5            = 15
    savers 1 of 3 members                    → 15 × 1/3            = 5
    active months 3 of 3                     → 15
    score 55.96 → 56, average.
    """
    h2 = HouseholdFactory(group=group_a)
    h3 = HouseholdFactory(group=group_a)
    first = LoanFactory(household=household_a)
    second = LoanFactory(household=h2, amount=Decimal(20_000_000))
    second.instalments.filter(seq=1).update(overdue_since=date(2026, 4, 16))
    for month in (8, 9, 10):
        Posting.objects.create(kind=Posting.Kind.INTEREST, household=household_a, loan=first, amount=250_000,
                               on=date(2026, month, 20))
    for month in (9, 10):
        Posting.objects.create(kind=Posting.Kind.INTEREST, household=h2, loan=second, amount=100_000,
                               on=date(2026, month, 20))
    Posting.objects.create(kind=Posting.Kind.SAVINGS_IN, household=h3, amount=50_000, on=date(2026, 10, 10))
    refresh_household_savings([h3.pk])
    return group_a


def test_grade_groups_on_a_hand_computed_case(graded_group, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        grades = grade_groups(month=date(2026, 10, 15), groups=SavingsGroup.objects.filter(pk=graded_group.pk))
    (grade,) = grades
    assert (grade.month, grade.score, grade.grade) == (date(2026, 10, 1), 56, G.AVERAGE)
    assert grade.details["overdue_ratio"] == "2.3800"
    assert (grade.details["paid_interest"], grade.details["due_interest"]) == (1, 2)
    assert (grade.details["savers"], grade.details["members"], grade.details["active_months"]) == (1, 3, 3)


def test_a_reversed_interest_posting_does_not_count(graded_group):
    august = Posting.objects.get(on=date(2026, 8, 20))
    Posting.objects.create(kind=Posting.Kind.REVERSAL, household=august.household, loan=august.loan,
                           amount=august.amount, on=date(2026, 8, 21), reverses=august)
    (grade,) = grade_groups(month=date(2026, 10, 1), groups=SavingsGroup.objects.filter(pk=graded_group.pk))
    assert grade.details["paid_interest"] == 0
    assert grade.score == 41  # 20.96 + 0 + 5 + 15 = 40.96


def test_review_meeting_counts_as_a_regular_meeting(graded_group, ward_officer_a):
    group = SavingsGroupFactory(branch=graded_group.branch)
    ReviewMeeting.objects.create(group=group, held_on=date(2026, 9, 3), recorded_by=ward_officer_a)
    (grade,) = grade_groups(month=date(2026, 10, 1), groups=SavingsGroup.objects.filter(pk=group.pk))
    assert grade.details["active_months"] == 1


def test_command_grades_every_group_and_replaces_the_month(graded_group, group_b, capsys):
    call_command("grade_groups", "--month", "10/2026")
    assert "Graded 2 group(s) for 10/2026" in capsys.readouterr().out
    call_command("grade_groups", "--month", "10/2026")
    assert GroupGrade.objects.filter(month=date(2026, 10, 1)).count() == 2
    assert GroupGrade.objects.get(group=graded_group).score == 56
    with pytest.raises(CommandError, match="mm/yyyy"):
        call_command("grade_groups", "--month", "2026-10")


def test_grading_is_set_based(graded_group, django_assert_max_num_queries):
    for _n in range(4):
        group = SavingsGroupFactory(branch=graded_group.branch)
        LoanFactory(household=HouseholdFactory(group=group))
    with django_assert_max_num_queries(14):
        assert len(grade_groups(month=date(2026, 10, 1))) == 5


def test_grade_pages(graded_group, group_b, client_for, ward_officer_a, ward_officer_b, front_supervisor,
                     django_assert_max_num_queries):
    grade_groups(month=date(2026, 9, 1))
    grade_groups(month=date(2026, 10, 1))
    url = reverse("organizations:group_grades")
    client = client_for(ward_officer_a)
    with django_assert_max_num_queries(13):  # +1 for the menu's inbox count
        page = client.get(url).content.decode()
    assert graded_group.name in page and group_b.name not in page and "10/2026" in page
    assert client.get(url, {"grade": "good"}).content.decode().count(graded_group.name) == 0
    assert graded_group.name in client.get(url, {"grade": "average"}).content.decode()
    assert client.post(url).status_code == 405
    assert group_b.name in client_for(front_supervisor).get(url).content.decode()

    history = reverse("organizations:group_grade_history", args=[graded_group.pk])
    page = client_for(ward_officer_a).get(history).content.decode()
    assert "09/2026" in page and "10/2026" in page and "56" in page
    assert client_for(ward_officer_b).get(history).status_code == 404
    nobody = get_user_model().objects.create_user("nobody", password="x")
    assert client_for(nobody).get(url).status_code == 403

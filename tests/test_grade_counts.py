"""The dashboard's groups-by-grade figure counts each group's latest grade, within the user's scope."""

from datetime import date

from loans.reports.selectors import group_grade_counts
from organizations.models import GroupGrade


def grade(group, month, value, score):
    return GroupGrade.objects.create(group=group, month=month, grade=value, score=score)


def test_latest_grade_per_group_up_to_the_month_in_scope(group_a, group_b, admin_user, ward_officer_a):
    grade(group_a, date(2026, 9, 1), "weak", 40)
    grade(group_a, date(2026, 10, 1), "good", 90)
    grade(group_b, date(2026, 10, 1), "fair", 75)
    grade(group_b, date(2026, 12, 1), "weak", 30)  # after the date asked for

    everything = group_grade_counts(user=admin_user, on=date(2026, 11, 20))[()]
    assert (everything["good"], everything["fair"], everything["average"], everything["weak"]) == (1, 1, 0, 0)

    own = group_grade_counts(user=ward_officer_a, on=date(2026, 11, 20))[()]
    assert (own["good"], own["fair"], own["weak"]) == (1, 0, 0)

    september = group_grade_counts(user=admin_user, on=date(2026, 9, 30))[()]
    assert september["weak"] == 1 and september["good"] == 0

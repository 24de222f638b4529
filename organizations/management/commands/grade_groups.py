"""Score and grade every active savings group for one month (default: the current month)."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from organizations.grading import grade_groups
from organizations.models import GroupGrade


def parse_month(value):
    try:
        return datetime.strptime(value, "%m/%Y").date()
    except ValueError:
        raise CommandError(f"Months are mm/yyyy, e.g. 11/2026; got {value!r}.") from None


class Command(BaseCommand):
    help = "Grade every active savings group for a month (mm/yyyy); a second run replaces that month's grades."

    def add_arguments(self, parser):
        parser.add_argument("--month", type=parse_month, help="The month to grade, mm/yyyy (default: this month).")

    def handle(self, *args, month=None, **options):
        month = month or timezone.localdate().replace(day=1)
        grades = grade_groups(month=month)
        counts = {grade: 0 for grade in GroupGrade.Grade.values}
        for grade in grades:
            counts[grade.grade] += 1
        labels = dict(GroupGrade.Grade.choices)
        summary = ", ".join(f"{labels[key]}: {value}" for key, value in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Graded {len(grades)} group(s) for {month:%m/%Y}. {summary}"))

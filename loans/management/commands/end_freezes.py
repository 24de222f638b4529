"""End every loan freeze whose period is over, putting the loan back to active."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from loans.services.changes import freezes_end_due
from organizations.policy import SYSTEM


def parse_date(value):
    try:
        return datetime.strptime(value, "%d/%m/%Y").date()
    except ValueError:
        raise CommandError(f"Dates are dd/mm/yyyy, e.g. 31/12/2026; got {value!r}.") from None


class Command(BaseCommand):
    help = "Put frozen loans back to active when their freeze period has ended."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=parse_date, help="As of this date (dd/mm/yyyy); default: today.")

    def handle(self, *args, date=None, **options):
        ended = freezes_end_due(on=date, actor=SYSTEM)
        for change in ended:
            self.stdout.write(f"Loan {change.loan.number}: freeze ended (until {change.frozen_until:%d/%m/%Y}).")
        self.stdout.write(self.style.SUCCESS(f"{len(ended)} freeze(s) ended."))

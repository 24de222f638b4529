"""End of a business day: every instalment missed as of the date becomes overdue from the day after its due date, and
cached balances follow. A run catches up every day since the last one: a missed run loses nothing."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from loans.management.commands.summary import parse_date
from loans.money import format_vnd
from loans.services.overdue import overdue_close_day


class Command(BaseCommand):
    help = (
        "Mark instalments missed by the date as overdue from the day after their due date (only those), catching up "
        "every day since the last run, and refresh cached loan balances."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=parse_date, help="Business date (dd/mm/yyyy); default: today.")

    def handle(self, *args, date=None, **options):
        on = date or timezone.localdate()
        marked, refreshed = overdue_close_day(on=on)
        for row in marked:
            missing = min(row["principal"], max(row["scheduled_through"] - row["repaid"], 0)) or row["principal"]
            effective = row["effective_due_on"]
            moved = f" (working day {effective:%d/%m/%Y})" if effective != row["due_on"] else ""
            self.stdout.write(
                f"Loan {row['loan__number']} ({row['loan__household__head_name']}): instalment {row['seq']} "
                f"due {row['due_on']:%d/%m/%Y}{moved}, {format_vnd(missing)} of {format_vnd(row['principal'])} "
                f"unpaid -> overdue since {row['overdue_since']:%d/%m/%Y}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"close_day {on:%d/%m/%Y}: {len(marked)} instalment(s) became overdue; "
                f"{len(refreshed)} loan balance(s) refreshed."
            )
        )

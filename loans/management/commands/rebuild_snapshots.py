"""Rebuild, from the ledger, the month-end and daily snapshots that reports for past dates read."""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Min
from django.utils import timezone

from loans.ledger.snapshots import snapshots_rebuild
from loans.management.commands.summary import parse_date
from loans.models import PortfolioDayChange, PortfolioMonthEnd, Posting


class Command(BaseCommand):
    help = (
        "Rebuild the portfolio snapshots from the ledger: a month end for every month from 31/12 of the year before "
        "--since to the last month end before --until, and every day's changes after the first one. Commands that "
        "change data keep them up to date afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=parse_date, help="First date to cover (dd/mm/yyyy); default: the first posting's date."
        )
        parser.add_argument("--until", type=parse_date, help="Last month end before this date (default: today).")

    def handle(self, *args, since=None, until=None, **options):
        until = until or timezone.localdate()
        if since is None:
            since = Posting.objects.aggregate(first=Min("on"))["first"] or until
        if since > until:
            raise CommandError("--since must not be after --until.")
        started = time.perf_counter()
        ends = snapshots_rebuild(since=since, until=until)
        self.stdout.write(
            self.style.SUCCESS(
                f"Snapshots cover {ends[0] + timedelta(days=1):%d/%m/%Y} onwards: {len(ends)} month end(s) "
                f"({PortfolioMonthEnd.objects.count()} rows), {PortfolioDayChange.objects.count()} daily change(s), "
                f"in {time.perf_counter() - started:.1f} s."
            )
        )

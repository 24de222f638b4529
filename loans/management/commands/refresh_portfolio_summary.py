"""Rebuild the summary tables behind the dashboard and reports (per-group balances, month-end balances)."""

from django.core.management.base import BaseCommand

from loans.ledger.summaries import refresh_portfolio_summary


class Command(BaseCommand):
    help = "Rebuild the per-group balances and the 12 month-end balances the dashboard and reports read."

    def handle(self, *args, **options):
        refresh_portfolio_summary()
        self.stdout.write(self.style.SUCCESS("Portfolio summaries rebuilt."))

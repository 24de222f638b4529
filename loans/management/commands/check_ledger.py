"""Recompute every loan and household balance from postings; exit non-zero on any difference."""

from django.core.management.base import BaseCommand, CommandError

from loans.ledger import ledger_differences
from loans.money import format_vnd


class Command(BaseCommand):
    help = "Check cached balances of every loan and household against the postings."

    def handle(self, *args, **options):
        loans, households = ledger_differences()
        for number, cached, derived, cached_overdue, derived_overdue in loans:
            self.stdout.write(
                f"Loan {number}: outstanding {format_vnd(cached)} in cache, {format_vnd(derived)} from postings; "
                f"overdue {format_vnd(cached_overdue)} in cache, {format_vnd(derived_overdue)} from postings"
            )
        for pk, name, cached, derived in households:
            self.stdout.write(
                f"Household {pk} ({name}): savings {format_vnd(cached)} in cache, {format_vnd(derived)} from postings"
            )
        if loans or households:
            raise CommandError(f"Ledger check failed: {len(loans)} loan(s) and {len(households)} household(s) differ.")
        self.stdout.write(self.style.SUCCESS("Ledger check passed: every balance matches its postings."))

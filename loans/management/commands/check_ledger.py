"""Recompute every loan and household balance from postings; exit non-zero on any difference."""

from django.core.management.base import BaseCommand, CommandError

from loans.ledger.arrears import arrears_differences
from loans.ledger.balances import ledger_differences
from loans.money import format_vnd


class Command(BaseCommand):
    help = "Check cached balances of every loan and household against the postings, and arrears against entries."

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
        arrears = arrears_differences()
        for number, cached, entries in arrears:
            self.stdout.write(
                f"Loan {number}: interest arrears {format_vnd(cached)}, but its arrears entries add up to "
                f"{format_vnd(entries)}"
            )
        if loans or households or arrears:
            raise CommandError(
                f"Ledger check failed: {len(loans)} loan(s) and {len(households)} household(s) differ, "
                f"{len(arrears)} loan(s) have more interest arrears entries than arrears."
            )
        self.stdout.write(self.style.SUCCESS("Ledger check passed: every balance matches its postings."))

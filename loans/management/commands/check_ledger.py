"""Recompute every loan and household balance from postings, and every capital figure from what it is made of; exit
non-zero on any difference."""

from django.core.management.base import BaseCommand, CommandError

from loans.ledger.arrears import arrears_differences
from loans.ledger.balances import ledger_differences
from loans.ledger.branch_checks import branch_sum_differences
from loans.ledger.capital_checks import capital_differences
from loans.ledger.sources import (
    capital_without_source,
    collection_lines_without_postings,
    corrections_without_decision,
    disbursement_differences,
)
from loans.money import format_vnd


class Command(BaseCommand):
    help = (
        "Check cached balances of every loan and household against the postings, arrears against entries, and that "
        "every loan, posted collection line and capital movement has the postings or decision that made it; that the "
        "per-branch totals are their groups' sums; and that "
        "capital plans, allocations and ward mergers add up to their allocations, history and requests."
    )

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
        branches = branch_sum_differences()
        for table, key, cached, summed in branches[:50]:
            self.stdout.write(f"{table} {key}: {cached} in the branch row, {summed} summed from its groups")
        gaps = self.report_missing_sources()
        capital = self.report_capital()
        if loans or households or arrears or branches or gaps or capital:
            raise CommandError(
                f"Ledger check failed: {len(loans)} loan(s) and {len(households)} household(s) differ, "
                f"{len(arrears)} loan(s) have more interest arrears entries than arrears, "
                f"{len(branches)} branch total(s) differ from their groups' sums, "
                f"{gaps} money row(s) lack the postings or decision that made them, "
                f"{capital} capital plan(s) or allocation(s) do not add up."
            )
        self.stdout.write(self.style.SUCCESS("Ledger check passed: every balance matches its postings."))

    def report_missing_sources(self):
        """Rows of money with nothing behind them (see loans/ledger/sources.py); returns how many."""
        undisbursed, loans = disbursement_differences()
        for number, amount, posted in loans:
            self.stdout.write(
                f"Loan {number}: amount {format_vnd(amount)}, but its disbursement postings add up to "
                f"{format_vnd(posted)}"
            )
        unposted, lines = collection_lines_without_postings()
        for pk, on, group, name, status in lines:
            missing = "postings" if status == "posted" else "reversal posting"
            self.stdout.write(f"Collection line {pk} ({group} {on:%d/%m/%Y}, {name}): marked {status}, no {missing}")
        unsourced, movements = capital_without_source()
        for what, pk, detail in movements:
            self.stdout.write(f"Capital {pk}: {what} {detail}")
        undecided, corrections = corrections_without_decision()
        for pk, kind, number, amount in corrections:
            self.stdout.write(f"Posting {pk} ({kind}, loan {number or '—'}, {format_vnd(amount)}): no approved request")
        total = undisbursed + unposted + unsourced + undecided
        if total > len(loans) + len(lines) + len(movements) + len(corrections):
            self.stdout.write(f"... {total} in all; the first of each kind are listed above.")
        return total

    def report_capital(self):
        """Capital plans and allocations whose figures do not add up (see loans/ledger/capital_checks.py); returns
        how many."""
        found, rows = capital_differences()
        for subject, differences in rows:
            for difference in differences:
                self.stdout.write(f"{subject}: {difference}")
        if found > len(rows):
            self.stdout.write(f"... {found} capital plans and allocations in all; the first of each kind are listed above.")
        return found

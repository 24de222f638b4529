"""Per-organization outstanding, overdue and borrowing households, from the ledger."""

import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from loans.money import format_vnd
from loans.selectors.loans import portfolio_by_organization
from organizations.models import Organization


def parse_date(value):
    try:
        return datetime.strptime(value, "%d/%m/%Y").date()
    except ValueError:
        raise CommandError(f"Dates are dd/mm/yyyy, e.g. 31/12/2026; got {value!r}.") from None


class Command(BaseCommand):
    help = "Print outstanding, overdue and households with an outstanding loan, per organization."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=parse_date, help="As of this date (dd/mm/yyyy); default: all postings.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object keyed by bank code.")

    def handle(self, *args, date=None, json=False, **options):
        figures = portfolio_by_organization(on=date)
        if json:
            self.stdout.write(_dumps(figures))
            return
        labels = dict(Organization.Kind.choices)
        self.stdout.write(f"{'Organization':<32} {'Outstanding':>22} {'Overdue':>18} {'Households':>10}")
        for code, row in figures.items():
            self.stdout.write(
                f"{str(labels.get(code, code)):<32} {format_vnd(row['outstanding']):>22} "
                f"{format_vnd(row['overdue']):>18} {row['households']:>10}"
            )


def _dumps(figures):
    return json.dumps(figures, ensure_ascii=False, sort_keys=True)

"""Write one of the bank's layouts (loans, transactions, groups, households) to an .xlsx or .csv file."""

import csv
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from loans.bankfiles.export import bank_export_rows
from loans.bankfiles.layouts import export_layout
from loans.xlsx import build_workbook, safe_cell


class Command(BaseCommand):
    help = "Export loan balances, transactions, groups or households in the bank's layout."

    def add_arguments(self, parser):
        parser.add_argument("outfile")
        parser.add_argument("--kind", required=True, choices=["loans", "transactions", "groups", "households"])
        parser.add_argument(
            "--user", help="Export what this user may see (default: everything, as the first superuser)."
        )

    def handle(self, *args, **options):
        users = get_user_model().objects
        user = (
            users.filter(username=options["user"]).first()
            if options["user"]
            else users.filter(is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError("No such user; pass --user USERNAME.")
        layout = export_layout(
            options["kind"], bank_export_rows(options["kind"], user), title_date=timezone.localdate()
        )
        path = Path(options["outfile"])
        if path.suffix.lower() == ".csv":
            with path.open("w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([safe_cell(str(h)) for h in layout["headers"]])
                for row in layout["rows"]:
                    writer.writerow([safe_cell(v) for v in row])
                if layout["total_row"]:
                    writer.writerow([safe_cell(v) for v in layout["total_row"]])
        else:
            build_workbook(**layout).save(path)
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(layout['rows'])} rows to {path}"))

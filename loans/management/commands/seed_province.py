"""Build a province (Hồ Chí Minh City's 168 wards, 300,000 loans by default) with set-based SQL on PostgreSQL."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from loans.management.commands.summary import parse_date
from loans.province import DEMO_PASSWORD, LOANS, WARDS, Province, build_province
from organizations.audit import audit_context


class Command(BaseCommand):
    help = (
        "Build a province into an empty PostgreSQL database with set-based SQL: 168 wards with the branches of the "
        "Front and the four organizations, about 7,000 groups, a household and a loan per borrower (300,000 by "
        "default) with schedules, postings and balances that check_ledger accepts, and demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loans", type=int, default=LOANS, help=f"Number of loans (default {LOANS:,}).")
        parser.add_argument("--wards", type=int, default=WARDS, help=f"Number of wards (default {WARDS}).")
        parser.add_argument("--date", type=parse_date, help="The province's today (dd/mm/yyyy); default: today.")
        parser.add_argument(
            "--snapshots-since", type=parse_date,
            help="Also build the past-date snapshots from this day (dd/mm/yyyy); default: 1 January of this year.",
        )
        parser.add_argument("--no-snapshots", action="store_true", help="Build no past-date snapshots.")
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, loans, wards, date=None, snapshots_since=None, no_snapshots=False, force=False,
               **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "seed_province builds with PostgreSQL's set-based SQL; set DATABASE_URL to an empty PostgreSQL "
                "database. For a small database on SQLite, use seed_demo."
            )
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_province creates demo users with a known password; it refuses to run when DEBUG is off. Use "
                "--force to run it anyway."
            )
        if loans < 1 or wards < 1:
            raise CommandError("--loans and --wards must be at least 1.")
        province = Province(loans=loans, wards=wards, today=date)
        if not no_snapshots:
            snapshots_since = snapshots_since or province.today.replace(month=1, day=1)
        self.stdout.write(
            f"Building {wards} wards, {province.groups:,} groups and {loans:,} loans as of {province.today:%d/%m/%Y}…"
        )
        started = time.perf_counter()
        try:
            with audit_context(source="command: seed_province"):
                build_province(province, log=self.stdout.write, snapshots_since=snapshots_since)
        except ValueError as error:
            raise CommandError(str(error)) from None
        took = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(
            f"Province built in {took:.1f} s ({took / 60:.1f} min). Logins (password {DEMO_PASSWORD}): front (the "
            "Front), district (Women's Union, province level), ward and ward2 (Women's Union branches), admin."
        ))

"""Import one of the bank's spreadsheets from the command line, through the same checks as the upload page."""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from loans.bankfiles.importing import import_upload, run_job
from loans.models import ImportBatch
from organizations.errors import DomainError


class Command(BaseCommand):
    help = "Import a bank spreadsheet (.xlsx, .xls, .csv): loan balances, transactions or groups."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--kind", required=True, choices=ImportBatch.Kind.values)
        parser.add_argument("--dry-run", action="store_true", help="Check the file and show what would change.")
        parser.add_argument("--user", help="Username recorded as the importer (default: the first superuser).")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = self._user(options.get("user"))
        try:
            batch = import_upload(
                kind=options["kind"], file_name=path.name, content=path.read_bytes(), actor=user, run=False
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        batch = run_job(batch.pk, "check", progress=self._bar)
        self.stdout.write("")
        if batch.status == ImportBatch.Status.FAILED:
            self._errors(batch)
            raise CommandError(f"Refused: {batch.error_count} error(s); nothing was imported.")
        self._summary(batch)
        if options["dry_run"]:
            batch.delete()
            self.stdout.write("Dry run: nothing was imported.")
            return
        batch.status = ImportBatch.Status.RUNNING
        batch.confirmed_by = user
        batch.save(update_fields=["status", "confirmed_by"])
        batch = run_job(batch.pk, "apply", progress=self._bar)
        self.stdout.write("")
        if batch.status != ImportBatch.Status.DONE:
            self._errors(batch)
            raise CommandError("Refused: nothing was imported.")
        written = batch.summary.get("written", {})
        self.stdout.write(
            self.style.SUCCESS(f"Imported batch {batch.pk}: " + ", ".join(f"{k} {v}" for k, v in written.items()))
        )

    def _user(self, username):
        users = get_user_model().objects
        user = (
            users.filter(username=username).first()
            if username
            else users.filter(is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError("No such user; pass --user USERNAME.")
        return user

    def _bar(self, phase, done, total):
        width = 30
        filled = width * done // total if total else 0
        sys.stdout.write(f"\r{phase[:40]:<40} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stdout.flush()

    def _summary(self, batch):
        s = batch.summary
        self.stdout.write(
            f"{s.get('rows', 0)} rows: {s.get('new', 0)} new, {s.get('changed', 0)} changed, "
            f"{s.get('unchanged', 0)} unchanged"
        )
        for change in s.get("changes", [])[:20]:
            self.stdout.write(
                f"  row {change['row']} {change['key']} {change['figure']}: {change['ledger']} -> {change['bank']}"
            )

    def _errors(self, batch):
        for error in batch.errors[:50]:
            self.stderr.write(f"  row {error['row']} [{error['column']}] '{error['value']}': {error['message']}")

"""Replace the database with a backup written by `manage.py backup`, then check the ledger (see README, "Backups")."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from organizations.backups import BackupError, database_restore


class Command(BaseCommand):
    help = "Restore a backup written by `manage.py backup` into the configured database, then run check_ledger."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup file (.dump for PostgreSQL, .sqlite3 for SQLite).")
        parser.add_argument("--no-input", action="store_false", dest="interactive", help="Do not ask to confirm.")

    def handle(self, *args, file, interactive=True, **options):
        name = connection.settings_dict["NAME"]
        if interactive:
            try:
                answer = input(f"This replaces everything in the database {name} with {file}. Type 'yes' to continue: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled.")
        try:
            database_restore(path=file)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored {file} into {name}.")
        call_command("check_ledger", stdout=self.stdout, stderr=self.stderr)

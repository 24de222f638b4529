"""Back up the database to a file and print its path (see README, "Backups")."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from organizations.backups import BackupError, database_backup


class Command(BaseCommand):
    help = "Write a backup of the database (pg_dump custom format, or a SQLite copy) and print the file's path."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", "-o", help=f"Folder for the backup file (default: BACKUP_DIR, {settings.BACKUP_DIR})."
        )

    def handle(self, *args, output=None, **options):
        try:
            path = database_backup(folder=output or settings.BACKUP_DIR)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(str(path))

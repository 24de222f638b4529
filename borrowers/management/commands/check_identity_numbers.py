"""List stored households whose citizen ID or phone number breaks the rule (borrowers/identity.py); exit non-zero when
there is any. Numbers are shown masked: the household's id finds it."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from borrowers.selectors import identity_problems
from organizations.access import mask


class Command(BaseCommand):
    help = (
        "List households whose citizen ID (CCCD) or mobile number breaks the rule: province code, sex-and-century "
        "digit, year digits (against the year of birth when stored), length, characters; phones: 10 digits starting "
        "03, 05, 07, 08 or 09."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help="List at most this many (default 100).")

    def handle(self, *args, limit, **options):
        if limit < 0:
            raise CommandError("--limit cannot be negative.")
        with translation.override("en"):
            count, rows = identity_problems(limit=limit)
        for pk, ward, field, value, message in rows:
            self.stdout.write(f"Household {pk} ({ward}): {field} {mask(value)}: {message}")
        if count:
            if count > len(rows):
                self.stdout.write(f"... {count} in all; the first {len(rows)} are listed above.")
            raise CommandError(f"Identity check failed: {count} citizen ID(s) or phone number(s) break the rule.")
        self.stdout.write(self.style.SUCCESS("Identity check passed: every citizen ID and phone number keeps the rule."))

"""Carry out a ward merger from the command line: the same checks and service as the admins' page."""

from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError

from organizations.audit import audit_context
from organizations.errors import DomainError
from organizations.models import Ward
from organizations.policy import SYSTEM
from organizations.services.mergers import merger_plan, wards_merge


def business_date(value):
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise CommandError(f"Not a date: {value!r} (use YYYY-MM-DD or DD/MM/YYYY).")


class Command(BaseCommand):
    help = "Merge wards in being into a new ward from a date (e.g. --into-code 761234 --name 'Thới An' --on 2025-07-01)."

    def add_arguments(self, parser):
        parser.add_argument("codes", nargs="+", metavar="WARD_CODE", help="codes of the wards in being that merge")
        parser.add_argument("--into-code", required=True, help="the new ward's 6-digit code (may reuse a merged one)")
        parser.add_argument("--name", required=True, help="the new ward's name")
        parser.add_argument("--on", required=True, help="the date it takes effect: YYYY-MM-DD or DD/MM/YYYY")
        parser.add_argument("--decision", default="", help="the decision, e.g. 1685/NQ-UBTVQH15")
        parser.add_argument("--dry-run", action="store_true", help="show the plan and write nothing")

    def handle(self, *args, codes, into_code, name, on, decision, dry_run, **options):
        merged_on = business_date(on)
        # A code names the ward in being that has it, else the last ward merged under it, which the plan refuses
        # with the date and the ward it went into.
        named = Ward.objects.filter(code__in=codes).select_related("merged_into")
        wards = {ward.code: ward for ward in sorted(named, key=lambda w: (w.is_active, w.merged_on or date.min))}
        unknown = [code for code in codes if code not in wards]
        if unknown:
            raise CommandError(f"No ward has the code {', '.join(unknown)}.")
        # Every code as given, a repeated one too: the plan refuses a ward listed twice rather than merging it once.
        arguments = {"sources": [wards[code] for code in codes], "code": into_code, "name": name,
                     "merged_on": merged_on, "decision": decision}
        plan = merger_plan(**arguments)
        self.stdout.write(f"Wards: {', '.join(f'{w.code} {w.name}' for w in plan.sources)}")
        self.stdout.write(f"New ward: {plan.code} {plan.name} from {merged_on:%d/%m/%Y}"
                          + (f" ({plan.decision})" if plan.decision else ""))
        for kind, old, new in plan.branches:
            self.stdout.write(f"  {kind}: {', '.join(old)} -> {new}")
        self.stdout.write("Moves: " + ", ".join(f"{key} {count}" for key, count in plan.counts.items()))
        if plan.problems:
            raise CommandError("The merger cannot be carried out:\n" + "\n".join(f"- {p}" for p in plan.problems))
        if dry_run:
            self.stdout.write("Dry run: nothing written.")
            return
        try:
            with audit_context(source="command: merge_wards"):
                merger = wards_merge(**arguments, actor=SYSTEM)
        except DomainError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(
            f"Ward {merger.ward.code} {merger.ward.name} formed from {merger.merged_on:%d/%m/%Y} (merger {merger.pk})."
        ))

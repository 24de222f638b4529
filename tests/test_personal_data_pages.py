"""One masking policy for citizen IDs and phone numbers, on every page, print and export.

Ward officers and admins see them in full; district staff and the Front see them masked (organizations/access.py).
The page-by-page test opens every page the URL resolver knows (the fixtures and route arguments of the permission
matrix), plus the spreadsheet variants of the pages and the bank's layouts, as every persona, and looks for any
household's full citizen ID or phone number where the policy masks it.
"""

import csv
import io
import logging

from django.core.management import call_command
from django.db import transaction
from django.test import Client, TestCase
from django.urls import reverse
from openpyxl import load_workbook

import tests.test_permission_matrix as matrix
from borrowers.models import Household
from organizations.access import mask
from organizations.models import OfficerProfile

Role = OfficerProfile.Role

#: Distinctive values, so that a hit can only be one of them: 079188xxxxxx and 0961880xxx.
CITIZEN_ID = "079188{:06d}"
PHONE = "0961880{:03d}"

MASKED_PERSONAS = ("dist=", "dist≠", "front")
FULL_PERSONAS = ("ward=", "admin")

#: Pages whose spreadsheet or other layouts the matrix's rules do not reach: (route name, arguments, query).
EXTRA_PAGES = [
    ("loans:approval_notice", {"pk": "loan_list"}, "?format=xlsx"),
    *(("loans:bank_export", {"kind": kind, "fmt": "xlsx"}, "") for kind in ("loans", "households")),
]


class PersonalDataEverywhere(TestCase):
    @classmethod
    def setUpTestData(cls):
        matrix.PermissionMatrix.setUpTestData.__func__(cls)
        for n, household in enumerate(Household.objects.order_by("pk"), start=1):
            household.citizen_id, household.phone = CITIZEN_ID.format(n), PHONE.format(n)
            household.save(update_fields=["citizen_id", "phone"])
        cls.objects["household"].refresh_from_db()

    value = matrix.PermissionMatrix.value
    path = matrix.PermissionMatrix.path

    def secrets(self):
        return [v for pair in Household.objects.values_list("citizen_id", "phone") for v in pair if v]

    def pages(self):
        for name, _route in matrix.ROUTES:
            for page_rule in matrix.rules_for(name):
                if page_rule.data or matrix.POLICIES[page_rule.policy].get == ():
                    continue
                yield name, self.path(name, page_rule)
        for name, args, query in EXTRA_PAGES:
            yield name, reverse(name, kwargs={arg: self.value(spec) for arg, spec in args.items()}) + query

    def get_text(self, client, path):
        savepoint = transaction.savepoint()
        try:
            response = client.get(path)
            return response.status_code, matrix.text_of(response) if response.status_code == 200 else ""
        finally:
            transaction.savepoint_rollback(savepoint)

    def test_no_page_or_export_shows_a_full_number_to_those_it_is_masked_for(self):
        request_log = logging.getLogger("django.request")
        level, request_log.level = request_log.level, logging.CRITICAL  # 403s and 404s are expected here
        self.addCleanup(setattr, request_log, "level", level)
        secrets = self.secrets()
        leaks, opened, shown_in_full = [], set(), set()
        for persona in MASKED_PERSONAS + FULL_PERSONAS:
            client = Client()
            client.force_login(self.users[persona])
            for name, path in self.pages():
                status, text = self.get_text(client, path)
                if status != 200:
                    continue
                opened.add((persona, name))
                shown = [secret for secret in secrets if secret in text and secret not in path]
                if persona in MASKED_PERSONAS:
                    leaks.extend(f"{path} ({name}) as {persona} shows {secret}" for secret in shown)
                elif shown:
                    shown_in_full.add((persona, name))
        assert not leaks, "Personal data shown where it must be masked:\n" + "\n".join(leaks)
        # The walk reached the pages that carry personal data, for the masked roles too.
        carrying = {
            "borrowers:household_list", "borrowers:household_detail", "loans:application_detail",
            "loans:meeting_detail", "loans:meeting_xlsx", "loans:list03_detail", "loans:list03_xlsx",
            "loans:approval_notice", "loans:bank_export", "organizations:group_detail",
        }
        for persona in ("dist=", "front"):
            assert carrying <= {name for who, name in opened if who == persona}, persona
        # ... and those who see the numbers in full do see them there (the test would pass on an empty page).
        for persona in FULL_PERSONAS:
            assert carrying <= {name for who, name in shown_in_full if who == persona}, persona

    def test_the_household_page_shows_the_masked_number_and_no_phone_link(self):
        household = self.objects["household"]
        path = reverse("borrowers:household_detail", args=[household.pk])
        client = Client()
        client.force_login(self.users["dist="])
        html = client.get(path).content.decode()
        assert mask(household.citizen_id) in html and mask(household.phone) in html
        assert "tel:" not in html
        client.force_login(self.users["ward="])
        html = client.get(path).content.decode()
        assert household.citizen_id in html and f'href="tel:{household.phone}"' in html

    def test_the_bank_export_command_masks_for_the_user_it_runs_as(self):
        household = self.objects["household"]
        for kind in ("loans", "households"):
            for suffix in ("xlsx", "csv"):
                outputs = {}
                for username in ("district", "admin", None):
                    path = self.tmp_path(f"{kind}-{username}.{suffix}")
                    args = [str(path), "--kind", kind] + (["--user", username] if username else [])
                    call_command("export_bank", *args, stdout=io.StringIO())
                    outputs[username] = self.read(path)
                assert household.citizen_id not in outputs["district"], (kind, suffix)
                assert mask(household.citizen_id) in outputs["district"], (kind, suffix)
                # The file for the bank (an admin's, or the command's default superuser) carries the full number.
                assert household.citizen_id in outputs["admin"], (kind, suffix)
                assert household.citizen_id in outputs[None], (kind, suffix)

    def tmp_path(self, name):
        import tempfile
        from pathlib import Path

        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        return Path(directory.name) / name

    @staticmethod
    def read(path):
        if path.suffix == ".csv":
            return "\n".join(",".join(row) for row in csv.reader(path.open(encoding="utf-8-sig")))
        workbook = load_workbook(path, read_only=True)
        return "\n".join(str(v) for sheet in workbook for row in sheet.iter_rows(values_only=True) for v in row if v)


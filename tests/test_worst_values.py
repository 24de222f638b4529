"""Nothing stored can make a page, a print or an export fail.

The permission matrix's district is seeded, then every free-text column of every row is overwritten with the worst
value the column allows: its full length, control characters (written with `.update()`, past the cleaning that
forms and models now do, as rows saved before it), markup, quotes, emoji, right-to-left marks, a formula. Every page
and export the resolver knows (and every admin page) is then opened by each persona who sees data. None may answer
500, no HTML page may carry the markup unescaped, and every spreadsheet must open.
"""

import io
import logging
import re
from decimal import Decimal

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import models
from django.test import Client, TestCase
from django.urls import reverse
from openpyxl import load_workbook

from loans.models import ImportBatch, Loan
from loans.services.checks import group_inspection_record, loan_use_check_record
from tests import test_permission_matrix as matrix

MARKUP = "<x-worst"
#: Put first, so that even a short column holds some of it.
WORST_HEAD = "<x-worst a=\"'\">\x01\x1b\u202e😀"
WORST_TAIL = (
    "\u200fمرحبا\u200e</x-worst><script>alert('x')</script>\r\n\t=HYPERLINK(\"http://x\")\x7f\x9b"
    " {{ 1 }} {% now %} &amp; %s %(name)s ${x} \\ ; , \" ' Ỹ"
)
LONG_TEXT = 4000  # what a TextField gets
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
PERSONAS = ("ward=", "dist=", "front", "admin")
CLEANED_APPS = ("organizations", "borrowers", "loans")
BIG = Decimal(10**15)  # large but valid: a DecimalField(18, 0) holds it


def worst(pk, max_length):
    """A distinct worst value for row `pk` (unique columns stay unique) that fills `max_length`."""
    text = f"{pk}{WORST_HEAD}{WORST_TAIL}"
    length = max_length or LONG_TEXT
    text = (text + "Ỹ" * length)[:length]
    return text


def free_text_columns(model):
    """Text columns a person fills freely: no choices and no format rule (a code's or an ID's digits)."""
    for field in model._meta.concrete_fields:
        if not isinstance(field, (models.CharField, models.TextField)) or field.primary_key or field.choices:
            continue
        rules = [v for v in field.validators if not isinstance(v, (MaxLengthValidator, ProhibitNullCharactersValidator))]
        if not rules:
            yield field


def seed_worst_text():
    for label in CLEANED_APPS:
        for model in apps.get_app_config(label).get_models():
            columns = list(free_text_columns(model))
            if not columns:
                continue
            for pk in model._default_manager.values_list("pk", flat=True):
                model._default_manager.filter(pk=pk).update(
                    **{field.attname: worst(pk, field.max_length) for field in columns}
                )
    users = get_user_model().objects
    for pk in users.values_list("pk", flat=True):
        users.filter(pk=pk).update(first_name=worst(pk, 150), last_name=worst(pk, 150))


class WorstStoredValues(TestCase):
    @classmethod
    def setUpTestData(cls):
        matrix.PermissionMatrix.setUpTestData.__func__(cls)  # the matrix's district, users and objects
        objects, ward_officer = cls.objects, cls.users["ward="]
        loan_use_check_record(
            loan=objects["loan"], result="as_planned", notes="Đúng mục đích", checked_on=objects["loan"].disbursed_on,
            actor=ward_officer,
        )
        group_inspection_record(
            group=objects["group"], inspected_on=objects["loan"].disbursed_on, findings="Tốt", actor=ward_officer
        )
        worst_error = {"row": 7, "column": worst(1, 40), "value": worst(2, 200), "message": worst(3, 200)}
        ImportBatch.objects.filter(pk=objects["batch"].pk).update(errors=[worst_error] * 3)
        seed_worst_text()
        # Large but valid amounts, on a loan that is not the one whose pages check the ledger's arithmetic.
        Loan.objects.exclude(pk=objects["loan"].pk).update(amount=BIG, principal_outstanding=BIG)

    value = matrix.PermissionMatrix.value
    path = matrix.PermissionMatrix.path

    def pages(self):
        """Every page of the matrix that may be opened, with the spreadsheet forms of the pages that have one."""
        for name, _route in matrix.ROUTES:
            if name in ("logout", "set_language"):
                continue
            for page_rule in matrix.rules_for(name):
                if not matrix.POLICIES[page_rule.policy].get:
                    continue
                path = self.path(name, page_rule)
                yield path
                if name in ("loans:report", "loans:approval_notice"):
                    yield path + ("&" if "?" in path else "?") + "format=xlsx"
                if name == "loans:bank_export":
                    yield path.replace(".csv", ".xlsx")
        yield reverse("loans:fee_statements") + "?download=groups"
        yield reverse("loans:fee_statements") + "?download=units"
        yield reverse("borrowers:household_list") + "?q=" + WORST_HEAD

    def admin_pages(self):
        for model in admin.site._registry:
            prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            yield reverse(f"{prefix}_changelist")
            first = model._default_manager.order_by("pk").first()
            if first is not None:
                yield reverse(f"{prefix}_change", args=[first.pk])

    def check(self, client, path, persona, problems):
        try:
            response = client.get(path)
        except Exception as error:  # noqa: BLE001 - the test names every failing page at once
            problems.append(f"{path} as {persona}: {type(error).__name__}: {str(error)[:200]}")
            return
        if response.status_code >= 500:
            problems.append(f"{path} as {persona}: {response.status_code}")
            return
        content_type = response.get("Content-Type", "")
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if content_type.startswith("text/html"):
            if MARKUP.encode() in content:
                problems.append(f"{path} as {persona}: the stored markup is shown unescaped")
        elif content_type.startswith(matrix.XLSX):
            workbook = load_workbook(io.BytesIO(content), read_only=True)
            for sheet in workbook:
                for row in sheet.iter_rows(values_only=True):
                    if any(isinstance(v, str) and CONTROL.search(v) for v in row):
                        problems.append(f"{path} as {persona}: a control character in the spreadsheet")
                        return
        elif content_type.startswith("text/csv"):
            if CONTROL.search(content.decode("utf-8-sig")):
                problems.append(f"{path} as {persona}: a control character in the CSV")
        self.opened += 1

    def test_the_worst_values_are_stored(self):
        household = self.objects["household"].__class__.objects.get(pk=self.objects["household"].pk)
        assert "\x01" in household.head_name and MARKUP in household.address
        assert len(household.head_name) == household._meta.get_field("head_name").max_length

    def test_every_page_and_export_opens(self):
        request_log = logging.getLogger("django.request")
        level, request_log.level = request_log.level, logging.CRITICAL
        self.addCleanup(setattr, request_log, "level", level)
        problems, self.opened = [], 0
        for persona in PERSONAS:
            client = Client()
            client.force_login(self.users[persona])
            for path in self.pages():
                self.check(client, path, persona, problems)
        client = Client()
        client.force_login(self.users["admin"])
        for path in self.admin_pages():
            self.check(client, path, "admin", problems)
        assert not problems, "Pages that fail over the worst stored values:\n" + "\n".join(problems)
        assert self.opened > 300

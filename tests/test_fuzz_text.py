"""Random text thrown at the cleaning rule and at the household and group forms (Hypothesis).

Whatever is typed, the answer is a clear refusal (the form back with its errors, nothing saved) or a clean save;
never an exception, and never a stored control character.
"""

import re
import unicodedata

from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from openpyxl import Workbook

from borrowers.forms import HouseholdForm
from borrowers.models import Household
from borrowers.services import household_create
from organizations.errors import DomainError
from organizations.models import OfficerProfile, Organization, SavingsGroup
from organizations.selectors.scope import groups_for
from organizations.text import clean_text
from tests.factories import BranchFactory, DistrictOrganizationFactory, SavingsGroupFactory, WardFactory, officer
from tests.properties import examples

# Every code point, surrogates included; and a small alphabet of the troublemakers, so that they meet often.
ANY_CHARACTER = st.characters(exclude_categories=())
TROUBLE = st.sampled_from(
    ["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9b", "\r", "\n", "\t", "\r\n",
     "\u2028", "\u2029", "\ud800", "\udfff", "\ufffe", "\uffff", "\u0303", "\u0302", "\u200f", "\u202e", "😀",
     "<", ">", "&", "'", '"', "=", " ", "a", "e", "ễ", "Đ", "0", "9", "１"]
)
TEXT = st.one_of(st.text(ANY_CHARACTER, max_size=250), st.lists(TROUBLE, max_size=60).map("".join))
# What a browser can send: the HTTP layer turns broken UTF-8 into U+FFFD, so a request never carries a surrogate.
TYPED = TEXT.map(lambda text: text.encode("utf-8", "replace").decode("utf-8"))

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
FUZZ = settings(
    max_examples=examples(150), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ
@given(TEXT)
def test_clean_text_leaves_nothing_a_spreadsheet_or_a_database_refuses(text):
    single, multi = clean_text(text), clean_text(text, multiline=True)
    assert not CONTROL.search(single) and "\n" not in single and "\t" not in single and "\r" not in single
    assert not CONTROL.search(multi) and "\r" not in multi
    for cleaned, multiline in ((single, False), (multi, True)):
        assert clean_text(cleaned, multiline=multiline) == cleaned  # cleaning twice changes nothing
        assert unicodedata.is_normalized("NFC", cleaned)
        cleaned.encode("utf-8")  # no lone surrogate left
    Workbook().active.cell(row=1, column=1, value=multi)  # openpyxl takes it


@FUZZ
@given(TEXT)
def test_clean_text_keeps_ordinary_text(text):
    ordinary = "".join(c for c in text if not CONTROL.search(c) and c not in "\n\t\r")
    assert clean_text(ordinary) == unicodedata.normalize("NFC", ordinary)


def stored_text(model, pk):
    row = model.objects.filter(pk=pk).values().get()
    return {key: value for key, value in row.items() if isinstance(value, str)}


class FormFuzz(TestCase):
    @classmethod
    def setUpTestData(cls):
        ward = WardFactory(code="900001", name="Phường A")
        district = DistrictOrganizationFactory(area=ward.area, kind=Organization.Kind.WOMEN, name="Hội LHPN quận")
        cls.branch = BranchFactory(ward=ward, kind=Organization.Kind.WOMEN, parent=district)
        cls.group = SavingsGroupFactory(branch=cls.branch, code="8100001", name="Tổ A1")
        cls.officer = officer("ward_a", cls.branch, OfficerProfile.Role.WARD_OFFICER)

    def logged_in(self):
        client = Client()
        client.force_login(self.officer)
        return client

    def assert_refused_or_clean(self, response, model, before):
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 200:
            assert response.context["form"].errors
            assert model.objects.count() == before
            return
        created = model.objects.exclude(pk__in=self.existing[model]).get()
        for name, value in stored_text(model, created.pk).items():
            assert not CONTROL.search(value), (name, value)
            assert "\n" not in value and "\t" not in value, (name, value)  # single-line fields

    @FUZZ
    @given(head_name=TYPED, address=TYPED, citizen_id=st.one_of(TYPED, st.from_regex(r"\A0\d{11}\Z")),
           phone=st.one_of(TYPED, st.just("")), customer_code=st.one_of(TYPED, st.just("")))
    def test_the_household_form_through_its_page(self, head_name, address, citizen_id, phone, customer_code):
        self.existing = {Household: list(Household.objects.values_list("pk", flat=True))}
        data = {
            "head_name": head_name, "citizen_id": citizen_id, "customer_code": customer_code, "phone": phone,
            "address": address, "members": 3, "policy_status": "poor", "policy_list_year": 2025,
            "group": self.group.pk,
        }
        before = Household.objects.count()
        response = self.logged_in().post(reverse("borrowers:household_create"), data)
        self.assert_refused_or_clean(response, Household, before)

    @FUZZ
    @given(head_name=TEXT, address=TEXT)
    def test_the_household_form_and_service_take_any_string(self, head_name, address):
        """The form and service directly, with what no browser sends (lone surrogates): the same two outcomes."""
        data = {
            "head_name": head_name, "citizen_id": "079199000123", "address": address, "members": 3,
            "policy_status": "poor", "policy_list_year": 2025, "group": self.group.pk,
        }
        form = HouseholdForm(data, groups=groups_for(self.officer))
        if not form.is_valid():
            assert form.errors
            return
        try:
            household = household_create(data=form.cleaned_data, actor=self.officer)
        except DomainError:
            return
        stored = stored_text(Household, household.pk)
        assert not any(CONTROL.search(value) for value in stored.values()), stored
        assert stored["head_name"] == " ".join(clean_text(head_name).split())

    @FUZZ
    @given(code=st.one_of(TYPED, st.from_regex(r"\A81\d{5}\Z")), name=TYPED,
           status=st.one_of(TYPED, st.sampled_from(SavingsGroup.Status.values)),
           founded_on=st.one_of(TYPED, st.dates().map(lambda d: f"{d:%d/%m/%Y}")))
    def test_the_group_form_through_its_page(self, code, name, status, founded_on):
        self.existing = {SavingsGroup: list(SavingsGroup.objects.values_list("pk", flat=True))}
        data = {"code": code, "name": name, "branch": self.branch.pk, "status": status, "founded_on": founded_on}
        before = SavingsGroup.objects.count()
        response = self.logged_in().post(reverse("organizations:group_create"), data)
        self.assert_refused_or_clean(response, SavingsGroup, before)

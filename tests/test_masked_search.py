"""Search boxes keep the mask (organizations/access.py): roles that see citizen IDs and phones masked find a household by
the whole number only, never by its start, which would show the hidden digits one at a time. Names search as always.

Every list with a search box is here: households, loan requests, groups and loan changes, for every persona."""

from django.conf import settings
from django.test import TestCase
from django.urls import reverse
from django.utils import translation

from borrowers.forms import WHOLE_NUMBERS
from organizations.models import OfficerProfile, Organization
from tests.factories import (
    BranchFactory,
    DistrictOrganizationFactory,
    HouseholdFactory,
    LoanApplicationFactory,
    SavingsGroupFactory,
    WardFactory,
    officer,
)

Role = OfficerProfile.Role

LAN = "Phạm Thị Lan"
HUNG = "Lê Văn Hùng"
LAN_ID, HUNG_ID = "079185005555", "079185009999"  # the same first seven digits
LAN_PHONE, HUNG_PHONE = "0912345678", "0912345699"

#: What each persona types and whom the list must show. Ward officer A and the admin see the numbers in full.
FULL = {
    "0791850": {LAN, HUNG},
    "079 185 005": {LAN},
    LAN_ID: {LAN},
    "09123456": {LAN, HUNG},
    "091234567": {LAN},
    "pham thi lan": {LAN},
    "Lê Văn": {HUNG},
}
#: District staff and the Front see them masked: only the whole number, however it is written, finds a household.
MASKED = {
    "0791850": set(),
    "07918500555": set(),  # eleven of the twelve digits
    LAN_ID: {LAN},
    "079 185.005-555": {LAN},
    "０７９１８５００５５５５": {LAN},
    "09123456": set(),
    "091234567": set(),  # nine of the ten digits
    LAN_PHONE: {LAN},
    "+84 912 345 678": {LAN},
    "pham thi lan": {LAN},
    "Lê Văn": {HUNG},
}
#: Out of scope, nothing is found, whatever is typed.
NOTHING = {query: set() for query in {**FULL, **MASKED}}


class MaskedSearch(TestCase):
    @classmethod
    def setUpTestData(cls):
        ward_a = WardFactory(code="900001", name="Phường A")
        ward_b = WardFactory(code="900002", name="Phường B")
        women = DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.WOMEN, name="Hội LHPN quận")
        front = DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.FRONT, name="MTTQ quận")
        branch_a = BranchFactory(ward=ward_a, kind=Organization.Kind.WOMEN, parent=women)
        branch_b = BranchFactory(ward=ward_b, kind=Organization.Kind.WOMEN, parent=women)
        farmers_a = BranchFactory(ward=ward_a, kind=Organization.Kind.FARMERS)
        cls.group = SavingsGroupFactory(branch=branch_a, code="8100001", name="Tổ A1")
        SavingsGroupFactory(branch=branch_b, code="8100002", name="Tổ B1")
        cls.users = {
            "ward=": officer("ward_a", branch_a, Role.WARD_OFFICER),
            "ward≠": officer("ward_b", branch_b, Role.WARD_OFFICER),
            "dist=": officer("district", women, Role.DISTRICT_STAFF),
            "dist≠": officer("farmers_district", farmers_a.parent, Role.DISTRICT_STAFF),
            "front": officer("front", front, Role.FRONT_SUPERVISOR),
            "admin": officer("admin", front, Role.ADMIN),
        }
        for name, citizen_id, phone in ((LAN, LAN_ID, LAN_PHONE), (HUNG, HUNG_ID, HUNG_PHONE)):
            household = HouseholdFactory(group=cls.group, head_name=name, citizen_id=citizen_id, phone=phone)
            LoanApplicationFactory(household=household, group=cls.group, created_by=cls.users["ward="])
        cls.expected = {
            "ward=": FULL, "admin": FULL, "dist=": MASKED, "front": MASKED, "ward≠": NOTHING, "dist≠": NOTHING,
        }

    def household_names(self, query, **params):
        response = self.client.get(reverse("borrowers:household_list"), {"q": query, **params})
        self.assertEqual(response.status_code, 200)
        return {household.head_name for household in response.context["page"]}

    def request_names(self, query):
        response = self.client.get(reverse("loans:application_list"), {"q": query})
        self.assertEqual(response.status_code, 200)
        return {application.household.head_name for application in response.context["page"]}

    def test_household_list(self):
        for persona, cases in self.expected.items():
            self.client.force_login(self.users[persona])
            for query, names in cases.items():
                with self.subTest(persona=persona, query=query):
                    self.assertEqual(self.household_names(query), names)

    def test_household_list_within_a_group(self):
        """The way one would walk a group: `?q=<prefix>&group=N`."""
        for persona in ("ward=", "admin", "dist=", "front"):
            self.client.force_login(self.users[persona])
            for query, names in self.expected[persona].items():
                with self.subTest(persona=persona, query=query):
                    self.assertEqual(self.household_names(query, group=self.group.pk), names)

    def test_loan_request_list(self):
        for persona, cases in self.expected.items():
            self.client.force_login(self.users[persona])
            for query, names in cases.items():
                with self.subTest(persona=persona, query=query):
                    self.assertEqual(self.request_names(query), names)

    def test_masked_roles_are_told_to_type_the_whole_number(self):
        with translation.override(settings.LANGUAGE_CODE):
            hint = str(WHOLE_NUMBERS)
        for persona, told in (("ward=", False), ("admin", False), ("dist=", True), ("front", True)):
            self.client.force_login(self.users[persona])
            for url in (reverse("borrowers:household_list"), reverse("loans:application_list")):
                with self.subTest(persona=persona, url=url):
                    self.assertEqual(hint in self.client.get(url).content.decode(), told)

    def test_the_group_and_loan_change_searches_never_match_a_personal_number(self):
        """Their boxes take a group code or name, and a loan number; a household's number finds nothing there."""
        for persona, user in self.users.items():
            self.client.force_login(user)
            for query in ("0791850", LAN_ID, "091234567", LAN_PHONE):
                with self.subTest(persona=persona, query=query):
                    groups = self.client.get(reverse("organizations:group_list"), {"q": query})
                    self.assertEqual(groups.status_code, 200)
                    self.assertEqual(list(groups.context["page"]), [])
                    changes = self.client.get(reverse("loans:loan_changes"), {"number": query})
                    self.assertEqual(changes.status_code, 200)  # no redirect to a loan

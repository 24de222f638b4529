"""The permission matrix: every page the URL resolver knows, called by every kind of user, against declared rules.

Each page is opened (GET) and sent a form (POST) by seven personas:

    anon    nobody logged in
    ward=   a ward officer of the Women's Union branch in ward A, where every fixture object lives
    ward≠   a ward officer of the same organization in ward B
    dist=   district staff of the Women's Union
    dist≠   district staff of the Farmers' Association (it has a branch in ward A too, with nothing in it)
    front   the Front supervisor: reads everything, changes no money
    admin   an admin

Every page must be declared in RULES below: a policy (who gets what) and, for each argument of its route, the fixture
object that fills it. A page added later without a rule fails `test_every_page_has_a_rule`, so nobody can add a page
without saying who may use it. Besides the status codes:
- a POST that must be refused is checked not to have changed the database;
- the pages, exports and spreadsheets that outsiders (ward≠, dist≠) may open must not show ward A's households, groups
  or loans;
- a few pages are also tried with query parameters, and a few forms with valid data naming ward A's group, branch or
  plan: in scope they succeed, out of scope they are refused and change nothing.

Run with `-s` to see the whole matrix: rows are pages and methods, columns personas, cells what came back; an
unexpected cell is marked `!` with what was expected.

The pages read who may do what from one table, organizations/policy.py, and so do the services behind them:
tests/test_service_permissions.py calls every service that changes money, capital or a decision directly, as the
same personas (and as SYSTEM, the actor of commands and jobs), and checks that each refuses or acts as the table
says, and that each page calling such a service is decorated with the service's action.
"""

import copy
import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.apps import apps
from django.contrib import admin
from django.db import transaction
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from openpyxl import load_workbook

from borrowers.models import Household
from loans.models import (
    CapitalPlan,
    ImportBatch,
    Loan,
    LoanApplication,
    LoanChange,
    LoanList,
    LoanProgram,
    Posting,
    ReversalRequest,
    ReviewMeeting,
)
from loans.services.approvals import application_approve
from loans.services.capital import adjustment_propose, capital_plan_propose
from loans.services.changes import loan_change_request
from loans.services.collection import collection_sheet_create
from organizations.models import (
    Award,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    JobRun,
    OfficerProfile,
    Organization,
    OutreachSession,
    TrainingClass,
)
from tests.factories import (
    BranchFactory,
    DistrictOrganizationFactory,
    HouseholdFactory,
    LoanApplicationFactory,
    LoanFactory,
    SavingsGroupFactory,
    WardFactory,
    approved_allocation,
    install_reference_data,
    officer,
    submitted_loan_list,
)
from tests.url_patterns import PUBLIC, full_name, patterns, route_kwargs

Role = OfficerProfile.Role

PERSONAS = ("anon", "ward=", "ward≠", "dist=", "dist≠", "front", "admin")

# What came back, as one word: "login" (a redirect to the login page), "302" (any other redirect), or the status code.
# An expected cell names one of these, or a few separated by "/". "done" is a form that was accepted or sent back
# with its errors: anything but a refusal.
DONE = "done"
ACCEPTED_AS_DONE = {"200", "302", "400", "409", "422"}
# A form refused for naming objects outside the user's scope: sent back with its errors, or a 404.
KEPT = "kept"


@dataclass(frozen=True)
class Policy:
    get: tuple
    post: tuple

    def __post_init__(self):
        object.__setattr__(self, "get", tuple(map(str, self.get)))
        object.__setattr__(self, "post", tuple(map(str, self.post)))
        assert len(self.get) in (0, len(PERSONAS)) and len(self.post) == len(PERSONAS)

    @property
    def changes_data(self):
        return any(cell in (DONE, "302") for cell in self.post)


def page(*cells):
    """A page that only shows: a POST is refused, with 405 or the refusal the persona gets anyway."""
    get = tuple(map(str, cells))
    return Policy(
        get=get, post=tuple("login/405" if c == "login" else "405" if c == "200" else f"{c}/405" for c in get)
    )


def form(*cells):
    """A page that shows a form on GET and acts on POST: allowed personas get the form (200), the others the same
    refusal for both methods."""
    get = tuple("200" if cell == DONE else str(cell) for cell in cells)
    return Policy(get=get, post=tuple(str(cell) for cell in cells))


def action(*cells):
    """An action that only takes POST: a GET is refused (405, or the refusal the persona gets anyway)."""
    get = tuple(
        "login/405" if cell == "login" else "405" if cell == DONE else f"{cell}/405" for cell in map(str, cells)
    )
    return Policy(get=get, post=tuple(str(cell) for cell in cells))


# Cells in the order of PERSONAS: anon, ward=, ward≠, dist=, dist≠, front, admin.
POLICIES = {
    # Lists, dashboards and reports: everyone logged in; the selectors narrow what each one sees.
    "any_authenticated": page("login", 200, 200, 200, 200, 200, 200),
    # One object of ward A's Women's Union branch: its officers, its district staff, the Front and admins.
    "ward_read": page("login", 200, 404, 200, 404, 200, 200),
    # A ward's drill-down: every organization with a branch in the ward sees its own groups there.
    "ward_page": page("login", 200, 404, 200, 200, 200, 200),
    # District work screens; the Front sees the overview but not the approval queue.
    "supervision_read": page("login", 403, 403, 200, 200, 200, 200),
    "district_read": page("login", 403, 403, 200, 200, 403, 200),
    "admin_read": page("login", 403, 403, 403, 403, 403, 200),
    # Ward work: new objects in one's own branch, and changes to the branch's objects.
    "ward_create": form("login", DONE, DONE, 403, 403, 403, DONE),
    "ward_write": form("login", DONE, 404, 403, 403, 403, DONE),
    "ward_action": action("login", DONE, 404, 403, 403, 403, DONE),
    # Asked for by the ward or the district in scope (a reversal request); nothing moves until someone decides.
    "ward_or_district_action": action("login", DONE, 404, DONE, 404, 403, DONE),
    "ward_create_action": action("login", DONE, DONE, 403, 403, 403, DONE),
    # Capital proposals come from the ward branch or the district.
    "capital_propose": form("login", DONE, DONE, DONE, DONE, 403, DONE),
    # District work: plans, adjustments, disbursements; and decisions on the branch's lists, requests and changes.
    "district_create": form("login", 403, 403, DONE, DONE, 403, DONE),
    "district_write": form("login", 403, 403, DONE, 404, 403, DONE),
    "district_action": action("login", 403, 403, DONE, 404, 403, DONE),
    # Supervision records. Inspections: the Front and the district; a unit corrects only what it led (the fixture
    # inspection was led by the Women's Union district). Classes and outreach: the organizations, not the Front.
    # Agreements, models and awards: the district.
    "inspection_create": form("login", 403, 403, DONE, DONE, DONE, DONE),
    "inspection_edit": form("login", 403, 403, DONE, 404, 404, DONE),
    "record_create": form("login", DONE, DONE, DONE, DONE, 403, DONE),
    "record_edit": form("login", DONE, 404, DONE, 404, 403, DONE),
    "district_record_create": form("login", 403, 403, DONE, DONE, 403, DONE),
    "district_record_edit": form("login", 403, 403, DONE, 404, 403, DONE),
    # Bank imports: admins and users given the import permission (none of the other personas has it).
    "import": form("login", 403, 403, 403, 403, 403, DONE),
    "import_read": page("login", 403, 403, 403, 403, 403, 200),
    "import_action": action("login", 403, 403, 403, 403, 403, DONE),
    # Background jobs: admins only; a prepared export is served only to the user who asked for it (the admin here).
    "admin_action": action("login", 403, 403, 403, 403, 403, DONE),
    # Ward mergers: a form for admins only.
    "admin_form": form("login", 403, 403, 403, 403, 403, DONE),
    "any_authenticated_action": action("login", DONE, DONE, DONE, DONE, DONE, DONE),
    "own_download": page("login", 404, 404, 404, 404, 404, 404),
    # One's own account.
    "own_account": form("login", DONE, DONE, DONE, DONE, DONE, DONE),
    # A valid form naming ward A's objects (its group, branch, plan...), POST only: those who may use them succeed
    # (302); others allowed on the page have the form refused (KEPT: 200, 400 or 404) and nothing changes.
    "ward_payload": Policy(get=(), post=("login", 302, KEPT, 403, 403, 403, 302)),
    "branch_or_district_payload": Policy(get=(), post=("login", 302, KEPT, 302, KEPT, 403, 302)),
    "district_payload": Policy(get=(), post=("login", 403, 403, 302, KEPT, 403, 302)),
    # A search that leads to the object's page when it is in scope (and says nothing found otherwise).
    "found_in_scope": page("login", 302, 200, 302, 200, 302, 302),
    # Logging in (a logged-in user is sent on), logging out (POST only, back to the login page), the language.
    "login_page": Policy(get=("200",) + ("302",) * 6, post=("200",) + ("302",) * 6),
    "logout": Policy(get=("405",) * 7, post=("login",) * 7),
    "set_language": Policy(get=("302",) * 7, post=("302",) * 7),
    # What the browser fetches for itself (the web app manifest, the service worker): the same for everyone.
    "browser_file": Policy(get=("200",) * 7, post=("405",) * 7),
}


@dataclass(frozen=True)
class Rule:
    policy: str
    args: dict = field(default_factory=dict)  # route argument -> fixture object, "object.attribute" or a literal
    query: dict = field(default_factory=dict)  # query parameters, the same way
    data: dict = field(default_factory=dict)  # a valid form naming ward A's objects: only POST is tried

    def label(self, name, several):
        label = name
        if several:
            label += "".join(f"[{arg}={value}]" for arg, value in self.args.items() if arg not in ("pk",))
        if self.query:
            label += "?" + "&".join(f"{key}={value}" for key, value in self.query.items())
        if self.data:
            label += " with " + ",".join(key for key, value in self.data.items() if value in SCOPED_OBJECTS)
        return label


def rule(policy, **args):
    return Rule(policy, args)


def rules_for(name):
    """A page's rules: usually one; a few pages are also tried with other arguments or with query parameters."""
    rules = RULES[name]
    return rules if isinstance(rules, tuple) else (rules,)


#: Fixture objects of ward A's Women's Union (or its district) that a form may name.
SCOPED_OBJECTS = {"group", "branch", "open_plan", "women", "allocation", "household"}

# Every page the resolver knows. Route arguments name a fixture object (see `setUpTestData`) or give a literal.
RULES = {
    "login": rule("login_page"),
    "logout": rule("logout"),
    "set_language": rule("set_language"),
    "organizations:manifest": rule("browser_file"),
    "organizations:service_worker": rule("browser_file"),
    "password_change": rule("own_account"),
    # Households
    "borrowers:household_list": (
        rule("any_authenticated"),
        Rule("ward_read", query={"group": "group"}),  # filtering on a group outside one's scope is a 404
    ),
    "borrowers:household_create": (
        rule("ward_create"),
        Rule(
            "ward_payload",
            data={
                "head_name": "Lê Văn Mới",
                "citizen_id": "079199000123",
                "address": "1 Đường thử",
                "members": 3,
                "policy_status": "poor",
                "policy_list_year": 2025,
                "group": "group",
            },
        ),
    ),
    "borrowers:household_detail": rule("ward_read", pk="household"),
    "borrowers:household_update": rule("ward_write", pk="household"),
    "borrowers:household_move": rule("ward_write", pk="household"),
    # Requests, review meetings and 03/TD lists
    "loans:application_list": rule("any_authenticated"),
    "loans:application_detail": rule("ward_read", pk="application"),
    "loans:application_print": rule("ward_read", pk="application"),
    "loans:application_withdraw": rule("ward_action", pk="application"),
    "loans:application_create": rule("ward_write", household_pk="household"),
    "loans:meeting_create": rule("ward_write", group_pk="group"),
    "loans:meeting_detail": rule("ward_read", pk="meeting"),
    "loans:meeting_xlsx": rule("ward_read", pk="meeting"),
    "loans:list03_index": rule("any_authenticated"),
    "loans:list03_detail": rule("ward_read", pk="loan_list"),
    "loans:list03_xlsx": rule("ward_read", pk="loan_list"),
    "loans:list03_certify": rule("ward_write", pk="draft_list"),
    "loans:list03_submit": rule("ward_action", pk="draft_list"),
    # Capital
    "loans:allocation_list": rule("any_authenticated"),
    "loans:plan_set": (
        rule("district_create"),
        Rule(
            "district_payload",
            data={"organization": "women", "program": "program", "year": "next_year", "amount": 900_000_000},
        ),
    ),
    "loans:allocation_propose": (
        rule("capital_propose"),
        Rule(
            "branch_or_district_payload",
            data={"plan": "open_plan", "branch": "branch", "amount": 10_000_000, "submit": "1"},
        ),
    ),
    "loans:allocation_adjust": (
        rule("district_create"),
        Rule("district_payload", data={"target": "allocation", "amount": 1_000_000, "reason": "Bổ sung vốn"}),
    ),
    "loans:allocation_detail": rule("ward_read", pk="allocation"),
    "loans:allocation_decide": rule("district_action", pk="allocation"),
    # A new district total and an adjustment proposed by another district officer, for a second person to decide.
    "loans:capital_pending": rule("district_read"),
    "loans:plan_change_decide": (
        rule("district_action", pk="plan_change"),
        Rule("district_payload", {"pk": "plan_change"}, data={"decision": "approve"}),
    ),
    "loans:adjustment_decide": (
        rule("district_action", pk="adjustment"),
        Rule("district_payload", {"pk": "adjustment"}, data={"decision": "approve"}),
    ),
    # Approvals and disbursement
    "loans:approval_queue": rule("district_read"),
    "loans:loan_list_review": rule("district_write", pk="loan_list"),
    "loans:approval_notice": rule("ward_read", pk="loan_list"),
    "loans:application_approve": rule("district_action", pk="listed_application"),
    "loans:application_reject": rule("district_action", pk="listed_application"),
    "loans:disbursement_day": rule("district_create"),
    "loans:loan_detail": rule("ward_read", pk="loan"),
    "loans:loan_statement": rule("ward_read", pk="loan"),
    "loans:loan_statement_xlsx": rule("ward_read", pk="loan"),
    "loans:district_overview": rule("supervision_read"),
    # Collections (13/TD)
    "loans:collection_sheet_list": (rule("any_authenticated"), Rule("ward_read", query={"group": "group"})),
    "loans:collection_sheet_create": (
        rule("ward_create_action"),
        # Whatever weekday yesterday was: a weekend or holiday collection day is confirmed by the officer.
        Rule("ward_payload", data={"group": "group", "collection_on": "yesterday", "confirm_non_working_day": "on"}),
    ),
    "loans:collection_sheet_detail": rule("ward_read", pk="sheet"),
    "loans:collection_sheet_fill": rule("ward_action", pk="sheet"),
    "loans:collection_sheet_discard": rule("ward_action", pk="sheet"),
    "loans:collection_sheet_print": rule("ward_read", pk="sheet"),
    "loans:collection_sheet_xlsx": rule("ward_read", pk="sheet"),
    "loans:collection_line_detail": rule("ward_read", pk="sheet", line_pk="line"),
    "loans:collection_line_entry": rule("ward_action", pk="sheet", line_pk="line"),
    "loans:collection_line_reverse": rule("ward_or_district_action", pk="sheet", line_pk="line"),
    "loans:collection_line_correct": rule("ward_action", pk="sheet", line_pk="line"),
    "loans:posting_reverse": rule("ward_or_district_action", pk="posting"),
    "loans:reversal_requests": rule("any_authenticated"),
    "organizations:inbox": rule("any_authenticated"),
    "loans:reversal_decide": rule("district_action", pk="reversal"),
    # Loan changes, loan-use checks, statements
    "loans:loan_change_request": tuple(rule("ward_write", pk="loan", kind=kind) for kind in LoanChange.Kind.values),
    "loans:loan_use_check_record": rule("ward_write", pk="loan"),
    "loans:loan_changes": (
        rule("any_authenticated"),
        Rule("found_in_scope", query={"number": "loan.number"}),  # a loan number finds only loans in scope
    ),
    "loans:loan_change_decide": rule("district_action", pk="change"),
    "loans:loan_freeze_end": rule("district_action", pk="change"),
    "loans:loan_use_checks": (rule("any_authenticated"), Rule("ward_read", query={"branch": "branch"})),
    "loans:group_inspection_record": rule("ward_write", pk="group"),
    "loans:fee_statements": rule("any_authenticated"),
    # The bank's spreadsheets
    "loans:bank_import_list": rule("import"),
    "loans:bank_import_detail": rule("import_read", pk="batch"),
    "loans:bank_import_progress": rule("import_read", pk="batch"),
    "loans:bank_import_confirm": rule("import_action", pk="batch"),
    "loans:bank_import_accept": rule("import_action", pk="batch"),
    "loans:bank_import_errors": rule("import_read", pk="batch"),
    "loans:bank_export_page": rule("any_authenticated"),
    "loans:bank_export_prepare": rule("any_authenticated_action", kind="groups", fmt="xlsx"),
    "loans:bank_export_jobs": rule("any_authenticated"),
    "loans:bank_export_download": rule("own_download", pk="export_run"),
    "loans:bank_export": tuple(
        rule("any_authenticated", kind=kind, fmt="csv") for kind in ("loans", "transactions", "groups", "households")
    ),
    # Reports
    "loans:report_ward": rule("ward_page", pk="ward"),
    "loans:report_group": rule("ward_read", pk="group"),
    "loans:report": (
        *(rule("any_authenticated", layout=layout) for layout in ("bctd_01_1", "bctd_01_2", "bc0438", "len_31")),
        Rule("any_authenticated", {"layout": "bctd_01_1"}, {"ward": "ward"}),
    ),
    # Groups, grades, the login log
    "organizations:home": rule("any_authenticated"),
    "organizations:picker_wards": rule("any_authenticated"),
    "organizations:picker_groups": rule("any_authenticated"),
    "organizations:group_list": rule("any_authenticated"),
    "organizations:group_create": (
        rule("ward_create"),
        Rule("ward_payload", data={"code": "8100009", "name": "Tổ mới", "branch": "branch", "status": "suspended"}),
    ),
    "organizations:group_detail": rule("ward_read", pk="group"),
    "organizations:group_update": rule("ward_write", pk="group"),
    "organizations:group_grades": rule("any_authenticated"),
    "organizations:group_grade_history": rule("ward_read", pk="group"),
    "organizations:login_log": rule("admin_read"),
    "organizations:job_list": rule("admin_read"),
    # The merge itself is tested in tests/test_ward_merger_page.py.
    "organizations:ward_merge": rule("admin_form"),
    "organizations:job_retry": rule("admin_action", pk="job_run"),
    # Supervision work
    "organizations:supervision_summary": rule("any_authenticated"),
    "organizations:supervision_summary_xlsx": rule("any_authenticated"),
    "organizations:inspection_detail": rule("ward_read", pk="inspection"),
    "organizations:supervision_inspections": rule("any_authenticated"),
    "organizations:supervision_inspections_new": rule("inspection_create"),
    "organizations:supervision_inspections_edit": rule("inspection_edit", pk="inspection"),
    "organizations:supervision_training": rule("any_authenticated"),
    "organizations:supervision_training_new": (
        rule("record_create"),
        Rule(
            "branch_or_district_payload",
            data={
                "held_on": "today",
                "topic": "Ghi chép sổ sách",
                "organization": "branch",
                "participants": 12,
                "attendances": 12,
            },
        ),
    ),
    "organizations:supervision_training_edit": rule("record_edit", pk="training_class"),
    "organizations:supervision_outreach": rule("any_authenticated"),
    "organizations:supervision_outreach_new": rule("record_create"),
    "organizations:supervision_outreach_edit": rule("record_edit", pk="outreach_session"),
    "organizations:supervision_agreements": rule("any_authenticated"),
    "organizations:supervision_agreements_new": (
        rule("district_record_create"),
        Rule("district_payload", data={"branch": "branch", "reference": "02/TTLT", "signed_on": "today"}),
    ),
    "organizations:supervision_agreements_edit": rule("district_record_edit", pk="agreement"),
    "organizations:supervision_models": rule("any_authenticated"),
    "organizations:supervision_models_new": (
        rule("district_record_create"),
        Rule(
            "district_payload",
            data={
                "name": "Nuôi bò sinh sản",
                "organization": "branch",
                "started_on": "today",
                "households": "household",
            },
        ),
    ),
    "organizations:supervision_models_edit": rule("district_record_edit", pk="economic_model"),
    "organizations:supervision_awards": rule("any_authenticated"),
    "organizations:supervision_awards_new": rule("district_record_create"),
    "organizations:supervision_awards_edit": rule("district_record_edit", pk="award"),
}

ROUTES = sorted({(full_name(ns, name), route) for ns, name, route in patterns()})


def test_every_page_has_a_rule():
    missing = [name for name, _route in ROUTES if name not in RULES]
    assert not missing, (
        f"No permission rule for {', '.join(missing)}. Declare who may use each new page in RULES of "
        "tests/test_permission_matrix.py: a policy from POLICIES (add one if none fits) and, for each argument of "
        "its route, the fixture object that fills it. Scope the view first (role_required, a *_for(user) selector)."
    )
    gone = sorted(set(RULES) - {name for name, _route in ROUTES})
    assert not gone, f"RULES names pages the resolver no longer knows: {', '.join(gone)}"
    for name, route in ROUTES:
        for page_rule in rules_for(name):
            assert page_rule.policy in POLICIES, f"{name}: unknown policy {page_rule.policy!r}"
            unfilled = set(route_kwargs(route)) - set(page_rule.args)
            assert not unfilled, f"{name}: say which fixture object fills {', '.join(sorted(unfilled))} in RULES"


def test_the_public_pages_are_the_ones_the_anonymous_test_skips():
    public = {name for name in RULES if rules_for(name)[0].policy in ("login_page", "logout", "set_language",
                                                                                "browser_file")}
    assert public == PUBLIC & {name for name, _ in ROUTES}


def outcome(response):
    if response.status_code == 302:
        return "login" if response["Location"].startswith(reverse("login")) else "302"
    return str(response.status_code)


def expected_outcomes(cell):
    if cell == DONE:
        return ACCEPTED_AS_DONE
    if cell == KEPT:
        return {"200", "400", "404"}
    return set(cell.split("/"))


#: Personas with nothing in ward A's Women's Union branch: its households, groups and loans never show on their pages.
OUTSIDERS = ("ward≠", "dist≠")


def text_of(response):
    """The text of an HTML, CSV or spreadsheet answer."""
    content_type = response["Content-Type"]
    if not content_type.startswith(("text/", "application/json", XLSX)):
        return ""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content_type.startswith(XLSX):
        workbook = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(
            str(value) for sheet in workbook for row in sheet.iter_rows(values_only=True) for value in row if value
        )
    return content.decode(response.charset or "utf-8", errors="replace")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def database_fingerprint():
    """A digest of every row the application keeps (sessions and login records aside)."""
    digest = hashlib.sha256()
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in ("sessions", "axes", "admin", "contenttypes") or model._meta.proxy:
            continue
        rows = model._default_manager.order_by("pk").values_list()
        digest.update(model._meta.label.encode())
        for row in rows:  # PostgreSQL gives binary columns as memoryview, whose repr is an address
            digest.update(repr([bytes(v) if isinstance(v, memoryview) else v for v in row]).encode())
    return digest.hexdigest()


class PermissionMatrix(TestCase):
    @classmethod
    def setUpTestData(cls):
        install_reference_data()
        today = timezone.localdate()
        ward_a = WardFactory(code="900001", name="Phường A")
        ward_b = WardFactory(code="900002", name="Phường B")
        front = DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.FRONT, name="MTTQ quận thử")
        women = DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.WOMEN, name="Hội LHPN quận")
        branch_a = BranchFactory(ward=ward_a, kind=Organization.Kind.WOMEN, parent=women)
        branch_b = BranchFactory(ward=ward_b, kind=Organization.Kind.WOMEN, parent=women)
        farmers_a = BranchFactory(ward=ward_a, kind=Organization.Kind.FARMERS)
        cls.users = {
            "ward=": officer("ward_a", branch_a, Role.WARD_OFFICER),
            "ward≠": officer("ward_b", branch_b, Role.WARD_OFFICER),
            "dist=": officer("district", women, Role.DISTRICT_STAFF),
            "dist≠": officer("farmers_district", farmers_a.parent, Role.DISTRICT_STAFF),
            "front": officer("front", front, Role.FRONT_SUPERVISOR),
            "admin": officer("admin", front, Role.ADMIN),
        }
        ward_officer, district_staff = cls.users["ward="], cls.users["dist="]

        group = SavingsGroupFactory(branch=branch_a, code="8100001", name="Tổ A1")
        SavingsGroupFactory(branch=branch_b, code="8100002", name="Tổ B1")
        household = HouseholdFactory(group=group, head_name="Nguyễn Thị Ánh")
        loan = LoanFactory(household=household, disbursed_on=today - timedelta(days=60))
        # A second loan carries the pending change, so that the first one can still be asked for a change.
        changed_loan = LoanFactory(household=HouseholdFactory(group=group), disbursed_on=today - timedelta(days=60))
        change = loan_change_request(
            loan=changed_loan, kind=LoanChange.Kind.FREEZE, reason="Hỏa hoạn", actor=ward_officer, months=36
        )
        loan_list = submitted_loan_list(group=group, submitted_by=ward_officer)
        allocation = approved_allocation(branch=branch_a, amount=500_000_000, plan_amount=2_000_000_000)
        # One request of the list approved (it waits for the disbursement day), the other still to decide.
        waiting, approved = loan_list.applications.order_by("pk")
        application_approve(application=approved, amount=approved.amount_group_approved, actor=district_staff)
        draft_list = LoanList.objects.create(
            group=group,
            meeting=ReviewMeeting.objects.create(
                group=group, held_on=today, attendee_count=1, recorded_by=ward_officer
            ),
        )
        approved = LoanApplicationFactory(
            household=HouseholdFactory(group=group), group=group, created_by=ward_officer, meeting=draft_list.meeting
        )
        approved.transition_to(LoanApplication.Status.GROUP_APPROVED, actor=ward_officer, note="Bình xét đồng ý")
        approved.amount_group_approved, approved.loan_list = approved.amount_requested, draft_list
        approved.save(update_fields=["amount_group_approved", "loan_list", "updated_at"])
        sheet = collection_sheet_create(group=group, on=today, actor=ward_officer)
        maker = officer("district_maker", women, Role.DISTRICT_STAFF)  # none of the personas: any of them may check
        cls.literals = {
            "today": f"{today:%d/%m/%Y}",
            "yesterday": f"{today - timedelta(days=1):%d/%m/%Y}",
            "next_year": today.year + 1,
        }
        cls.objects = {
            "women": women,
            "program": LoanProgram.objects.get(code="01"),
            "ward": ward_a,
            "branch": branch_a,
            "group": group,
            "household": household,
            "loan": loan,
            "change": change,
            "posting": Posting.objects.get(loan=loan, kind=Posting.Kind.DISBURSEMENT),
            # Asked for by district staff who is none of the personas, so that any of them may decide it.
            "reversal": ReversalRequest.objects.create(
                posting=Posting.objects.get(loan=loan, kind=Posting.Kind.DISBURSEMENT), reason="Giải ngân nhầm",
                requested_by=maker,
            ),
            "application": LoanApplicationFactory(household=household, group=group, created_by=ward_officer),
            "loan_list": loan_list,
            "listed_application": waiting,
            "meeting": loan_list.meeting,
            "draft_list": draft_list,
            "allocation": allocation,
            "plan": allocation.plan,
            "plan_change": capital_plan_propose(
                organization=women, program=allocation.plan.program, year=today.year, amount=2_100_000_000,
                actor=maker,
            ),
            "adjustment": adjustment_propose(target=allocation, amount=1_000_000, reason="Bổ sung", actor=maker),
            # A plan with nothing allocated yet, so that a branch may still ask for a share of it.
            "open_plan": CapitalPlan.objects.create(
                organization=women, program=LoanProgram.objects.get(code="03"), year=today.year, amount=900_000_000
            ),
            "sheet": sheet,
            "line": sheet.lines.first(),
            "batch": ImportBatch.objects.create(
                kind="loans",
                file_name="du-no.xlsx",
                sha256="0" * 64,
                content=b"",
                created_by=cls.users["admin"],
                status=ImportBatch.Status.FAILED,
            ),
            "job_run": JobRun.objects.create(name="snapshots", key="2026-01-01", status=JobRun.Status.FAILED),
            # The admin's export, whose file is no longer kept: a 404 for everyone, the owner included.
            "export_run": JobRun.objects.create(
                name="bank_export", key="x", status=JobRun.Status.DONE, requested_by=cls.users["admin"], file="gone.xlsx"
            ),
            "inspection": Inspection.objects.create(
                inspected_on=today,
                lead_unit=women,
                team_members="Trần Văn A",
                inspected_group=group,
                recorded_by=district_staff,
            ),
            "training_class": TrainingClass.objects.create(
                held_on=today,
                topic="Quản lý tổ",
                organization=branch_a,
                participants=10,
                attendances=10,
                recorded_by=ward_officer,
            ),
            "outreach_session": OutreachSession.objects.create(
                held_on=today,
                topic="Vay vốn đúng mục đích",
                organization=branch_a,
                audience=40,
                recorded_by=ward_officer,
            ),
            "agreement": CooperationAgreement.objects.create(  # ended, so that a new one may be recorded
                branch=branch_a,
                reference="01/TTLT",
                signed_on=today - timedelta(days=400),
                terminated_on=today - timedelta(days=10),
                recorded_by=district_staff,
            ),
            "economic_model": EconomicModel.objects.create(
                name="Nuôi gà thả vườn", organization=branch_a, started_on=today, recorded_by=district_staff
            ),
            "award": Award.objects.create(
                awarded_on=today,
                organization=branch_a,
                level=Award.Level.AREA,
                title="Giấy khen",
                reason="Tổ tốt nhiều năm",
                recorded_by=district_staff,
            ),
        }

    def value(self, spec):
        """A fixture object's pk ("household"), one of its attributes ("loan.number"), a date, or the literal itself."""
        if not isinstance(spec, str):
            return spec
        if spec in self.literals:
            return self.literals[spec]
        obj, _dot, attribute = spec.partition(".")
        if obj not in self.objects:
            return spec
        return getattr(self.objects[obj], attribute or "pk")

    def form_data(self, page_rule):
        return {key: self.value(spec) for key, spec in page_rule.data.items()}

    def path(self, name, page_rule):
        path = reverse(name, kwargs={arg: self.value(spec) for arg, spec in page_rule.args.items()})
        if page_rule.query:
            path += "?" + urlencode({key: self.value(spec) for key, spec in page_rule.query.items()})
        return path

    def call(self, client, method, path, *, check_unchanged, outsider, data=None, expect_success=False):
        """One request, undone afterwards so that every cell sees the same data. Returns (outcome, note)."""
        savepoint = transaction.savepoint()
        cookies = copy.deepcopy(client.cookies)  # logging out, or choosing a language, lasts for one cell only
        try:
            try:
                response = getattr(client, method)(path, data) if data else getattr(client, method)(path)
            except Exception as error:  # a crash is a cell of its own, not the end of the matrix
                return "500", f"{type(error).__name__}: {error}"
            result, note = outcome(response), ""
            if result == "200" and data and expect_success:
                form = (response.context or {}).get("form")
                note = f"the form came back: {form.errors.as_text()}" if form is not None else ""
            # Django's own login and method checks answer before the view runs; anything later is checked.
            if check_unchanged and result not in ("login", "405") and database_fingerprint() != self.baseline:
                note = "changed the database"
            elif outsider and result == "200":
                # What the visitor typed (a loan number searched for) may be said back to them.
                shown = [secret for secret in self.secrets if secret in text_of(response) and secret not in path]
                if shown:
                    note = f"shows ward A's {', '.join(shown)}"
            return result, note
        finally:
            transaction.savepoint_rollback(savepoint)
            client.cookies = cookies

    def test_the_fingerprint_sees_a_change(self):
        before = database_fingerprint()
        self.objects["household"].__class__.objects.filter(pk=self.objects["household"].pk).update(address="Khác")
        assert database_fingerprint() != before

    def test_the_django_admin_is_for_admins_only(self):
        """The admin site (left out of the matrix: it has its own login) opens for admins only, model by model."""
        pages = [reverse("admin:index")] + [
            reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            for model in admin.site._registry
        ]
        for persona in PERSONAS:
            client = Client()
            if persona != "anon":
                client.force_login(self.users[persona])
            for path in pages:
                response = client.get(path)
                if persona == "admin":
                    assert response.status_code == 200, f"{path} as admin: {response.status_code}"
                else:
                    assert response.status_code == 302, f"{path} as {persona}: {response.status_code}"
                    assert response["Location"].startswith(reverse("admin:login")), f"{path} as {persona}"

    def test_matrix(self):
        """Every URL the resolver knows, for each persona, GET and POST, with the database fingerprinted around each
        refused POST: one test of all of them (about 20 s), so that a new page without a rule fails here at once."""
        clients = {"anon": Client()}
        for persona, user in self.users.items():
            clients[persona] = Client()
            clients[persona].force_login(user)
        self.baseline = database_fingerprint()
        # What only ward A's Women's Union, its district and the Front may see; outsiders' pages must not show it.
        household = self.objects["household"]
        self.secrets = [
            household.customer_code,
            household.citizen_id,
            "Tổ A1",
            *Household.objects.values_list("head_name", flat=True),  # every household is in ward A's branch
            *Loan.objects.values_list("number", flat=True),
        ]

        rows, problems = [], []
        request_log = logging.getLogger("django.request")
        level, request_log.level = request_log.level, logging.CRITICAL  # 403s and 404s are the point here
        self.addCleanup(setattr, request_log, "level", level)
        for name, _route in ROUTES:
            if name not in RULES:
                problems.append(f"{name}: no rule (see test_every_page_has_a_rule)")
                continue
            several = len(rules_for(name)) > 1
            for page_rule in rules_for(name):
                rows.extend(self.row(clients, name, page_rule, several, problems))

        print_matrix(rows)
        assert not problems, "Unexpected cells in the permission matrix:\n" + "\n".join(problems)

    def row(self, clients, name, page_rule, several, problems):
        policy = POLICIES[page_rule.policy]
        path = self.path(name, page_rule)
        data = self.form_data(page_rule)
        for method, expected in (("get", policy.get), ("post", policy.post)):
            if not expected:
                continue
            cells = []
            for persona, cell in zip(PERSONAS, expected, strict=True):
                refused = cell == KEPT or not expected_outcomes(cell) & {"200", "302"}
                check = method == "post" and policy.changes_data and refused
                outsider = persona in OUTSIDERS
                got, note = self.call(
                    clients[persona],
                    method,
                    path,
                    check_unchanged=check,
                    outsider=outsider,
                    data=data,
                    expect_success=cell == "302",
                )
                if got not in expected_outcomes(cell) or note:
                    cells.append(f"{got}!{cell}" + ("*" if note else ""))
                    problems.append(
                        f"{method.upper()} {path} ({name}) as {persona}: got {got}, expected {cell}"
                        + (f" ({note})" if note else "")
                    )
                else:
                    cells.append(got)
            yield (f"{page_rule.label(name, several)} {method.upper()}", page_rule.policy, cells)


def print_matrix(rows):
    width = max(len(row[0]) for row in rows)
    policy_width = max(len(row[1]) for row in rows)
    cell_width = max(8, *(len(cell) for row in rows for cell in row[2]))
    header = f"{'page':<{width}}  {'policy':<{policy_width}}  " + " ".join(f"{p:>{cell_width}}" for p in PERSONAS)
    lines = [
        "",
        "Permission matrix (login = sent to log in; x!y = got x, expected y; * = see the note below the table)",
        header,
    ]
    lines.append("-" * len(header))
    for label, policy, cells in rows:
        lines.append(f"{label:<{width}}  {policy:<{policy_width}}  " + " ".join(f"{c:>{cell_width}}" for c in cells))
    print("\n".join(lines))

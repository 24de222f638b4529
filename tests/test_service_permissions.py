"""Every service that changes money, capital or a decision refuses, by itself, whoever organizations/policy.py does not
allow, whatever calls it: a page, a command, a job or a future API.

Each guarded service is called directly as each persona of tests/test_permission_matrix.py (which checks the pages)
and as SYSTEM, the actor of commands and scheduled jobs:

    ward=   a ward officer of the Women's Union branch in ward A, where every object lives
    ward≠   a ward officer of the same organization in ward B
    dist=   district staff of the Women's Union
    dist≠   district staff of the Farmers' Association
    front   the Front supervisor: changes no money
    admin   an admin
    system  SYSTEM

It must act (and change the database) or refuse (DomainError, the database untouched) exactly as the table says:
without one of the action's roles, the role refusal; with it but outside one's scope, the scope refusal. The data is
built once for the module; each call is undone afterwards. The static tests at the end check that every action of
the table is read by a service and a page, and that each page calling a guarded service reads the service's action.
"""

import ast
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import transaction

from loans.bankfiles.importing import import_confirm, import_upload
from loans.bankfiles.reconciliation import reconciliation_accept
from loans.models import (
    CapitalPlan,
    ImportBatch,
    LoanChange,
    LoanList,
    LoanProgram,
    Posting,
    ReconciliationItem,
)
from loans.services import approvals, capital, changes, checks, collection, disbursement, requests
from loans.services.collection_reversals import reversal_decide, reversal_request
from organizations import access
from organizations.errors import DomainError
from organizations.models import OfficerProfile, Organization
from organizations.policy import POLICY, SYSTEM
from organizations.services.mergers import wards_merge
from tests.factories import (
    BranchFactory,
    DistrictOrganizationFactory,
    HouseholdFactory,
    LoanFactory,
    SavingsGroupFactory,
    WardFactory,
    approved_allocation,
    install_reference_data,
    officer,
    submitted_loan_list,
)
from tests.test_permission_matrix import database_fingerprint

Role = OfficerProfile.Role
ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 6, 16)  # a Tuesday

PERSONAS = ("ward=", "ward≠", "dist=", "dist≠", "front", "admin", "system")
ROLES = {
    "ward=": Role.WARD_OFFICER,
    "ward≠": Role.WARD_OFFICER,
    "dist=": Role.DISTRICT_STAFF,
    "dist≠": Role.DISTRICT_STAFF,
    "front": Role.FRONT_SUPERVISOR,
    "admin": Role.ADMIN,
}
#: Personas with nothing in ward A's Women's Union branch.
OUTSIDERS = ("ward≠", "dist≠")


# --- The data, built once ------------------------------------------------------------------------------------------


class World(dict):
    __getattr__ = dict.__getitem__


def build():
    install_reference_data()
    first = {"held_on": TODAY, "attendee_count": 1, "attendees": "Các hộ thành viên", "branch_officer": "Cán bộ hội",
             "attendance_confirmed": True}
    w = World()
    ward_a = WardFactory(code="900001", name="Phường A")
    ward_b = WardFactory(area=ward_a.area, code="900002", name="Phường B")
    # Two wards with nothing in them, for a merger that nothing else blocks.
    w.ward_c = WardFactory(area=ward_a.area, code="900003", name="Phường C")
    w.ward_d = WardFactory(area=ward_a.area, code="900004", name="Phường D")
    front = DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.FRONT, name="MTTQ quận thử")
    w.women = DistrictOrganizationFactory(area=ward_a.area, kind=Organization.Kind.WOMEN, name="Hội LHPN quận")
    w.branch = BranchFactory(ward=ward_a, kind=Organization.Kind.WOMEN, parent=w.women)
    branch_b = BranchFactory(ward=ward_b, kind=Organization.Kind.WOMEN, parent=w.women)
    farmers_a = BranchFactory(ward=ward_a, kind=Organization.Kind.FARMERS)
    w.users = {
        "ward=": officer("ward_a", w.branch, Role.WARD_OFFICER),
        "ward≠": officer("ward_b", branch_b, Role.WARD_OFFICER),
        "dist=": officer("district", w.women, Role.DISTRICT_STAFF),
        "dist≠": officer("farmers_district", farmers_a.parent, Role.DISTRICT_STAFF),
        "front": officer("front", front, Role.FRONT_SUPERVISOR),
        "admin": officer("admin", front, Role.ADMIN),
        "system": SYSTEM,
    }
    ward, maker = w.users["ward="], officer("district_maker", w.women, Role.DISTRICT_STAFF)  # maker: no persona
    w.group = SavingsGroupFactory(branch=w.branch, code="8100001", name="Tổ A1")
    SavingsGroupFactory(branch=branch_b, code="8100002", name="Tổ B1")
    w.program = LoanProgram.objects.get(code="01")

    # Loans: one free of changes, one with a freeze asked for, one frozen.
    disbursed = TODAY - timedelta(days=60)
    w.household = HouseholdFactory(group=w.group, head_name="Nguyễn Thị Ánh")
    w.loan = LoanFactory(household=w.household, disbursed_on=disbursed)
    asked = LoanFactory(household=HouseholdFactory(group=w.group), disbursed_on=disbursed)
    w.change = changes.loan_change_request(loan=asked, kind=LoanChange.Kind.FREEZE, reason="Hỏa hoạn", months=36,
                                           actor=ward)
    frozen = LoanFactory(household=HouseholdFactory(group=w.group), disbursed_on=disbursed)
    w.freeze = changes.loan_change_decide(
        change=changes.loan_change_request(loan=frozen, kind=LoanChange.Kind.FREEZE, reason="Lũ", months=36,
                                           actor=ward),
        approve=True, actor=maker,
    )

    # Capital: proposals by a second district officer, for any persona to decide.
    w.allocation = approved_allocation(branch=w.branch, amount=500_000_000, plan_amount=2_000_000_000)
    w.plan_change = capital.capital_plan_propose(organization=w.women, program=w.program, year=TODAY.year,
                                                 amount=2_100_000_000, actor=maker)
    w.adjustment = capital.adjustment_propose(target=w.allocation, amount=1_000_000, reason="Bổ sung", actor=maker)
    w.open_plan = CapitalPlan.objects.create(organization=w.women, program=LoanProgram.objects.get(code="03"),
                                             year=TODAY.year, amount=900_000_000)
    w.proposal = capital.allocation_propose(plan=w.open_plan, branch=w.branch, amount=10_000_000, actor=maker)

    # Requests: a draft, a list to certify, a certified list, a submitted list with one request approved.
    def request(household=None):
        return requests.application_create(
            household=household or HouseholdFactory(group=w.group), program=w.program, amount=30_000_000,
            term_months=36, purpose="Chăn nuôi", actor=ward,
        )

    def reviewed_list():
        application = request()
        meeting = requests.application_review(
            group=w.group, results=[requests.ReviewResult(application, requests.ReviewResult.APPROVE,
                                                          Decimal(30_000_000))],
            actor=ward, **first,
        )
        return LoanList.objects.get(meeting=meeting)

    w.newcomer = HouseholdFactory(group=w.group)
    w.draft = request()
    w.draft_list = reviewed_list()
    w.certified_list = requests.loan_list_certify(loan_list=reviewed_list(), certified_on=TODAY, signer="Chủ tịch",
                                                  reference="12/XN", actor=ward)
    w.submitted_list = submitted_loan_list(group=w.group, submitted_by=ward)
    w.waiting, w.approved = w.submitted_list.applications.order_by("pk")
    approvals.application_approve(application=w.approved, amount=w.approved.amount_group_approved, actor=maker)

    # Collections: a posted day with a deposit from each borrowing household, then today's draft.
    posted = collection.collection_sheet_create(group=w.group, on=TODAY - timedelta(days=7), actor=ward)
    collection.collection_sheet_post(sheet=posted, entries={line.pk: (0, 10_000, 0) for line in posted.lines.all()},
                                     actor=ward)
    deposits = list(Posting.objects.filter(kind=Posting.Kind.SAVINGS_IN, collection_lines__sheet=posted)
                    .order_by("pk"))
    w.line = deposits[0].collection_lines.get()
    w.deposit = deposits[1]
    w.reversal = reversal_request(posting=deposits[2], reason="Ghi nhầm", actor=ward)
    w.disbursement = Posting.objects.get(loan=w.loan, kind=Posting.Kind.DISBURSEMENT)
    w.sheet = collection.collection_sheet_create(group=w.group, on=TODAY, actor=ward)

    # The bank's files: one checked and waiting for confirmation, one imported with a difference.
    admin = w.users["admin"]
    w.previewed = ImportBatch.objects.create(kind="loans", file_name="du-no.xlsx", sha256="1" * 64, content=b"",
                                             created_by=admin, status=ImportBatch.Status.PREVIEWED)
    done = ImportBatch.objects.create(kind="loans", file_name="du-no-cu.xlsx", sha256="2" * 64, content=b"",
                                      created_by=admin, status=ImportBatch.Status.DONE)
    w.household.refresh_from_db()
    w.difference = ReconciliationItem.objects.create(
        batch=done, household=w.household, figure=ReconciliationItem.Figure.SAVINGS,
        ledger_value=w.household.savings_balance, bank_value=w.household.savings_balance + 50_000,
    )
    return w


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The data, built once in a transaction undone after the module; each test runs in a savepoint inside it."""
    with django_db_blocker.unblock(), time_machine.travel(f"{TODAY} 09:00 +0700", tick=False):
        with transaction.atomic():
            built = build()
            built.baseline = database_fingerprint()
            yield built
            transaction.set_rollback(True)


# --- The services, each called with valid data ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    action: str
    call: Callable
    #: The object named is in ward A's Women's Union branch, so outsiders are refused it as out of scope.
    scoped: bool = True

    def __str__(self):
        return self.name


CASES = [
    Case("capital_plan_propose", "capital.propose", lambda w, actor: capital.capital_plan_propose(
        organization=w.women, program=w.program, year=TODAY.year + 1, amount=900_000_000, actor=actor)),
    Case("adjustment_propose", "capital.propose", lambda w, actor: capital.adjustment_propose(
        target=w.allocation, amount=2_000_000, reason="Thêm hộ nghèo", actor=actor)),
    Case("allocation_propose", "allocation.propose", lambda w, actor: capital.allocation_propose(
        plan=w.open_plan, branch=w.branch, amount=20_000_000, actor=actor)),
    Case("capital_plan_decide", "capital.decide", lambda w, actor: capital.capital_plan_decide(
        change=w.plan_change, approve=True, actor=actor)),
    Case("allocation_decide", "capital.decide", lambda w, actor: capital.allocation_decide(
        allocation=w.proposal, approve=True, actor=actor)),
    Case("adjustment_decide", "capital.decide", lambda w, actor: capital.adjustment_decide(
        adjustment=w.adjustment, approve=True, actor=actor)),
    Case("application_create", "application.create", lambda w, actor: requests.application_create(
        household=w.newcomer, program=w.program, amount=20_000_000, term_months=24, purpose="Buôn bán",
        actor=actor)),
    Case("application_withdraw", "application.withdraw", lambda w, actor: requests.application_withdraw(
        application=w.draft, reason="Không vay nữa", actor=actor)),
    Case("application_review", "review.record", lambda w, actor: requests.application_review(
        group=w.group, held_on=TODAY, attendee_count=1, attendees="Các hộ", branch_officer="Cán bộ hội",
        attendance_confirmed=True, actor=actor,
        results=[requests.ReviewResult(w.draft, requests.ReviewResult.APPROVE, Decimal(25_000_000))])),
    Case("loan_list_certify", "loan_list.certify", lambda w, actor: requests.loan_list_certify(
        loan_list=w.draft_list, certified_on=TODAY, signer="Chủ tịch", reference="13/XN", actor=actor)),
    Case("loan_list_submit", "loan_list.submit", lambda w, actor: requests.loan_list_submit(
        loan_list=w.certified_list, actor=actor)),
    Case("application_approve", "application.decide", lambda w, actor: approvals.application_approve(
        application=w.waiting, amount=30_000_000, actor=actor)),
    Case("application_reject", "application.decide", lambda w, actor: approvals.application_reject(
        application=w.waiting, reason="Không đủ điều kiện", actor=actor)),
    Case("loan_list_approve", "application.decide", lambda w, actor: approvals.loan_list_approve(
        loan_list=w.submitted_list, amounts={w.waiting.pk: 30_000_000}, actor=actor)),
    Case("loan_disburse", "loan.disburse", lambda w, actor: disbursement.loan_disburse(
        application=w.approved, loan_number="7900000000000101", on=TODAY, amount=20_000_000, term_months=36,
        frequency=3, actor=actor)),
    Case("loans_disburse", "loan.disburse", lambda w, actor: disbursement.loans_disburse(
        items=[{"application": w.approved, "loan_number": "7900000000000102", "amount": 20_000_000,
                "term_months": 36, "frequency": 3}], on=TODAY, actor=actor)),
    Case("collection_sheet_create", "collection.create", lambda w, actor: collection.collection_sheet_create(
        group=w.group, on=TODAY - timedelta(days=1), actor=actor)),
    Case("collection_sheet_save", "collection.save", lambda w, actor: collection.collection_sheet_save(
        sheet=w.sheet, entries={line.pk: (0, 20_000, 0) for line in w.sheet.lines.all()}, actor=actor)),
    Case("collection_sheet_post", "collection.post", lambda w, actor: collection.collection_sheet_post(
        sheet=w.sheet, entries={line.pk: (0, 20_000, 0) for line in w.sheet.lines.all()}, actor=actor)),
    Case("collection_sheet_discard", "collection.discard", lambda w, actor: collection.collection_sheet_discard(
        sheet=w.sheet, actor=actor)),
    Case("reversal_request of a row", "reversal.request", lambda w, actor: reversal_request(
        line=w.line, reason="Ghi nhầm cả dòng", actor=actor)),
    Case("reversal_request of a posting", "reversal.request", lambda w, actor: reversal_request(
        posting=w.deposit, reason="Ghi nhầm số tiền", actor=actor)),
    Case("reversal_decide", "reversal.decide", lambda w, actor: reversal_decide(
        request=w.reversal, approve=True, actor=actor)),
    Case("reversal_request of a disbursement", "disbursement_reversal.request", lambda w, actor: reversal_request(
        posting=w.disbursement, reason="Giải ngân nhầm khế ước", actor=actor)),
    Case("loan_change_request", "loan_change.request", lambda w, actor: changes.loan_change_request(
        loan=w.loan, kind=LoanChange.Kind.EXTENSION, reason="Mất mùa", months=6, actor=actor)),
    Case("loan_change_decide", "loan_change.decide", lambda w, actor: changes.loan_change_decide(
        change=w.change, approve=True, actor=actor)),
    Case("loan_freeze_end", "freeze.end", lambda w, actor: changes.loan_freeze_end(
        change=w.freeze, actor=actor)),
    Case("loan_use_check_record", "loan_use_check.record", lambda w, actor: checks.loan_use_check_record(
        loan=w.loan, result="as_planned", notes="Đã mua bò giống", checked_on=TODAY, actor=actor)),
    Case("group_inspection_record", "group_inspection.record", lambda w, actor: checks.group_inspection_record(
        group=w.group, inspected_on=TODAY, findings="Sổ sách đầy đủ", actor=actor)),
    Case("import_upload", "bank_import.run", lambda w, actor: import_upload(
        kind="loans", file_name="du-no-moi.xlsx", content=b"new file", actor=actor, run=False), scoped=False),
    Case("import_confirm", "bank_import.run", lambda w, actor: import_confirm(
        batch=w.previewed, actor=actor, run=False), scoped=False),
    Case("reconciliation_accept", "bank_import.run", lambda w, actor: reconciliation_accept(
        batch=w.difference.batch, item_ids=[w.difference.pk], actor=actor), scoped=False),
    Case("wards_merge", "ward.merge", lambda w, actor: wards_merge(
        sources=[w.ward_c, w.ward_d], code=w.ward_c.code, name="Phường Mới", merged_on=TODAY, actor=actor),
        scoped=False),
]


def expected(case, persona):
    """What the table says `persona` gets from `case`: "done", or the refusal "role", "scope" or "system"."""
    rule = POLICY[case.action]
    if persona == "system":
        return "done" if rule.system else "system"
    if ROLES[persona] not in rule.roles:
        return "role"
    if case.scoped and persona in OUTSIDERS:
        return "scope"
    return "done"


REFUSALS = {
    "role": "Your role does not allow you to {label}.",
    "scope": "You cannot {label} here: it belongs to a ward branch or organization you do not work for.",
    "system": "A command or scheduled job cannot {label} on its own",
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_service_acts_or_refuses_as_the_table_says(world, case, persona, english, db):
    want = expected(case, persona)
    try:
        case.call(world, world.users[persona])
    except DomainError as error:
        got, message = "refused", str(error)
    else:
        got, message = "done", ""
    changed = database_fingerprint() != world.baseline
    if want == "done":
        assert got == "done" and changed, f"{case} as {persona}: refused ({message}) though the table allows it"
    else:
        label = str(POLICY[case.action].label)
        assert got == "refused", f"{case} as {persona}: done though the table refuses it ({want})"
        assert REFUSALS[want].format(label=label) in message, f"{case} as {persona}: {message!r}, expected {want}"
        assert not changed, f"{case} as {persona}: refused, but the database changed"


def test_every_action_of_the_table_is_tried_above():
    assert {case.action for case in CASES} == set(POLICY)


def test_the_table_keeps_who_does_what():
    """DOMAIN.md's division of work, whatever the table's building blocks become."""
    for action, rule in POLICY.items():
        assert Role.FRONT_SUPERVISOR not in rule.roles, f"{action}: the Front changes no money"
        assert Role.ADMIN in rule.roles, f"{action}: an admin may do everything"
        if action.endswith(".decide") or action in ("loan.disburse", "capital.propose",
                                                    "disbursement_reversal.request"):
            assert Role.WARD_OFFICER not in rule.roles, f"{action}: the district decides, the ward asks"
    assert {action for action, rule in POLICY.items() if rule.system} == {"freeze.end", "ward.merge"}
    assert set(POLICY["reversal.request"].roles) == {*access.WARD_WORK, *access.DISTRICT_WORK}
    assert set(POLICY["reversal.decide"].roles) == set(access.DISTRICT_WORK)
    assert set(POLICY["disbursement_reversal.request"].roles) == set(access.DISTRICT_WORK)


# --- Which services and pages read which action, from the source ------------------------------------------------

SERVICE_FILES = [
    *sorted((ROOT / "loans" / "services").glob("*.py")),
    *sorted((ROOT / "loans" / "bankfiles").glob("*.py")),
    *sorted((ROOT / "organizations" / "services").glob("*.py")),
    ROOT / "borrowers" / "services.py",
]
VIEW_FILES = [
    *sorted((ROOT / "loans" / "views").glob("*.py")),
    ROOT / "loans" / "bankfiles" / "views.py",
    *sorted((ROOT / "organizations" / "views").glob("*.py")),
    ROOT / "borrowers" / "views.py",
]


def _functions(path):
    return {node.name: node for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}


def _names(node):
    """Every name a function refers to: called, passed on or read (`capital_services.capital_plan_decide` too)."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            yield child.id
        elif isinstance(child, ast.Attribute):
            yield child.attr


def _reach(functions, name, seen=None):
    """The module's functions that `name` runs, itself included."""
    seen = set() if seen is None else seen
    if name in seen or name not in functions:
        return seen
    seen.add(name)
    for used in set(_names(functions[name])) - seen:
        _reach(functions, used, seen)
    return seen


def guarded_services():
    """{service: the actions it authorizes}: public functions that call `authorize`, themselves or through the
    module's helpers; the actions are the table's names they mention."""
    found = {}
    for path in SERVICE_FILES:
        functions = _functions(path)
        for name in functions:
            if name.startswith("_"):
                continue
            reached = [functions[f] for f in _reach(functions, name)]
            if any("authorize" in set(_names(f)) for f in reached):
                found[name] = {
                    node.value for f in reached for node in ast.walk(f)
                    if isinstance(node, ast.Constant) and node.value in POLICY
                }
    return found


def _decorator_action(function):
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "allowed":
            return decorator.args[0].value
    return None


def _decorator_roles(function):
    """The roles of `@role_required(*WARD_WORK, ...)`, or None."""
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "role_required":
            roles = []
            for arg in decorator.args:
                value = arg.value if isinstance(arg, ast.Starred) else arg
                roles += list(getattr(access, value.id)) if isinstance(value, ast.Name) else [
                    getattr(Role, value.attr)]
            return set(roles)
    return None


def page_uses():
    """[(file, view, its action or None, the actions of the guarded services it calls)] for every decorated view."""
    services = guarded_services()
    rows = []
    for path in VIEW_FILES:
        functions = _functions(path)
        for name, function in functions.items():
            if not function.decorator_list:
                continue
            called = {used for f in _reach(functions, name) for used in _names(functions[f])} & set(services)
            actions = set().union(*(services[service] for service in called))
            rows.append((path.relative_to(ROOT).as_posix(), name, function, actions))
    return rows


#: Pages another change is rewriting while this one lands; their role tuples must equal the table's meanwhile.
ROLE_TUPLES_FOR_NOW = set()


def test_every_page_that_calls_a_guarded_service_reads_its_action():
    problems = []
    for path, name, function, actions in page_uses():
        if not actions:
            continue
        action = _decorator_action(function)
        if action is not None:
            if action not in actions:
                problems.append(f"{path} {name}: @allowed({action!r}), but it calls services of {sorted(actions)}")
            continue
        roles = _decorator_roles(function)
        if path in ROLE_TUPLES_FOR_NOW and roles is not None:
            if any(roles != set(POLICY[a].roles) for a in actions):
                problems.append(f"{path} {name}: role_required{sorted(roles)} differs from {sorted(actions)}")
            continue
        problems.append(f"{path} {name}: calls services of {sorted(actions)}; decorate it with @allowed(action)")
    assert not problems, "\n".join(problems)


def actions_read_by_pages():
    """The actions pages read: `@allowed(action)` on a view, or `may(user, action)` to offer a button."""
    read = set()
    for path in VIEW_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("allowed", "may"):
                read |= {arg.value for arg in node.args if isinstance(arg, ast.Constant) and arg.value in POLICY}
    return read


def test_every_action_is_read_by_a_service_and_a_page():
    by_services = set().union(*guarded_services().values())
    assert set(POLICY) <= by_services, f"no service authorizes {sorted(set(POLICY) - by_services)}"
    by_pages = actions_read_by_pages() | {
        action for path, _name, function, actions in page_uses() if path in ROLE_TUPLES_FOR_NOW
        and _decorator_roles(function) is not None for action in actions
    }
    assert set(POLICY) <= by_pages, f"no page reads {sorted(set(POLICY) - by_pages)}"


def test_the_static_reading_finds_what_it_must():
    """The source reading above is itself checked on a few known facts, so that it cannot pass by finding nothing."""
    services = guarded_services()
    assert services["collection_sheet_post"] == {"collection.post"}
    assert services["application_approve"] == {"application.decide"}  # through _approve and _check_decider
    assert "proposal_suggestion" not in services
    uses = {(path, name): (function, actions) for path, name, function, actions in page_uses()}
    function, actions = uses["loans/views/capital.py", "plan_change_decide"]  # the service is passed to _decide
    assert actions == {"capital.decide"} and _decorator_action(function) == "capital.decide"
    assert uses["loans/views/capital.py", "allocation_list"][1] == set()


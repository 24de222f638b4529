"""Importing the bank's spreadsheets: upload, check (preview), apply all or nothing, and reconcile with the ledger.

One path serves the upload page and `manage.py import_bank`. Rows are cleaned in `loans/resources.py`; here they are
checked against the database with a few set-based look-ups, then written in bulk (COPY on PostgreSQL).
"""

import hashlib
import io
import logging
import threading
from collections import defaultdict
from datetime import date

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household, fold_name
from loans.ledger import refresh_household_savings, refresh_loan_balances
from loans.models import (
    GroupGrade,
    ImportBatch,
    Loan,
    LoanProgram,
    Posting,
    ReconciliationItem,
    RepaymentInstalment,
    schedule_rows,
)
from loans.resources import GRADES, fold, parse_sheet
from loans.spreadsheets import SpreadsheetError, read_rows
from organizations.errors import DomainError
from organizations.models import GroupMembership, Organization, SavingsGroup, Ward

log = logging.getLogger(__name__)
Kind = Posting.Kind
Figure = ReconciliationItem.Figure
RECONCILE_NOTE = "Đối chiếu với ngân hàng"
OPENING_NOTE = "Số dư đầu kỳ theo tệp ngân hàng"
MAX_STORED_ERRORS = 2000
MAX_STORED_CHANGES = 500
LOOKUP_CHUNK = 20000


# ---- upload ---------------------------------------------------------------------------------------------------


def _when(moment):
    return timezone.localtime(moment).strftime("%H:%M %d/%m/%Y")


def import_upload(*, kind, file_name, content, actor, run=True):
    """Store the file in the database and start checking it. Refuses oversize files and files already imported."""
    if kind not in ImportBatch.Kind.values:
        raise DomainError(_("Choose what the file holds: loan balances, transactions or groups."))
    if not content:
        raise DomainError(_("The file is empty."))
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if len(content) > limit:
        raise DomainError(
            _("The file is %(size)s MB; files up to %(limit)s MB are accepted.")
            % {"size": round(len(content) / 1024 / 1024, 1), "limit": limit // (1024 * 1024)}
        )
    if not file_name.lower().endswith((".xlsx", ".xlsm", ".xls", ".csv")):
        raise DomainError(_("Upload an .xlsx, .xls or .csv file."))
    digest = hashlib.sha256(content).hexdigest()
    earlier = (
        ImportBatch.objects.filter(sha256=digest, status=ImportBatch.Status.DONE).select_related("created_by").first()
    )
    if earlier:
        who = earlier.confirmed_by or earlier.created_by
        raise DomainError(
            _("This file was already imported at %(when)s by %(who)s (import no. %(id)s); nothing was changed.")
            % {
                "when": _when(earlier.finished_at or earlier.created_at),
                "who": who.get_full_name() or who.username,
                "id": earlier.pk,
            }
        )
    batch = ImportBatch.objects.create(
        kind=kind,
        file_name=file_name[:255],
        sha256=digest,
        content=content,
        created_by=actor,
        phase=_("Waiting to be checked"),
    )
    if run:
        start_job(batch.pk, "check")
    return batch


def import_confirm(*, batch, actor, run=True):
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != ImportBatch.Status.PREVIEWED:
            raise DomainError(_("Only a checked file without errors can be imported."))
        if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).exists():
            raise DomainError(_("This file was already imported; nothing was changed."))
        batch.status = ImportBatch.Status.RUNNING
        batch.confirmed_by = actor
        batch.confirmed_at = timezone.now()
        batch.progress_done = 0
        batch.phase = _("Waiting to be imported")
        batch.save(update_fields=["status", "confirmed_by", "confirmed_at", "progress_done", "phase"])
    if run:
        start_job(batch.pk, "apply")
    return batch


# ---- running the job without holding the request -------------------------------------------------------------


def start_job(batch_id, step):
    """Run `step` of the batch: in a thread once the surrounding transaction commits, or inline."""
    # An in-memory SQLite database (the test database) cannot be shared by two threads while one of them writes.
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    if settings.IMPORT_RUN_MODE == "inline" or in_memory:
        run_job(batch_id, step)
        return

    def launch():
        threading.Thread(target=_thread_job, args=(batch_id, step), daemon=True, name=f"import-{batch_id}").start()

    transaction.on_commit(launch)


def _thread_job(batch_id, step):
    try:
        run_job(batch_id, step)
    finally:
        close_old_connections()
        connection.close()


def run_job(batch_id, step, progress=None):
    batch = ImportBatch.objects.get(pk=batch_id)
    try:
        if step == "check":
            import_check(batch=batch, progress=progress)
        else:
            import_apply(batch=batch, progress=progress)
    except (DomainError, SpreadsheetError) as error:
        _fail(batch, [{"row": "", "column": "", "value": "", "message": str(error)}])
    except Exception:  # the page must show a refusal, never hang on a crashed job
        log.exception("Import %s failed", batch_id)
        _fail(
            batch,
            [
                {
                    "row": "",
                    "column": "",
                    "value": "",
                    "message": _("The import stopped on an unexpected error; nothing was saved."),
                }
            ],
        )
    return ImportBatch.objects.get(pk=batch_id)


def _fail(batch, errors):
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.FAILED,
        errors=errors[:MAX_STORED_ERRORS],
        error_count=len(errors),
        phase=_("Refused"),
        finished_at=timezone.now(),
    )


class Progress:
    """Writes progress to the batch row every few thousand rows, and to an optional callback (the command's bar)."""

    def __init__(self, batch, callback=None):
        self.batch, self.callback, self.total = batch, callback, 0

    def phase(self, text, done=None, total=None):
        values = {"phase": text}
        if done is not None:
            values["progress_done"] = done
        if total is not None:
            values["progress_total"] = self.total = total
        # Outside the import's transaction when run in a thread, so the page sees it live.
        ImportBatch.objects.filter(pk=self.batch.pk).update(**values)
        if self.callback:
            self.callback(text, done or 0, total or self.total)

    def rows(self, done):
        self.phase(self.batch.phase or "", done=done)


# ---- checking and applying --------------------------------------------------------------------------------------


def import_check(*, batch, progress=None):
    """Read and check the whole file; record counts, changes side by side and every error. Writes no business data."""
    tracker = Progress(batch, progress)
    tracker.phase(_("Reading the file"), done=0)
    plan = _plan(batch, tracker)
    if plan.errors:
        _fail(batch, plan.errors)
        return plan
    _remember(batch, plan.sheet)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.PREVIEWED,
        summary=plan.summary(),
        errors=[],
        error_count=0,
        phase=_("Checked: ready to import"),
        progress_done=plan.data_rows,
        progress_total=plan.data_rows,
    )
    return plan


def import_apply(*, batch, progress=None):
    """Check again (the database may have moved since the preview), then write everything or nothing."""
    tracker = Progress(batch, progress)
    plan = _plan(batch, tracker)
    if plan.errors:
        _fail(batch, plan.errors)
        return plan
    tracker.phase(_("Writing to the ledger"), done=0, total=plan.data_rows)
    with transaction.atomic():
        ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if ImportBatch.objects.filter(sha256=batch.sha256, status=ImportBatch.Status.DONE).exists():
            raise DomainError(_("This file was already imported; nothing was changed."))
        if connection.vendor == "postgresql":
            # Check foreign keys as rows arrive rather than queueing a million deferred checks for the commit;
            # every row points only at rows written before it in this transaction.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        written = plan.apply(tracker)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.DONE,
            summary={**plan.summary(), "written": written},
            phase=_("Imported"),
            progress_done=plan.data_rows,
            progress_total=plan.data_rows,
            finished_at=timezone.now(),
        )
    return plan


# The last file read and cleaned by this process. The file never changes (its SHA-256 is its identity), so the
# confirm step reuses it instead of reading the sheet again; the database checks always run again.
_parsed = {}
_parsed_lock = threading.Lock()


def _parse(batch, tracker):
    key = (batch.pk, batch.sha256)
    with _parsed_lock:
        sheet = _parsed.pop(key, None)
    if sheet is not None:
        return sheet
    rows = read_rows(bytes(batch.content), batch.file_name)
    return parse_sheet(rows, batch.kind, progress=tracker.rows)


def _remember(batch, sheet):
    with _parsed_lock:
        _parsed.clear()
        _parsed[(batch.pk, batch.sha256)] = sheet


def _plan(batch, tracker):
    sheet = _parse(batch, tracker)
    tracker.phase(_("Checking against the ledger"), done=sheet.data_rows, total=sheet.data_rows)
    planner = {"loans": LoanPlan, "transactions": TransactionPlan, "groups": GroupPlan}[batch.kind]
    plan = planner(batch=batch, sheet=sheet)
    if not sheet.errors and not sheet.data_rows:
        sheet.errors.append(
            {"row": "", "column": "", "value": "", "message": _("The file has a header row but no data rows.")}
        )
    if not sheet.errors:
        plan.check()
    plan.errors = sorted(sheet.errors, key=lambda e: e["row"] if isinstance(e["row"], int) else 0)
    return plan


def _chunks(values, size=LOOKUP_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _money(value):
    return f"{int(value):,}".replace(",", ".")


# ---- bulk writing ---------------------------------------------------------------------------------------------


def _reserve_ids(model, count):
    """Primary keys for rows written by COPY/INSERT, so children can point at them."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 (table names are ours)
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_line(row):
    return "\t".join(
        [
            v.translate(COPY_ESCAPES)
            if v.__class__ is str
            else "\\N"
            if v is None
            else v.isoformat()
            if v.__class__ is date
            else str(v)
            for v in row
        ]
    )


def bulk_insert(model, columns, rows):
    """Insert plain tuples: PostgreSQL COPY, or executemany elsewhere. Values are already clean and whole đồng."""
    if not rows:
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            write = buffer.write
            for row in rows:
                write(_copy_line(row))
                write("\n")
            buffer.seek(0)
            quoted = ", ".join(f'"{c}"' for c in columns)
            cursor.cursor.copy_expert(f'COPY "{table}" ({quoted}) FROM STDIN', buffer)
        else:
            quoted = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join(["%s"] * len(columns))
            for part in _chunks(rows, 5000):
                cursor.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', part)  # noqa: S608


# ---- loan balances ----------------------------------------------------------------------------------------------


class BasePlan:
    def __init__(self, *, batch, sheet):
        self.batch, self.sheet = batch, sheet
        self.errors = []
        self.new = self.changed = self.unchanged = 0
        self.changes = []  # side by side: row, key, figure, ledger, bank
        self.today = timezone.localdate()

    @property
    def data_rows(self):
        return self.sheet.data_rows

    def error(self, row, key, value, message):
        self.sheet.add_error(row, key, value, message)

    def summary(self):
        return {
            "rows": self.sheet.data_rows,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "invalid": len(self.sheet.invalid_rows),
            "header_row": self.sheet.header_row,
            "total_row": self.sheet.total_row,
            "changes": self.changes[:MAX_STORED_CHANGES],
            "change_count": len(self.changes),
        }


def _branch_lookup():
    branches = {(b.ward_id, b.kind): b for b in Organization.objects.filter(level=Organization.Level.WARD)}
    return branches


def _ensure_branch(branches, ward, kind):
    """The organization's ward branch, created (with its district body) when the bank's file is the first to name it."""
    key = (ward.pk, kind)
    if key not in branches:
        label = Organization.Kind(kind).label
        district, _created = Organization.objects.get_or_create(
            area=ward.area, kind=kind, level=Organization.Level.DISTRICT, defaults={"name": str(label)}
        )
        branches[key] = Organization.objects.create(
            area=ward.area,
            kind=kind,
            level=Organization.Level.WARD,
            ward=ward,
            parent=district,
            name=f"{label} – {ward.name}",
        )
    return branches[key]


def _months_between(start, end):
    months = (end.year - start.year) * 12 + end.month - start.month
    return max(1, months)


class LoanPlan(BasePlan):
    def check(self):
        rows = self.sheet.rows
        wards = {w.code: w for w in Ward.objects.select_related("area")}
        programs = {p.code: p for p in LoanProgram.objects.all()}
        branches = _branch_lookup()
        groups = {g.code: g for g in SavingsGroup.objects.select_related("branch")}
        seen_loans, customer_ids, id_customers = {}, {}, {}
        for number, row in rows:
            ward = wards.get(row["ward_code"])
            if ward is None:
                self.error(number, "ward_code", row["ward_code"], _("no ward has this code"))
            elif not ward.is_active:
                self.error(number, "ward_code", row["ward_code"], _("this ward was merged into another one"))
            if row["program_code"] not in programs:
                self.error(number, "program_code", row["program_code"], _("no loan program has this code"))
            group = groups.get(row["group_code"])
            if group and ward and (group.branch.ward_id != ward.pk or group.branch.kind != row["org_code"]):
                self.error(
                    number,
                    "group_code",
                    row["group_code"],
                    _("this group belongs to %(branch)s, not to the ward and organization on this row")
                    % {"branch": group.branch},
                )
            if row["maturity_on"] <= row["disbursed_on"]:
                self.error(
                    number,
                    "maturity_on",
                    row["maturity_on"].strftime("%d/%m/%Y"),
                    _("the due date must come after the disbursement date"),
                )
            if row["amount"] <= 0:
                self.error(number, "amount", row["amount"], _("the amount disbursed must be more than zero"))
            if row["outstanding"] > row["amount"]:
                self.error(
                    number,
                    "outstanding",
                    row["outstanding"],
                    _("the outstanding balance is more than the amount disbursed"),
                )
            for key in ("overdue", "frozen"):
                if row[key] > row["outstanding"]:
                    self.error(number, key, row[key], _("is more than the outstanding balance"))
            previous = seen_loans.setdefault(row["loan_number"], number)
            if previous != number:
                self.error(
                    number,
                    "loan_number",
                    row["loan_number"],
                    _("this loan number is already on row %(row)s") % {"row": previous},
                )
            known_id = customer_ids.setdefault(row["customer_code"], row["citizen_id"])
            if known_id != row["citizen_id"]:
                self.error(
                    number,
                    "citizen_id",
                    row["citizen_id"],
                    _("the same customer has another citizen ID on an earlier row"),
                )
            known_customer = id_customers.setdefault(row["citizen_id"], row["customer_code"])
            if known_customer != row["customer_code"]:
                self.error(
                    number,
                    "citizen_id",
                    row["citizen_id"],
                    _("this citizen ID belongs to customer %(code)s on an earlier row") % {"code": known_customer},
                )
        if self.sheet.errors:
            return
        self.wards, self.programs, self.branches, self.groups = wards, programs, branches, groups

        # What the database already knows, looked up in a few set-based queries.
        households = {}
        for part in _chunks(customer_ids):
            for h in Household.objects.filter(customer_code__in=part).only(
                "pk", "customer_code", "citizen_id", "savings_balance"
            ):
                households[h.customer_code] = h
        new_ids = [cid for code, cid in customer_ids.items() if code not in households]
        id_owners = {}
        for part in _chunks(new_ids):
            for h in Household.objects.filter(citizen_id__in=part).only("pk", "customer_code", "citizen_id"):
                id_owners[h.citizen_id] = h
        loans = {}
        for part in _chunks(seen_loans):
            for loan in (
                Loan.objects.filter(number__in=part)
                .select_related("household")
                .only(
                    "pk",
                    "number",
                    "status",
                    "principal_outstanding",
                    "overdue_principal",
                    "interest_arrears",
                    "household__id",
                    "household__customer_code",
                )
            ):
                loans[loan.number] = loan
        self.households, self.loans = households, loans

        savings_by_customer = defaultdict(int)
        for number, row in rows:
            savings_by_customer[row["customer_code"]] += row["savings"]
            loan = loans.get(row["loan_number"])
            if loan and loan.household.customer_code != row["customer_code"]:
                self.error(
                    number,
                    "loan_number",
                    row["loan_number"],
                    _("this loan belongs to customer %(code)s, not to %(row_code)s")
                    % {"code": loan.household.customer_code or "—", "row_code": row["customer_code"]},
                )
            owner = id_owners.get(row["citizen_id"])
            if owner and owner.customer_code != row["customer_code"]:
                self.error(
                    number,
                    "citizen_id",
                    row["citizen_id"],
                    _("this citizen ID is already registered for another household (customer %(code)s)")
                    % {"code": owner.customer_code or "—"},
                )
        if self.sheet.errors:
            return
        self.savings_by_customer = savings_by_customer

        # New, changed, unchanged; differences side by side.
        self.differences = []
        savings_checked = set()
        for number, row in rows:
            loan = loans.get(row["loan_number"])
            if loan is None:
                self.new += 1
                continue
            ledger_frozen = loan.principal_outstanding if loan.status == Loan.Status.FROZEN else 0
            figures = [
                (Figure.OUTSTANDING, loan.principal_outstanding, row["outstanding"]),
                (Figure.OVERDUE, loan.overdue_principal, row["overdue"]),
                (Figure.FROZEN, ledger_frozen, row["frozen"]),
                (Figure.INTEREST_ARREARS, loan.interest_arrears, row["interest_arrears"]),
            ]
            household = households[row["customer_code"]]
            if row["customer_code"] not in savings_checked:
                savings_checked.add(row["customer_code"])
                figures.append((Figure.SAVINGS, household.savings_balance, savings_by_customer[row["customer_code"]]))
            row_changes = [(f, int(ledger), int(bank)) for f, ledger, bank in figures if int(ledger) != int(bank)]
            if row_changes:
                self.changed += 1
                for figure, ledger, bank in row_changes:
                    self.differences.append((number, loan, household, figure, ledger, bank))
                    self.changes.append(
                        {
                            "row": number,
                            "key": row["loan_number"],
                            "name": row["customer_name"],
                            "figure": str(Figure(figure).label),
                            "ledger": ledger,
                            "bank": bank,
                        }
                    )
            else:
                self.unchanged += 1

    def apply(self, tracker):
        batch, actor, now, today = (
            self.batch,
            self.batch.confirmed_by or self.batch.created_by,
            timezone.now(),
            self.today,
        )
        rows = self.sheet.rows
        # Groups and branches the office does not have yet.
        missing = {}
        for _number, row in rows:
            if row["group_code"] not in self.groups and row["group_code"] not in missing:
                branch = _ensure_branch(self.branches, self.wards[row["ward_code"]], row["org_code"])
                missing[row["group_code"]] = SavingsGroup(
                    code=row["group_code"], name=_("Group %(code)s") % {"code": row["group_code"]}, branch=branch
                )
        for group in SavingsGroup.objects.bulk_create(missing.values(), batch_size=2000):
            self.groups[group.code] = group
        groups_created = len(missing)
        # New households, with their group membership and opening savings.
        new_rows = {}
        for _number, row in rows:
            if row["customer_code"] not in self.households and row["customer_code"] not in new_rows:
                new_rows[row["customer_code"]] = row
        household_ids = dict(zip(new_rows, _reserve_ids(Household, len(new_rows)), strict=True))
        household_rows, membership_rows, posting_rows = [], [], []
        for code, row in new_rows.items():
            ward = self.wards[row["ward_code"]]
            group = self.groups[row["group_code"]]
            savings = self.savings_by_customer[code]
            pk = household_ids[code]
            household_rows.append(
                (
                    pk,
                    code,
                    row["customer_name"][:200],
                    fold_name(row["customer_name"])[:200],
                    row["citizen_id"],
                    "",
                    ward.name,
                    ward.pk,
                    group.branch_id,
                    1,
                    Household.PolicyStatus.POOR,
                    row["disbursed_on"].year,
                    savings,
                    batch.pk,
                    now,
                    now,
                )
            )
            membership_rows.append((group.pk, pk, row["disbursed_on"], ""))
            if savings:
                posting_rows.append(
                    (Kind.SAVINGS_IN, pk, None, savings, today, None, None, OPENING_NOTE, actor.pk, batch.pk, now)
                )
        bulk_insert(
            Household,
            [
                "id",
                "customer_code",
                "head_name",
                "search_name",
                "citizen_id",
                "phone",
                "address",
                "ward_id",
                "branch_id",
                "members",
                "policy_status",
                "policy_list_year",
                "savings_balance",
                "import_batch_id",
                "created_at",
                "updated_at",
            ],
            household_rows,
        )
        bulk_insert(GroupMembership, ["group_id", "household_id", "joined_on", "note"], membership_rows)
        tracker.phase(_("Writing to the ledger"), done=len(rows) // 4)

        # New loans: the schedule, the disbursement, and principal already repaid as the opening balance.
        new_loan_rows = [(n, r) for n, r in rows if r["loan_number"] not in self.loans]
        loan_ids = _reserve_ids(Loan, len(new_loan_rows))
        loan_rows, instalment_rows = [], []
        for pk, (_number, row) in zip(loan_ids, new_loan_rows, strict=True):
            program = self.programs[row["program_code"]]
            household_id = household_ids.get(row["customer_code"]) or self.households[row["customer_code"]].pk
            amount, outstanding, overdue = row["amount"], row["outstanding"], row["overdue"]
            term = _months_between(row["disbursed_on"], row["maturity_on"])
            status = Loan.Status.FROZEN if row["frozen"] else Loan.Status.ACTIVE
            loan_rows.append(
                (
                    pk,
                    row["loan_number"],
                    household_id,
                    program.pk,
                    self.groups[row["group_code"]].pk,
                    amount,
                    row["disbursed_on"],
                    row["maturity_on"],
                    term,
                    Loan.Frequency.AT_MATURITY,
                    program.annual_rate,
                    program.overdue_multiplier,
                    status,
                    outstanding,
                    overdue,
                    row["interest_arrears"],
                    actor.pk,
                    batch.pk,
                    now,
                    now,
                )
            )
            instalment_rows.extend(_instalments(pk, amount, outstanding, overdue, row, today))
            posting_rows.append(
                (
                    Kind.DISBURSEMENT,
                    household_id,
                    pk,
                    amount,
                    row["disbursed_on"],
                    None,
                    None,
                    OPENING_NOTE,
                    actor.pk,
                    batch.pk,
                    now,
                )
            )
            if outstanding < amount:
                posting_rows.append(
                    (
                        Kind.PRINCIPAL,
                        household_id,
                        pk,
                        amount - outstanding,
                        today,
                        None,
                        None,
                        OPENING_NOTE + ": gốc đã trả",
                        actor.pk,
                        batch.pk,
                        now,
                    )
                )
        bulk_insert(
            Loan,
            [
                "id",
                "number",
                "household_id",
                "program_id",
                "group_id",
                "amount",
                "disbursed_on",
                "maturity_on",
                "term_months",
                "frequency",
                "annual_rate",
                "overdue_multiplier",
                "status",
                "principal_outstanding",
                "overdue_principal",
                "interest_arrears",
                "created_by_id",
                "import_batch_id",
                "created_at",
                "updated_at",
            ],
            loan_rows,
        )
        tracker.phase(_("Writing to the ledger"), done=len(rows) // 2)
        bulk_insert(RepaymentInstalment, ["loan_id", "seq", "due_on", "principal", "overdue_since"], instalment_rows)
        bulk_insert(
            Posting,
            [
                "kind",
                "household_id",
                "loan_id",
                "amount",
                "on",
                "voucher",
                "reverses_id",
                "note",
                "created_by_id",
                "import_batch_id",
                "created_at",
            ],
            posting_rows,
        )
        # New loans and households get their cached balances from the same figures as their postings (outstanding =
        # amount - repaid, overdue = missed instalment - repaid, savings = the opening deposit), so `check_ledger`
        # agrees without re-deriving 100,000 balances here; existing ones change only through reconciliation.
        # Where the bank and the ledger disagree, list it for an admin to accept or leave.
        ReconciliationItem.objects.bulk_create(
            [
                ReconciliationItem(
                    batch=batch,
                    loan=loan,
                    household=household,
                    figure=figure,
                    ledger_value=ledger,
                    bank_value=bank,
                    row_number=number,
                )
                for number, loan, household, figure, ledger, bank in self.differences
            ],
            batch_size=2000,
        )
        return {
            "households": len(household_rows),
            "loans": len(loan_rows),
            "postings": len(posting_rows),
            "groups_created": groups_created,
            "differences": len(self.differences),
        }


def _instalments(loan_id, amount, outstanding, overdue, row, today):
    """The loan's schedule (its instalments at maturity, as the bank's file has no frequency) with the bank's overdue
    principal as an instalment already missed: the ledger's derived overdue then equals the bank's figure."""
    rows = schedule_rows(amount, row["disbursed_on"], _months_between(row["disbursed_on"], row["maturity_on"]), 0)
    if not overdue:
        return [
            (loan_id, seq, row["maturity_on"] if seq == len(rows) else due_on, principal, None)
            for seq, due_on, principal in rows
        ]
    missed = amount - outstanding + overdue  # repaid principal counts against the missed instalments first
    missed_on = min(today, row["maturity_on"])
    result = [(loan_id, 1, missed_on, missed, missed_on)]
    if amount - missed:
        result.append((loan_id, 2, row["maturity_on"], amount - missed, None))
    return result


# ---- transactions -------------------------------------------------------------------------------------------------


class TransactionPlan(BasePlan):
    def check(self):
        rows = self.sheet.rows
        vouchers, loan_numbers, customer_codes = {}, set(), set()
        for number, row in rows:
            voucher = row["voucher"]
            previous = vouchers.setdefault(voucher, number)
            if previous != number:
                self.error(
                    number, "voucher", voucher, _("this voucher number is already on row %(row)s") % {"row": previous}
                )
            if row["loan_number"]:
                loan_numbers.add(row["loan_number"])
            elif row["kind"] in Posting.LOAN_KINDS:
                self.error(number, "loan_number", "", _("a loan transaction needs its loan number"))
            customer_codes.add(row["customer_code"])
            if row["amount"] <= 0:
                self.error(number, "amount", row["amount"], _("the amount must be more than zero"))
            if row["on"] > self.today:
                self.error(number, "on", row["on"].strftime("%d/%m/%Y"), _("the date is in the future"))
        if self.sheet.errors:
            return
        loans, households, existing = {}, {}, {}
        for part in _chunks(loan_numbers):
            for loan in Loan.objects.filter(number__in=part).select_related("household"):
                loans[loan.number] = loan
        for part in _chunks(customer_codes):
            for household in Household.objects.filter(customer_code__in=part):
                households[household.customer_code] = household
        for part in _chunks(vouchers):
            for posting in Posting.objects.filter(voucher__in=part).select_related("loan"):
                existing[posting.voucher] = posting
        self.to_write = []
        loan_delta, savings_delta = defaultdict(int), defaultdict(int)
        for number, row in rows:
            loan = loans.get(row["loan_number"]) if row["loan_number"] else None
            household = households.get(row["customer_code"])
            if row["loan_number"] and loan is None:
                self.error(number, "loan_number", row["loan_number"], _("no loan has this number in the application"))
                continue
            if household is None:
                self.error(number, "customer_code", row["customer_code"], _("no household has this customer code"))
                continue
            if loan and loan.household_id != household.pk:
                self.error(
                    number,
                    "loan_number",
                    row["loan_number"],
                    _("this loan belongs to customer %(code)s, not to %(row_code)s")
                    % {"code": loan.household.customer_code or "—", "row_code": row["customer_code"]},
                )
                continue
            posting = existing.get(row["voucher"])
            if posting is not None:
                same = (
                    posting.kind == row["kind"]
                    and int(posting.amount) == row["amount"]
                    and posting.on == row["on"]
                    and (posting.loan.number if posting.loan else "") == (row["loan_number"] if posting.loan else "")
                )
                if same:
                    self.unchanged += 1
                else:
                    self.error(
                        number,
                        "voucher",
                        row["voucher"],
                        _(
                            "this voucher is already in the ledger with other details; "
                            "a posting is never changed, reverse it instead"
                        ),
                    )
                continue
            self.new += 1
            kind = row["kind"]
            if kind == Kind.DISBURSEMENT:
                loan_delta[loan.pk] += row["amount"]
            elif kind == Kind.PRINCIPAL:
                loan_delta[loan.pk] -= row["amount"]
            elif kind == Kind.SAVINGS_IN:
                savings_delta[household.pk] += row["amount"]
            elif kind == Kind.SAVINGS_OUT:
                savings_delta[household.pk] -= row["amount"]
            self.to_write.append((number, row, loan, household))
        if self.sheet.errors:
            return
        household_by_pk = {h.pk: h for h in households.values()}
        for number, row, loan, household in self.to_write:
            if loan and row["kind"] in (Kind.PRINCIPAL, Kind.DISBURSEMENT) and loan.pk in loan_delta:
                after = loan.principal_outstanding + loan_delta[loan.pk]
                if after < 0 or after > loan.amount:
                    self.error(
                        number,
                        "amount",
                        row["amount"],
                        _("after this file the loan's outstanding balance would be %(after)s, outside 0–%(amount)s")
                        % {"after": _money(after), "amount": _money(loan.amount)},
                    )
                    loan_delta.pop(loan.pk)
            if row["kind"] == Kind.SAVINGS_OUT and household.pk in savings_delta:
                after = household_by_pk[household.pk].savings_balance + savings_delta[household.pk]
                if after < 0:
                    self.error(
                        number,
                        "amount",
                        row["amount"],
                        _("the savings withdrawals exceed the savings balance (%(balance)s)")
                        % {"balance": _money(household.savings_balance)},
                    )
                    savings_delta.pop(household.pk)
        for number, row, _loan, _household in self.to_write[:MAX_STORED_CHANGES]:
            self.changes.append(
                {
                    "row": number,
                    "key": row["voucher"],
                    "name": row["loan_number"],
                    "figure": str(Kind(row["kind"]).label),
                    "ledger": None,
                    "bank": row["amount"],
                }
            )

    def apply(self, tracker):
        batch, actor, now = self.batch, self.batch.confirmed_by or self.batch.created_by, timezone.now()
        posting_rows, loan_ids, household_ids = [], set(), set()
        for _number, row, loan, household in self.to_write:
            savings = row["kind"] in Posting.SAVINGS_KINDS
            posting_rows.append(
                (
                    row["kind"],
                    household.pk,
                    None if savings else loan.pk,
                    row["amount"],
                    row["on"],
                    row["voucher"][:50],
                    None,
                    (row["note"] or "")[:300],
                    actor.pk,
                    batch.pk,
                    now,
                )
            )
            if savings:
                household_ids.add(household.pk)
            else:
                loan_ids.add(loan.pk)
        bulk_insert(
            Posting,
            [
                "kind",
                "household_id",
                "loan_id",
                "amount",
                "on",
                "voucher",
                "reverses_id",
                "note",
                "created_by_id",
                "import_batch_id",
                "created_at",
            ],
            posting_rows,
        )
        refresh_loan_balances(list(loan_ids))
        refresh_household_savings(list(household_ids))
        return {"postings": len(posting_rows)}


# ---- groups -------------------------------------------------------------------------------------------------------


class GroupPlan(BasePlan):
    def check(self):
        wards = {w.code: w for w in Ward.objects.select_related("area")}
        groups = {g.code: g for g in SavingsGroup.objects.select_related("branch")}
        seen = {}
        self.updates = []
        for number, row in self.sheet.rows:
            previous = seen.setdefault(row["group_code"], number)
            if previous != number:
                self.error(
                    number,
                    "group_code",
                    row["group_code"],
                    _("this group code is already on row %(row)s") % {"row": previous},
                )
            ward = wards.get(row["ward_code"])
            if ward is None:
                self.error(number, "ward_code", row["ward_code"], _("no ward has this code"))
                continue
            if row.get("score") is not None and not 0 <= row["score"] <= 100:
                self.error(number, "score", row["score"], _("a score is between 0 and 100"))
            if row.get("grade") and fold(row["grade"]) not in GRADES:
                self.error(number, "grade", row["grade"], _("a grade is Tốt, Khá, Trung bình or Yếu"))
            if row.get("members") is not None and row["members"] > SavingsGroup.MAX_MEMBERS:
                self.error(
                    number,
                    "members",
                    row["members"],
                    _("a group has at most %(max)s members") % {"max": SavingsGroup.MAX_MEMBERS},
                )
            group = groups.get(row["group_code"])
            if group and (group.branch.ward_id != ward.pk or group.branch.kind != row["org_code"]):
                self.error(
                    number,
                    "group_code",
                    row["group_code"],
                    _("this group belongs to %(branch)s, not to the ward and organization on this row")
                    % {"branch": group.branch},
                )
                continue
            if group is None:
                self.new += 1
            elif group.name != row["group_name"]:
                self.changed += 1
                self.changes.append(
                    {
                        "row": number,
                        "key": group.code,
                        "name": row["group_name"],
                        "figure": str(_("Name")),
                        "ledger": group.name,
                        "bank": row["group_name"],
                    }
                )
            else:
                self.unchanged += 1
            self.updates.append((number, row, ward, group))

    def apply(self, tracker):
        branches = _branch_lookup()
        created = 0
        grades = []
        for _number, row, ward, group in self.updates:
            if group is None:
                branch = _ensure_branch(branches, ward, row["org_code"])
                group = SavingsGroup.objects.create(code=row["group_code"], name=row["group_name"][:200], branch=branch)
                created += 1
            elif group.name != row["group_name"]:
                SavingsGroup.objects.filter(pk=group.pk).update(name=row["group_name"][:200])
            leader_name = row.get("leader_name") or ""
            if leader_name:
                leader = (
                    Household.objects.filter(
                        memberships__group=group, memberships__left_on__isnull=True, search_name=fold_name(leader_name)
                    )
                    .values_list("pk", flat=True)
                    .first()
                )
                if leader and leader != group.deputy_id:
                    SavingsGroup.objects.filter(pk=group.pk).update(leader=leader)
            grades.append(
                GroupGrade(
                    group=group,
                    batch=self.batch,
                    on=self.today,
                    score=row.get("score"),
                    grade=GRADES.get(fold(row.get("grade") or ""), ""),
                    members=row.get("members"),
                    leader_name=leader_name[:200],
                )
            )
        GroupGrade.objects.bulk_create(grades)
        return {"groups_created": created, "grades": len(grades)}


# ---- accepting the bank's figures -------------------------------------------------------------------------------


def reconciliation_accept(*, batch, item_ids, actor):
    """Write what it takes for the ledger to show the bank's figure for each chosen difference."""
    if batch.status != ImportBatch.Status.DONE:
        raise DomainError(_("Only differences of a finished import can be accepted."))
    with transaction.atomic():
        items = list(
            ReconciliationItem.objects.select_for_update(of=("self",))
            .filter(batch=batch, pk__in=item_ids, accepted_at__isnull=True)
            .select_related("loan", "household")
        )
        if not items:
            raise DomainError(_("Choose at least one difference that is not accepted yet."))
        loan_ids = {i.loan_id for i in items if i.loan_id}
        household_ids = {i.household_id for i in items}
        locked_loans = {loan.pk: loan for loan in Loan.objects.select_for_update().filter(pk__in=loan_ids)}
        Household.objects.select_for_update().filter(pk__in=household_ids).exists()
        today, now = timezone.localdate(), timezone.now()
        order = {
            Figure.OUTSTANDING: 0,
            Figure.OVERDUE: 1,
            Figure.FROZEN: 2,
            Figure.INTEREST_ARREARS: 3,
            Figure.SAVINGS: 4,
        }
        for item in sorted(items, key=lambda i: order[i.figure]):
            loan = locked_loans.get(item.loan_id)
            if item.figure == Figure.OUTSTANDING:
                _accept_outstanding(loan, int(item.bank_value), batch, actor, today)
            elif item.figure == Figure.OVERDUE:
                refresh_loan_balances([loan.pk])
                loan.refresh_from_db()
                _accept_overdue(loan, int(item.bank_value), today)
            elif item.figure == Figure.FROZEN:
                want_frozen = item.bank_value > 0
                if want_frozen and loan.status == Loan.Status.ACTIVE:
                    loan.transition_to(Loan.Status.FROZEN, actor=actor, note=RECONCILE_NOTE)
                elif not want_frozen and loan.status == Loan.Status.FROZEN:
                    loan.transition_to(Loan.Status.ACTIVE, actor=actor, note=RECONCILE_NOTE)
            elif item.figure == Figure.INTEREST_ARREARS:
                Loan.objects.filter(pk=loan.pk).update(interest_arrears=item.bank_value)
            elif item.figure == Figure.SAVINGS:
                household = Household.objects.get(pk=item.household_id)
                difference = int(item.bank_value) - int(household.savings_balance)
                if difference:
                    Posting.objects.create(
                        kind=Kind.SAVINGS_IN if difference > 0 else Kind.SAVINGS_OUT,
                        household=household,
                        amount=abs(difference),
                        on=today,
                        note=RECONCILE_NOTE,
                        created_by=actor,
                        import_batch=batch,
                    )
                refresh_household_savings([household.pk])
            if loan:
                refresh_loan_balances([loan.pk])
                loan.refresh_from_db()
            item.accepted_by, item.accepted_at = actor, now
        ReconciliationItem.objects.bulk_update(items, ["accepted_by", "accepted_at"])
    return items


def _accept_outstanding(loan, bank, batch, actor, today):
    refresh_loan_balances([loan.pk])
    loan.refresh_from_db()
    difference = bank - int(loan.principal_outstanding)
    if difference < 0:
        Posting.objects.create(
            kind=Kind.PRINCIPAL,
            household_id=loan.household_id,
            loan=loan,
            amount=-difference,
            on=today,
            note=RECONCILE_NOTE,
            created_by=actor,
            import_batch=batch,
        )
        return
    # The ledger shows less owed than the bank: reverse principal repayments, newest first, then re-post any excess.
    remaining = difference
    repayments = Posting.objects.filter(loan=loan, kind=Kind.PRINCIPAL, reversed_by__isnull=True).order_by("-on", "-pk")
    for posting in repayments:
        if remaining <= 0:
            break
        Posting.objects.create(
            kind=Kind.REVERSAL,
            reverses=posting,
            household_id=loan.household_id,
            loan=loan,
            amount=posting.amount,
            on=today,
            note=RECONCILE_NOTE,
            created_by=actor,
            import_batch=batch,
        )
        remaining -= int(posting.amount)
    if remaining < 0:
        Posting.objects.create(
            kind=Kind.PRINCIPAL,
            household_id=loan.household_id,
            loan=loan,
            amount=-remaining,
            on=today,
            note=RECONCILE_NOTE,
            created_by=actor,
            import_batch=batch,
        )
    elif remaining > 0:
        raise DomainError(
            _(
                "Loan %(number)s: the bank's outstanding %(bank)s is more than the ledger can show "
                "without a new disbursement."
            )
            % {"number": loan.number, "bank": _money(bank)}
        )


def _accept_overdue(loan, bank, today):
    """Re-mark the schedule so that the missed instalments, less principal repaid, equal the bank's overdue figure."""
    if bank > loan.principal_outstanding:
        raise DomainError(
            _("Loan %(number)s: the bank's overdue is more than its outstanding balance.") % {"number": loan.number}
        )
    paid = int(loan.amount) - int(loan.principal_outstanding)
    target = paid + bank if bank else 0
    instalments = list(loan.instalments.order_by("seq"))
    rows, covered = [], 0
    for instalment in instalments:
        principal = int(instalment.principal)
        if covered < target and covered + principal > target:
            first = target - covered
            rows.append((instalment.due_on, first, min(today, instalment.due_on) if bank else None))
            rows.append((instalment.due_on, principal - first, None))
        else:
            overdue = bank and covered < target
            rows.append(
                (
                    instalment.due_on,
                    principal,
                    (instalment.overdue_since or min(today, instalment.due_on)) if overdue else None,
                )
            )
        covered += principal
    loan.instalments.all().delete()  # the schedule is not money; the postings stay untouched
    RepaymentInstalment.objects.bulk_create(
        [
            RepaymentInstalment(loan=loan, seq=seq, due_on=due_on, principal=principal, overdue_since=since)
            for seq, (due_on, principal, since) in enumerate(rows, start=1)
        ]
    )

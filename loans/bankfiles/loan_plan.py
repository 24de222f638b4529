"""The loan balances file: LoanPlan, the columns it writes and the opening entries derived in the database."""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from borrowers import identity
from borrowers.models import Household, fold_name
from loans.bankfiles.bulk import _matching, _reserve_ids, bulk_insert
from loans.bankfiles.plans import (
    ALREADY_ON_ROW,
    POSTING_COLUMNS,
    BasePlan,
    PlanOutdated,
    _branch_lookup,
    _create_groups,
    _months_between,
    appoint_leaders,
    hold_rows,
    same_values,
    wards_by_code,
)
from loans.models import (
    BankGroupGrade,
    InterestArrearsEntry,
    Loan,
    LoanProgram,
    Posting,
    ReconciliationItem,
    RepaymentInstalment,
)
from organizations.audit import audit_bulk
from organizations.errors import DomainError
from organizations.models import GroupMembership, Organization, SavingsGroup, Ward

Figure = ReconciliationItem.Figure
Kind = Posting.Kind


OPENING_NOTE = "Số dư đầu kỳ theo tệp ngân hàng"
#: Rows named one by one in the preview's warnings about citizen IDs; the rest are counted.
MAX_IDENTITY_WARNINGS = 20


class LoanPlan(BasePlan):
    holds_references = True
    reusable = True

    def summary(self):
        # The apply step keeps what its check step found about the same file (its SHA-256 is its identity).
        warnings = (self.batch.summary or {}).get("warnings")
        if warnings is None:
            warnings = self.identity_warnings()
        return {**super().summary(), "warnings": warnings}

    def identity_warnings(self):
        """A citizen ID that breaks the rule (borrowers/identity.py) is the bank's data: a warning in the preview,
        never a refusal. Each number once, on the first row that has it; the household keeps the bank's number."""
        problems, seen = [], set()
        for number, row in self.sheet.rows:
            citizen_id = row["citizen_id"]
            if citizen_id in seen:
                continue
            seen.add(citizen_id)
            error = identity.citizen_id_error(citizen_id, this_year=self.today.year)
            if error is not None:
                problems.append((number, error))
        warnings = [
            _("Row %(row)s: %(problem)s The bank's number is kept.") % {"row": number, "problem": error.messages[0]}
            for number, error in problems[:MAX_IDENTITY_WARNINGS]
        ]
        more = len(problems) - MAX_IDENTITY_WARNINGS
        if more > 0:
            warnings.append(
                ngettext(
                    "%(count)s more row has a citizen ID that breaks the rule.",
                    "%(count)s more rows have a citizen ID that breaks the rule.",
                    more,
                )
                % {"count": more}
            )
        return warnings

    def check(self):
        rows = self.sheet.rows
        programs = {p.code: p for p in LoanProgram.objects.all()}
        branches = _branch_lookup()
        groups = {g.code: g for g in SavingsGroup.objects.select_related("branch")}
        seen_loans, customer_ids, id_customers = {}, {}, {}
        for number, row in rows:
            ward = self.ward(row["ward_code"])
            if ward is None:
                self.error(number, "ward_code", row["ward_code"], _("no ward has this code"))
            if row["program_code"] not in programs:
                self.error(number, "program_code", row["program_code"], _("no loan program has this code"))
            self.in_its_branch(number, row, groups.get(row["group_code"]), ward)
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
            self.once(
                seen_loans, number, "loan_number", row["loan_number"], ALREADY_ON_ROW["loan_number"]
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
        wards = {code: self.ward(code) for code in {row["ward_code"] for _number, row in rows}}
        self.wards, self.programs, self.branches, self.groups = wards, programs, branches, groups

        # What the database already knows, looked up in a few set-based queries.
        households = {
            h.customer_code: h
            for h in _matching(
                Household.objects.only("pk", "customer_code", "citizen_id", "savings_balance"),
                "customer_code",
                customer_ids,
            )
        }
        new_ids = [cid for code, cid in customer_ids.items() if code not in households]
        id_owners = {
            h.citizen_id: h
            for h in _matching(Household.objects.only("pk", "customer_code", "citizen_id"), "citizen_id", new_ids)
        }
        loans = {
            loan.number: loan
            for loan in _matching(
                Loan.objects.select_related("household").only(
                    "pk",
                    "number",
                    "status",
                    "principal_outstanding",
                    "overdue_principal",
                    "interest_arrears",
                    "household__id",
                    "household__customer_code",
                ),
                "number",
                seen_loans,
            )
        }
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

    def hold_references(self):
        """Lock the existing rows the file's rows point at (wards, programs, groups and their branches, households,
        loans, the confirming user) with one query per table; a row gone since the check refuses its file rows.

        A plan kept from the check step (`reused`) did not look anything up again: it reads back here, under the
        locks, the values it checked and compares them, and raises PlanOutdated when one has changed. A row that
        took one of the file's new keys since (customer code, citizen ID, loan number, group code) stops its writes
        on the key's unique constraint; the import then checks again too."""
        actor = self.batch.confirmed_by or self.batch.created_by
        if not hold_rows(get_user_model(), [actor.pk]):
            raise DomainError(_("The user who confirmed this import no longer exists; nothing was changed."))
        rows = self.sheet.rows
        existing_groups = {
            row["group_code"]: self.groups[row["group_code"]] for _n, row in rows if row["group_code"] in self.groups
        }
        held = [
            (Ward, {ward.pk: (ward.code,) for ward in self.wards.values()}, ("code",)),
            (LoanProgram, {program.pk: (program.code,) for program in self.programs.values()}, ("code",)),
            (
                SavingsGroup,
                {group.pk: (group.code, group.branch_id, group.leader_id) for group in existing_groups.values()},
                ("code", "branch_id", "leader_id"),
            ),
            (
                Organization,
                {group.branch_id: (group.branch.ward_id, group.branch.kind) for group in existing_groups.values()},
                ("ward_id", "kind"),
            ),
            (
                Household,
                {h.pk: (h.customer_code, h.citizen_id, h.savings_balance) for h in self.households.values()},
                ("customer_code", "citizen_id", "savings_balance"),
            ),
            (
                Loan,
                {
                    loan.pk: (
                        loan.number,
                        loan.household_id,
                        loan.status,
                        loan.principal_outstanding,
                        loan.overdue_principal,
                        loan.interest_arrears,
                    )
                    for loan in self.loans.values()
                },
                ("number", "household_id", "status", "principal_outstanding", "overdue_principal", "interest_arrears"),
            ),
        ]
        found = [hold_rows(model, expected, columns) for model, expected, columns in held]
        if self.reused:
            for (_model, expected, _columns), values in zip(held, found, strict=True):
                if any(not same_values(row, expected[pk]) for pk, row in values.items()):
                    raise PlanOutdated
            codes = {row["ward_code"] for _n, row in rows}
            now_by_code = wards_by_code()
            if any(now_by_code.get(code, (None,))[0] != self.wards[code] for code in codes):
                raise PlanOutdated
            self.branches = _branch_lookup()
        wards, programs, groups, branches, households, loans = found
        for number, row in rows:
            if self.wards[row["ward_code"]].pk not in wards:
                self.error(number, "ward_code", row["ward_code"], _("no ward has this code"))
            if self.programs[row["program_code"]].pk not in programs:
                self.error(number, "program_code", row["program_code"], _("no loan program has this code"))
            group = existing_groups.get(row["group_code"])
            if group is not None and (group.pk not in groups or group.branch_id not in branches):
                self.error(
                    number, "group_code", row["group_code"], _("this group was removed after the file was checked")
                )
            household = self.households.get(row["customer_code"])
            if household is not None and household.pk not in households:
                self.error(
                    number,
                    "customer_code",
                    row["customer_code"],
                    _("this customer's household was removed after the file was checked"),
                )
            loan = self.loans.get(row["loan_number"])
            if loan is not None and loan.pk not in loans:
                self.error(
                    number, "loan_number", row["loan_number"], _("this loan was removed after the file was checked")
                )
        return not self.sheet.errors

    def apply(self, tracker):
        batch, actor, now = self.batch, self.batch.confirmed_by or self.batch.created_by, timezone.now()
        rows = self.sheet.rows
        groups_created = _create_groups(
            self.groups,
            self.branches,
            ((row["group_code"], self.wards[row["ward_code"]], row["org_code"], None) for _number, row in rows),
        )
        # New households, then their loans: the only rows whose values come from the file. Everything that follows
        # from them (memberships, schedules, opening postings) is derived inside the database below.
        new_rows = {}
        for _number, row in rows:
            if row["customer_code"] not in self.households and row["customer_code"] not in new_rows:
                new_rows[row["customer_code"]] = row
        household_ids = dict(zip(new_rows, _reserve_ids(Household, len(new_rows)), strict=True))
        wards, groups, savings = self.wards, self.groups, self.savings_by_customer
        folded = {}  # names repeat across a district: fold each spelling once

        def search_name(name):
            if name not in folded:
                folded[name] = fold_name(name)[:200]
            return folded[name]

        bulk_insert(
            Household,
            HOUSEHOLD_COLUMNS,
            (
                (
                    household_ids[code],
                    code,
                    row["customer_name"][:200],
                    search_name(row["customer_name"]),
                    row["citizen_id"],
                    "",
                    wards[row["ward_code"]].name,
                    wards[row["ward_code"]].pk,
                    groups[row["group_code"]].branch_id,
                    1,
                    Household.PolicyStatus.POOR,
                    row["disbursed_on"].year,
                    savings[code],
                    batch.pk,
                    now,
                    now,
                )
                for code, row in new_rows.items()
            ),
        )
        # A new household joins the group of its first loan in the file, on that loan's disbursement date.
        bulk_insert(
            GroupMembership,
            ["group_id", "household_id", "joined_on", "note"],
            (
                (groups[row["group_code"]].pk, household_ids[code], row["disbursed_on"], "")
                for code, row in new_rows.items()
            ),
        )
        leaders_appointed = appoint_leaders(self._leader_names())
        tracker.phase(_("Writing to the ledger"), done=len(rows) // 4)
        new_loan_rows = [row for _number, row in rows if row["loan_number"] not in self.loans]
        # Postings go to the new loans (in their rows' groups) and the new households (in the group they joined).
        self.touched_groups = {groups[row["group_code"]].pk for row in (*new_loan_rows, *new_rows.values())}
        loan_ids = _reserve_ids(Loan, len(new_loan_rows))
        programs, households = self.programs, self.households
        # The file gives no rate: a loan takes its program's rate in force on its disbursement date.
        rates = {code: programs[code].rate_history() for code in {row["program_code"] for row in new_loan_rows}}
        bulk_insert(
            Loan,
            LOAN_COLUMNS,
            (
                (
                    pk,
                    row["loan_number"],
                    household_ids.get(row["customer_code"]) or households[row["customer_code"]].pk,
                    programs[row["program_code"]].pk,
                    groups[row["group_code"]].pk,
                    row["amount"],
                    row["disbursed_on"],
                    row["maturity_on"],
                    _months_between(row["disbursed_on"], row["maturity_on"]),
                    Loan.Frequency.AT_MATURITY,
                    rates[row["program_code"]].rate_on(row["disbursed_on"]),
                    programs[row["program_code"]].overdue_multiplier,
                    Loan.Status.FROZEN if row["frozen"] else Loan.Status.ACTIVE,
                    row["outstanding"],
                    row["overdue"],
                    row["interest_arrears"],
                    actor.pk,
                    batch.pk,
                    now,
                    now,
                )
                for pk, row in zip(loan_ids, new_loan_rows, strict=True)
            ),
        )
        # The bank's interest arrears are known from the day of the file on.
        bulk_insert(
            InterestArrearsEntry,
            ["loan_id", "on", "amount", "source", "created_at"],
            (
                (pk, self.today, row["interest_arrears"], InterestArrearsEntry.Source.IMPORT, now)
                for pk, row in zip(loan_ids, new_loan_rows, strict=True)
                if row["interest_arrears"]
            ),
        )
        tracker.phase(_("Writing to the ledger"), done=len(rows) // 2)
        postings = _write_opening_entries(batch=batch, actor=actor, now=now, today=self.today)
        # New loans and households carry the same figures as their postings (outstanding = amount - repaid, overdue
        # = missed instalment - repaid, savings = the opening deposit), so `check_ledger` agrees without re-deriving
        # 100,000 balances here; existing ones change only through reconciliation.
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
        audit_bulk(Household, ids=list(household_ids.values()), note=batch.file_name)
        audit_bulk(Loan, ids=loan_ids, note=batch.file_name)
        audit_bulk(Posting, count=postings, note=batch.file_name)
        return {
            "households": len(household_ids),
            "loans": len(loan_ids),
            "postings": postings,
            "groups_created": groups_created,
            "leaders": leaders_appointed,
            "differences": len(self.differences),
        }

    def _leader_names(self):
        """{group id: leader name} for the file's groups: the first name a row gives, else, for a group still without a
        leader, the name the last groups file recorded on its grade (a group that file created had no members yet)."""
        names, in_file = {}, {}
        for _number, row in self.sheet.rows:
            group = self.groups[row["group_code"]]
            in_file[group.pk] = group
            if row.get("leader_name") and group.pk not in names:
                names[group.pk] = row["leader_name"]
        leaderless = [pk for pk, group in in_file.items() if group.leader_id is None and pk not in names]
        graded = (
            BankGroupGrade.objects.filter(group_id__in=leaderless).exclude(leader_name="")
            .order_by("group_id", "-on", "-pk").values_list("group_id", "leader_name")
        )
        for group_id, name in graded:
            names.setdefault(group_id, name)
        return names


HOUSEHOLD_COLUMNS = [
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
]
LOAN_COLUMNS = [
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
]

# What follows from the batch's new loans and households, written set-based from the rows just inserted. The file has
# no repayment frequency, so a loan's schedule is one instalment at maturity; the bank's overdue principal becomes an
# instalment already missed (the ledger's derived overdue then equals the bank's figure), the repaid principal
# counting against it first. Plain SQL that PostgreSQL and SQLite both run.
OPENING_SQL = [
    # The schedule: one instalment at maturity, or, with overdue principal, the missed part due on the earlier of the
    # file's day and maturity (already overdue from then), and the rest at maturity.
    """INSERT INTO {instalment} (loan_id, seq, due_on, principal, overdue_since, scheduled_through)
       SELECT loan_id, seq, due_on, principal, overdue_since, scheduled_through FROM (
           SELECT id AS loan_id, 1 AS seq, maturity_on AS due_on, amount AS principal, NULL AS overdue_since,
                  amount AS scheduled_through
           FROM {loan} WHERE import_batch_id = %(batch)s AND overdue_principal = 0
           UNION ALL
           SELECT id, 1, CASE WHEN maturity_on < %(today)s THEN maturity_on ELSE %(today)s END,
                  amount - principal_outstanding + overdue_principal,
                  CASE WHEN maturity_on < %(today)s THEN maturity_on ELSE %(today)s END,
                  amount - principal_outstanding + overdue_principal
           FROM {loan} WHERE import_batch_id = %(batch)s AND overdue_principal > 0
           UNION ALL
           SELECT id, 2, maturity_on, principal_outstanding - overdue_principal, NULL, amount FROM {loan}
           WHERE import_batch_id = %(batch)s AND overdue_principal > 0 AND principal_outstanding > overdue_principal
       ) schedule ORDER BY loan_id, seq""",
    # The opening savings of each new household, the disbursement of each new loan, and what it has repaid.
    """INSERT INTO {posting} ({posting_columns})
       SELECT kind, household_id, loan_id, amount, day, NULL, NULL, note, %(actor)s, %(batch)s, %(now)s FROM (
           SELECT 0 AS part, id AS row_id, %(savings_in)s AS kind, id AS household_id, NULL AS loan_id,
                  savings_balance AS amount, %(today)s AS day, %(note)s AS note
           FROM {household} WHERE import_batch_id = %(batch)s AND savings_balance > 0
           UNION ALL
           SELECT 1, id, %(disbursement)s, household_id, id, amount, disbursed_on, %(note)s
           FROM {loan} WHERE import_batch_id = %(batch)s
           UNION ALL
           SELECT 2, id, %(principal)s, household_id, id, amount - principal_outstanding, %(today)s, %(repaid_note)s
           FROM {loan} WHERE import_batch_id = %(batch)s AND principal_outstanding < amount
       ) entries ORDER BY part, row_id""",
]


def _write_opening_entries(*, batch, actor, now, today):
    """Schedules and opening postings of the batch's new households and loans; returns how many postings."""
    quote, ops = connection.ops.quote_name, connection.ops
    tables = {
        "loan": quote(Loan._meta.db_table),
        "household": quote(Household._meta.db_table),
        "instalment": quote(RepaymentInstalment._meta.db_table),
        "posting": quote(Posting._meta.db_table),
        "posting_columns": ", ".join(quote(c) for c in POSTING_COLUMNS),
    }
    params = {
        "batch": batch.pk,
        "actor": actor.pk,
        "today": ops.adapt_datefield_value(today),
        "now": ops.adapt_datetimefield_value(now),
        "note": OPENING_NOTE,
        "repaid_note": OPENING_NOTE + ": gốc đã trả",
        "savings_in": Kind.SAVINGS_IN,
        "disbursement": Kind.DISBURSEMENT,
        "principal": Kind.PRINCIPAL,
    }
    postings = 0
    with connection.cursor() as cursor:
        for statement in OPENING_SQL:
            cursor.execute(statement.format(**tables), params)
            if statement.lstrip().startswith("INSERT INTO {posting}"):
                postings += cursor.rowcount
    return postings

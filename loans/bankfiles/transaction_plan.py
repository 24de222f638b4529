"""The transactions file: TransactionPlan."""

from collections import defaultdict

from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.bankfiles.bulk import _matching, bulk_insert
from loans.bankfiles.plans import ALREADY_ON_ROW, MAX_STORED_CHANGES, POSTING_COLUMNS, BasePlan, _money
from loans.ledger.balances import refresh_balances
from loans.models import Loan, Posting

Kind = Posting.Kind


class TransactionPlan(BasePlan):
    def check(self):
        rows = self.sheet.rows
        vouchers, loan_numbers, customer_codes = {}, set(), set()
        for number, row in rows:
            self.once(vouchers, number, "voucher", row["voucher"], ALREADY_ON_ROW["voucher"])
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
        loans = {
            loan.number: loan for loan in _matching(Loan.objects.select_related("household"), "number", loan_numbers)
        }
        households = {h.customer_code: h for h in _matching(Household.objects.all(), "customer_code", customer_codes)}
        existing = {p.voucher: p for p in _matching(Posting.objects.select_related("loan"), "voucher", vouchers)}
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
        bulk_insert(Posting, POSTING_COLUMNS, posting_rows)
        refresh_balances(loan_ids=loan_ids, household_ids=household_ids)
        return {"postings": len(posting_rows)}

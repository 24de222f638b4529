"""The rows of a 13/TD sheet as it is shown, printed and exported: each household's row, the reversal of what was
reversed (negative amounts) and the correction that replaced it, with totals that count every đồng once."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from loans.models import CollectionLine, Posting

Kind = Posting.Kind

#: Money that moved on the day: rows, reversals (negative) and corrections all add up.
FLOW_FIELDS = (
    "amount_paid", "overdue_interest_paid", "current_interest_paid", "principal_paid", "savings_in", "savings_out",
)
#: What stood on the day (dues, balances): counted once per household, from the row that stands (the last
#: correction, or the row itself).
STOCK_FIELDS = ("outstanding", "overdue_interest_due", "current_interest_due", "principal_due", "savings_before")

#: Which collected amount a reversed posting takes back.
_REVERSED_FIELD = {
    Kind.OVERDUE_INTEREST: "overdue_interest_paid",
    Kind.INTEREST: "current_interest_paid",
    Kind.PRINCIPAL: "principal_paid",
    Kind.SAVINGS_IN: "savings_in",
    Kind.SAVINGS_OUT: "savings_out",
}


@dataclass
class SheetRow:
    kind: str  # "row", "reversal" or "correction"
    line: CollectionLine
    number: int
    values: dict = field(default_factory=dict)
    counts_stock: bool = False

    def __getattr__(self, name):
        # Templates read row.amount_paid and so on; stock figures of a reversal row are blank (None).
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    @property
    def is_reversal(self):
        return self.kind == "reversal"

    @property
    def is_correction(self):
        return self.kind == "correction"

    @property
    def is_struck(self):
        """Shown struck through: a row that no longer stands in full."""
        return self.kind != "reversal" and self.line.is_reversed

    @property
    def interest_due(self):
        if self.values.get("overdue_interest_due") is None:
            return None
        return self.values["overdue_interest_due"] + self.values["current_interest_due"]

    @property
    def interest_paid(self):
        return self.values["overdue_interest_paid"] + self.values["current_interest_paid"]


def _reversed_amounts(lines):
    """{line id: {field: amount taken back}} for the lines with reversed postings (one query)."""
    ids = [line.pk for line in lines if line.is_reversed]
    taken = defaultdict(lambda: defaultdict(Decimal))
    if not ids:
        return taken
    rows = Posting.objects.filter(kind=Kind.REVERSAL, collection_lines__in=ids).values_list(
        "collection_lines", "reverses__kind", "amount"
    )
    for line_id, kind, amount in rows:
        taken[line_id][_REVERSED_FIELD[kind]] += amount
    return taken


def _line_values(line):
    values = {name: getattr(line, name) for name in (*FLOW_FIELDS, *STOCK_FIELDS)}
    values["outstanding"] = sum((item.outstanding for item in line.items.all()), Decimal(0))
    values["total_due"] = line.total_due
    values["savings_after"] = line.savings_after
    values["outstanding_after"] = values["outstanding"] - line.principal_paid
    return values


def sheet_rows(lines):
    """The sheet's rows in order: each line, then (if anything of it was reversed) its reversal, then its correction
    (lines are ordered by position, so a correction follows the row it corrects)."""
    corrected = {line.corrects_id for line in lines if line.corrects_id}
    taken = _reversed_amounts(lines)
    rows, numbers, counter = [], {}, 0
    for line in lines:
        if line.corrects_id:
            number = numbers.get(line.corrects_id, 0)
        else:
            counter += 1
            number = counter
        numbers[line.pk] = number
        rows.append(SheetRow(kind="correction" if line.corrects_id else "row", line=line, number=number,
                             values=_line_values(line), counts_stock=line.pk not in corrected))
        if line.pk in taken:
            back = taken[line.pk]
            values = {name: -back.get(name, Decimal(0)) for name in FLOW_FIELDS if name != "amount_paid"}
            values["amount_paid"] = values["overdue_interest_paid"] + values["current_interest_paid"] + values[
                "principal_paid"]
            values.update({name: None for name in (*STOCK_FIELDS, "total_due", "savings_after", "outstanding_after")})
            rows.append(SheetRow(kind="reversal", line=line, number=number, values=values))
    return rows


def sheet_row_totals(rows):
    """Money collected sums over every row (reversals are negative); dues and balances count each household once."""
    totals = {name: sum((row.values[name] for row in rows), Decimal(0)) for name in FLOW_FIELDS}
    for name in STOCK_FIELDS:
        totals[name] = sum((row.values[name] for row in rows if row.counts_stock), Decimal(0))
    totals["total_due"] = totals["overdue_interest_due"] + totals["current_interest_due"] + totals["principal_due"]
    totals["savings_after"] = totals["savings_before"] + totals["savings_in"] - totals["savings_out"]
    totals["outstanding_after"] = totals["outstanding"] - totals["principal_paid"]
    return totals

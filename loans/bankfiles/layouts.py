"""The bank's three spreadsheet layouts: their columns, the header spellings offices use, and row cleaning.

Each layout is a django-import-export `Resource` whose fields name the bank's columns in order (the export writes
them, the importer reads them). Cleaning is set-based and done here in plain Python: one converter per column, the
errors named by Excel row, column, value and a Vietnamese reason. Cross-row and database checks live in
`loans/services.py`.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils.translation import gettext as _
from import_export import fields, resources
from unidecode import unidecode

from loans.models import ImportBatch, Loan, Posting
from organizations.text import clean_text

EXCEL_EPOCH = date(1899, 12, 30)


def fold(text):
    """'Mã Khách  Hàng' -> 'makhachhang': no case, accents, spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", unidecode(str(text or "")).lower())


@dataclass
class Column:
    key: str
    label: str
    kind: str  # code, text, date, amount, int, program, org, kind
    width: int = 0
    required: bool = True
    variants: tuple = ()
    folded: set = field(default_factory=set)

    def __post_init__(self):
        self.folded = {fold(self.label), *(fold(v) for v in self.variants)}


class RowError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


# ---- cell converters: value -> clean value, or RowError with a Vietnamese reason -------------------------------

# ASCII digits only: "\d" alone would also take Arabic-Indic and other scripts' digits.
AMOUNT_TEXT = re.compile(r"^\d{1,3}([.,]\d{3})+$", re.ASCII)
DATE_TEXT = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", re.ASCII)
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})", re.ASCII)


def to_code(value, width):
    if value.__class__ is str and len(value) == width and value.isascii() and value.isdigit():
        return value  # the usual case, as the bank writes codes: text of the right width
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value).zfill(width)  # a number lost its leading zeros; the width gives them back
    elif isinstance(value, Decimal):
        if value != value.to_integral_value() or value < 0:
            raise RowError(_("a code is made of digits only"))
        text = str(int(value)).zfill(width)
    else:
        text = clean_text(str(value)).strip().lstrip("'").replace(" ", "")
        if not (text.isascii() and text.isdigit()):
            raise RowError(_("a code is made of digits only"))
    if width and len(text) != width:
        raise RowError(_("has %(count)s digits; it must have %(width)s") % {"count": len(text), "width": width})
    return text


def to_amount(value):
    if isinstance(value, int) and not isinstance(value, bool):
        amount = value
    elif isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise RowError(_("amounts are whole đồng"))
        amount = int(value)
    else:
        text = str(value).strip().replace(" ", "").replace("\u00a0", "")
        for suffix in ("₫", "đ", "VND", "vnd", "đồng"):
            text = text.removesuffix(suffix)
        negative = text.startswith("-") and text != "-" or (text.startswith("(") and text.endswith(")"))
        text = text.strip("-()")
        if text in ("", "-"):
            return 0
        if text.isdigit():
            amount = int(text)
        elif AMOUNT_TEXT.match(text):
            amount = int(text.replace(".", "").replace(",", ""))
        else:
            raise RowError(_("is not an amount in whole đồng (write 1.500.000)"))
        if negative:
            amount = -amount
    if amount < 0:
        raise RowError(_("an amount cannot be negative"))
    return amount


def to_int(value):
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    raise RowError(_("is not a whole number"))


def to_date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, Decimal)):
        if 1 <= value < 2958466:
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise RowError(_("is not a date"))
    text = str(value).strip()
    match = DATE_TEXT.match(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
    else:
        match = ISO_DATE.match(text)
        if not match:
            raise RowError(_("is not a date dd/mm/yyyy"))
        year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise RowError(_("is not a real date")) from None


def to_text(value):
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    return clean_text(str(value)).strip()  # a bank cell may carry control characters, as a pasted name does


# ---- the three layouts ---------------------------------------------------------------------------------------

ORG_VARIANTS = ("Mã ĐVUT", "Mã đơn vị ủy thác", "Mã tổ chức hội", "Mã tổ chức", "Mã hội đoàn thể", "Hội đoàn thể")
WARD_VARIANTS = ("Mã xã", "Mã phường xã", "Mã phường/xã", "Mã đơn vị hành chính", "Mã ĐVHC")
GROUP_VARIANTS = ("Mã tổ TK&VV", "Mã tổ TKVV", "Mã tổ tiết kiệm", "Mã tổ vay vốn")
CUSTOMER_VARIANTS = ("Mã KH", "Mã khách hàng vay", "Mã hộ vay", "Mã hộ")
LOAN_VARIANTS = ("Số KU", "Số khế ước vay", "Mã khế ước", "Số hợp đồng", "Số HĐ", "Số hợp đồng tín dụng")

LOAN_COLUMNS = [
    Column("seq", "STT", "int", required=False, variants=("Số thứ tự", "TT")),
    Column("ward_code", "Mã phường", "code", 6, variants=WARD_VARIANTS),
    Column("ward_name", "Tên phường", "text", required=False, variants=("Phường", "Tên xã", "Tên phường/xã")),
    Column("org_code", "Mã hội", "org", variants=ORG_VARIANTS),
    Column("group_code", "Mã tổ", "code", 7, variants=GROUP_VARIANTS),
    Column("leader_name", "Tên tổ trưởng", "text", required=False, variants=("Tổ trưởng", "Họ tên tổ trưởng")),
    Column("customer_code", "Mã khách hàng", "code", 10, variants=CUSTOMER_VARIANTS),
    Column(
        "customer_name",
        "Tên khách hàng",
        "text",
        variants=("Tên KH", "Họ tên", "Họ và tên", "Tên hộ vay", "Họ tên khách hàng", "Tên người vay"),
    ),
    Column(
        "citizen_id",
        "Số CCCD",
        "code",
        12,
        variants=("CCCD", "Số căn cước", "Số căn cước công dân", "Số CMND/CCCD", "CMND/CCCD", "Số định danh"),
    ),
    Column(
        "program_code",
        "Mã chương trình",
        "program",
        variants=("Mã CT", "Mã chương trình cho vay", "Chương trình", "Mã CTCV"),
    ),
    Column("loan_number", "Số khế ước", "code", 16, variants=LOAN_VARIANTS),
    Column("disbursed_on", "Ngày giải ngân", "date", variants=("Ngày GN", "Ngày vay", "Ngày cho vay")),
    Column(
        "maturity_on", "Ngày đến hạn", "date", variants=("Hạn trả", "Ngày hết hạn", "Ngày đáo hạn", "Hạn trả cuối cùng")
    ),
    Column(
        "amount", "Số tiền giải ngân", "amount", variants=("Số tiền GN", "Số tiền vay", "Số tiền cho vay", "Giải ngân")
    ),
    Column("outstanding", "Dư nợ", "amount", variants=("Dư nợ hiện tại", "Dư nợ cuối kỳ", "Tổng dư nợ", "Dư nợ gốc")),
    Column("overdue", "Nợ quá hạn", "amount", required=False, variants=("NQH", "Dư nợ quá hạn")),
    Column("frozen", "Nợ khoanh", "amount", required=False, variants=("Dư nợ khoanh", "Nợ khoanh gốc")),
    Column(
        "interest_arrears",
        "Lãi tồn",
        "amount",
        required=False,
        variants=("Lãi tồn đọng", "Lãi chưa thu", "Lãi tồn chưa thu"),
    ),
    Column(
        "savings",
        "Số dư tiết kiệm",
        "amount",
        required=False,
        variants=("Tiết kiệm", "Dư tiết kiệm", "Số dư TK", "Tiền gửi tiết kiệm"),
    ),
]

TRANSACTION_COLUMNS = [
    Column("on", "Ngày giao dịch", "date", variants=("Ngày GD", "Ngày", "Ngày hạch toán", "Ngày chứng từ")),
    Column("voucher", "Số chứng từ", "text", variants=("Số CT", "Mã chứng từ", "Số phiếu", "Mã giao dịch", "Số GD")),
    Column("loan_number", "Số khế ước", "code", 16, required=False, variants=LOAN_VARIANTS),
    Column("customer_code", "Mã khách hàng", "code", 10, variants=CUSTOMER_VARIANTS),
    Column("kind", "Loại giao dịch", "kind", variants=("Loại GD", "Nghiệp vụ", "Loại nghiệp vụ", "Nội dung giao dịch")),
    Column("amount", "Số tiền", "amount", variants=("Số tiền giao dịch", "Số tiền GD", "Thành tiền")),
    Column("note", "Ghi chú", "text", required=False, variants=("Diễn giải", "Nội dung")),
]

GROUP_COLUMNS = [
    Column("group_code", "Mã tổ", "code", 7, variants=GROUP_VARIANTS),
    Column("group_name", "Tên tổ", "text", variants=("Tên tổ TK&VV", "Tên tổ tiết kiệm và vay vốn")),
    Column("ward_code", "Mã phường", "code", 6, variants=WARD_VARIANTS),
    Column("org_code", "Mã hội", "org", variants=ORG_VARIANTS),
    Column("leader_name", "Tổ trưởng", "text", required=False, variants=("Tên tổ trưởng", "Họ tên tổ trưởng")),
    Column("members", "Số thành viên", "int", required=False, variants=("Số tổ viên", "Số hộ", "Số hộ thành viên")),
    Column("score", "Điểm", "int", required=False, variants=("Điểm chấm", "Tổng điểm", "Điểm đánh giá")),
    Column("grade", "Xếp loại", "text", required=False, variants=("Loại", "Xếp loại tổ")),
]

LAYOUTS = {"loans": LOAN_COLUMNS, "transactions": TRANSACTION_COLUMNS, "groups": GROUP_COLUMNS}

# Kinds of transaction as the bank writes them, folded.
TRANSACTION_KINDS = {
    "giaingan": Posting.Kind.DISBURSEMENT,
    "thunogoc": Posting.Kind.PRINCIPAL,
    "tranogoc": Posting.Kind.PRINCIPAL,
    "thugoc": Posting.Kind.PRINCIPAL,
    "thulai": Posting.Kind.INTEREST,
    "thulaitronghan": Posting.Kind.INTEREST,
    "thulaiquahan": Posting.Kind.OVERDUE_INTEREST,
    "guitietkiem": Posting.Kind.SAVINGS_IN,
    "thutietkiem": Posting.Kind.SAVINGS_IN,
    "ruttietkiem": Posting.Kind.SAVINGS_OUT,
    "chitietkiem": Posting.Kind.SAVINGS_OUT,
}
KIND_LABELS = {
    Posting.Kind.DISBURSEMENT: "Giải ngân",
    Posting.Kind.PRINCIPAL: "Thu nợ gốc",
    Posting.Kind.INTEREST: "Thu lãi",
    Posting.Kind.OVERDUE_INTEREST: "Thu lãi quá hạn",
    Posting.Kind.SAVINGS_IN: "Gửi tiết kiệm",
    Posting.Kind.SAVINGS_OUT: "Rút tiết kiệm",
}
ORG_CODES = {"11", "12", "13", "14"}
GRADES = {"tot": "good", "kha": "fair", "trungbinh": "average", "yeu": "weak", "kem": "weak"}
TOTAL_MARKERS = ("tongcong", "tong", "cong", "total")
KEY_COLUMNS = {
    "loans": ("loan_number", "customer_code"),
    "transactions": ("voucher", "customer_code"),
    "groups": ("group_code",),
}


def to_org(value):
    code = to_code(value, 2)
    if code == "99":
        raise RowError(
            _("99 is direct lending by the bank, which is not entrusted to an organization; remove these rows")
        )
    if code not in ORG_CODES:
        raise RowError(_("is not an organization code (11, 12, 13 or 14)"))
    return code


def to_kind(value):
    kind = TRANSACTION_KINDS.get(fold(value))
    if kind is None:
        raise RowError(
            _(
                "is not a kind of transaction "
                "(Giải ngân, Thu nợ gốc, Thu lãi, Thu lãi quá hạn, Gửi tiết kiệm, Rút tiết kiệm)"
            )
        )
    return kind


def to_program(value):
    if isinstance(value, (int, Decimal)):
        return to_code(value, 2)
    text = clean_text(str(value)).strip()
    return text.zfill(2) if text.isdigit() else text


def converter(column):
    kind = column.kind
    if kind == "code":
        width = column.width
        return lambda value: to_code(value, width)
    if kind == "date":
        cache = {}

        def convert_date(value):
            try:
                return cache[value]
            except KeyError:
                result = cache[value] = to_date(value)
                return result
            except TypeError:
                return to_date(value)

        return convert_date
    return {
        "text": to_text,
        "amount": to_amount,
        "int": to_int,
        "org": to_org,
        "kind": to_kind,
        "program": to_program,
    }[kind]


# ---- reading a sheet into clean rows -------------------------------------------------------------------------


# Errors past this many are counted, not kept: the officer reads the first ones, and a file of junk rows cannot fill
# the worker's memory with millions of messages.
MAX_KEPT_ERRORS = 5000


@dataclass
class ParsedSheet:
    rows: list  # (excel row, {key: value}) for valid rows
    errors: list  # {"row", "column", "value", "message"}, the first MAX_KEPT_ERRORS
    header_row: int = 0
    labels: dict = field(default_factory=dict)  # key -> header text as in the file
    total_row: int = 0
    data_rows: int = 0
    invalid_rows: set = field(default_factory=set)
    # What the preview shows: the Tổng cộng row against the sum of the rows, and the first rows as read.
    total_check: list = field(default_factory=list)  # {"column", "file", "rows"}
    samples: dict = field(default_factory=dict)  # {"columns": [...], "rows": [[excel row, text, ...], ...]}
    errors_not_kept: int = 0

    @property
    def error_count(self):
        return len(self.errors) + self.errors_not_kept

    def add_error(self, row, key, value, message):
        self.invalid_rows.add(row)
        if len(self.errors) >= MAX_KEPT_ERRORS:
            self.errors_not_kept += 1
            return
        self.errors.append(
            {
                "row": row,
                "column": self.labels.get(key, key),
                "value": "" if value is None else clean_text(str(value)),  # shown and kept with the batch
                "message": message,
            }
        )


def display(value):
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return "" if value is None else str(value)


def find_header(rows_iter, columns):
    """Consume the title block; return (row number, {key: index}, {key: label}, missing labels)."""
    best = (0, None, {}, {}, [c.label for c in columns if c.required])
    for scanned, (number, values) in enumerate(rows_iter):
        positions, labels = {}, {}
        for index, value in enumerate(values):
            if value is None:
                continue
            folded = fold(value)
            for column in columns:
                if column.key not in positions and folded in column.folded:
                    positions[column.key] = index
                    labels[column.key] = clean_text(str(value)).strip()
                    break
        missing = [c.label for c in columns if c.required and c.key not in positions]
        if len(positions) >= 3 and len(positions) > len(best[2]):
            best = (number, values, positions, labels, missing)
            if not missing:
                return best
        if scanned >= 40:
            break
    return best


def _recording(rows, seen, limit=50):
    """Pass the rows on, keeping the first `limit` (the title block and the header) to read them again."""
    for row in rows:
        if len(seen) < limit:
            seen.append(row)
        yield row


def other_layout(rows, layout):
    """The other layout whose required columns these rows' header has in full (the one matching most columns), or
    None."""
    found, most = None, 0
    for other, columns in LAYOUTS.items():
        if other != layout:
            _number, _values, positions, _labels, missing = find_header(iter(rows), columns)
            if positions and not missing and len(positions) > most:
                found, most = other, len(positions)
    return found


def parse_sheet(rows_iter, layout, progress=None):
    """Clean every data row of a sheet. Errors never stop the scan, so the officer sees all of them at once."""
    columns = LAYOUTS[layout]
    seen = []
    rows_iter = _recording(iter(rows_iter), seen)
    number, _values, positions, labels, missing = find_header(rows_iter, columns)
    sheet = ParsedSheet(rows=[], errors=[], header_row=number, labels=labels)
    if not positions or missing:
        # A file of another kind (a transactions file sent as loan balances) is one mistake, not nine missing
        # columns: say which kind it looks like.
        other = other_layout(seen, layout)
        if other is not None:
            kinds = dict(ImportBatch.Kind.choices)
            sheet.errors.append(
                {
                    "row": number or "",
                    "column": "",
                    "value": "",
                    "message": _(
                        "This looks like a “%(found)s” file, not a “%(expected)s” file: upload it as "
                        "“%(found)s”, or choose the right file."
                    )
                    % {"found": kinds[other], "expected": kinds[layout]},
                }
            )
            return sheet
    if not positions:
        sheet.errors.append(
            {
                "row": "",
                "column": "",
                "value": "",
                "message": _("No header row found: the sheet must have a row with the column names (%(names)s).")
                % {"names": ", ".join(c.label for c in columns if c.required)},
            }
        )
        return sheet
    if missing:
        for label in missing:
            sheet.errors.append(
                {
                    "row": number,
                    "column": label,
                    "value": "",
                    "message": _("The required column “%(name)s” is missing.") % {"name": label},
                }
            )
        return sheet
    plan = [
        (column.key, positions[column.key], converter(column), column.required)
        for column in columns
        if column.key in positions
    ]
    empty = {
        column.key: 0 if column.kind == "amount" else ("" if column.kind == "text" else None) for column in columns
    }
    amount_keys = [column.key for column in columns if column.kind == "amount" and column.key in positions]
    sums = dict.fromkeys(amount_keys, 0)
    first_cols = sorted(positions.values())[:3] + [0]
    key_positions = [positions[key] for key in KEY_COLUMNS[layout] if key in positions]
    count = 0
    absent = {column.key: empty[column.key] for column in columns if column.key not in positions}
    for number, values in rows_iter:
        if not any(v is not None and v != "" for v in values):
            continue
        # The Tổng cộng row closes the data; it is checked against the column sums below.
        marker = next((values[i] for i in first_cols if i < len(values) and isinstance(values[i], str)), None)
        if marker is not None and fold(marker) in TOTAL_MARKERS:
            sheet.total_row = number
            check_total(sheet, number, values, positions, sums)
            break
        # A signature block or note under the data ("Người lập biểu", "Giám đốc") has no key and few cells.
        if all(index >= len(values) or values[index] in (None, "") for index in key_positions):
            if sum(1 for v in values if v is not None and v != "") <= 3:
                continue
        count += 1
        clean = dict(absent)
        size = len(values)
        for key, index, convert, required in plan:
            value = values[index] if index < size else None
            if value is None or value == "":
                if required:
                    sheet.add_error(number, key, value, _("is empty"))
                clean[key] = empty[key]
                continue
            try:
                clean[key] = convert(value)
            except RowError as error:
                sheet.add_error(number, key, value, error.message)
                clean[key] = None
        for key in amount_keys:
            if isinstance(clean[key], int):
                sums[key] += clean[key]
        if number not in sheet.invalid_rows:
            sheet.rows.append((number, clean))
        if progress and count % 5000 == 0:
            progress(count)
    sheet.data_rows = count
    sheet.samples = _samples(sheet, columns, SAMPLE_KEYS.get(layout))
    return sheet


SAMPLE_ROWS = 5
SAMPLE_COLUMNS = 9
# The loan file is wide: its preview shows who, which loan, and the figures the import writes.
SAMPLE_KEYS = {
    "loans": ("customer_code", "customer_name", "loan_number", "program_code", "disbursed_on", "amount",
              "outstanding", "overdue", "savings"),
}


def _samples(sheet, columns, keys=None):
    """The first rows as the import understood them, so the officer can see the columns were read right."""
    shown = [column for column in columns if column.key in sheet.labels and (keys is None or column.key in keys)]
    shown = shown[:SAMPLE_COLUMNS]

    def text(value, kind):
        if kind == "amount" and isinstance(value, int):
            return f"{value:,}".replace(",", ".")
        return display(value)

    return {
        "columns": [sheet.labels[column.key] for column in shown],
        "amounts": [column.kind == "amount" for column in shown],
        "rows": [[number, *(text(clean[c.key], c.kind) for c in shown)] for number, clean in sheet.rows[:SAMPLE_ROWS]],
    }


def check_total(sheet, number, values, positions, sums):
    for key, expected in sums.items():
        index = positions[key]
        value = values[index] if index < len(values) else None
        if value is None or value == "":
            sheet.total_check.append({"column": sheet.labels.get(key, key), "file": None, "rows": expected})
            continue
        try:
            total = to_amount(value)
        except RowError as error:
            sheet.add_error(number, key, value, error.message)
            continue
        sheet.total_check.append({"column": sheet.labels.get(key, key), "file": total, "rows": expected})
        if total != expected:
            sheet.add_error(
                number,
                key,
                value,
                _("the total row says %(total)s but the rows add up to %(sum)s; the file may be cut or edited")
                % {"total": f"{total:,}".replace(",", "."), "sum": f"{expected:,}".replace(",", ".")},
            )


# ---- django-import-export resources: the column order of each layout, for exports and the plain import ------


def layout_resource(name, columns):
    attrs = {c.key: fields.Field(attribute=c.key, column_name=c.label) for c in columns}

    class Meta:
        fields = tuple(c.key for c in columns)
        export_order = fields

    attrs["Meta"] = Meta
    return type(name, (resources.Resource,), attrs)


LoanBalanceResource = layout_resource("LoanBalanceResource", LOAN_COLUMNS)
TransactionResource = layout_resource("TransactionResource", TRANSACTION_COLUMNS)
GroupResource = layout_resource("GroupResource", GROUP_COLUMNS)
RESOURCES = {"loans": LoanBalanceResource, "transactions": TransactionResource, "groups": GroupResource}


class PlainLoanResource(resources.ModelResource):
    """What most projects ship: a default ModelResource. Kept for the benchmark's comparison."""

    class Meta:
        model = Loan
        import_id_fields = ("number",)
        fields = (
            "number",
            "household",
            "program",
            "group",
            "amount",
            "disbursed_on",
            "maturity_on",
            "term_months",
            "annual_rate",
            "overdue_multiplier",
            "principal_outstanding",
        )


def headers(layout):
    return [c.label for c in LAYOUTS[layout]]


HOUSEHOLD_HEADERS = [
    "STT",
    "Mã khách hàng",
    "Tên khách hàng",
    "Số CCCD",
    "Mã phường",
    "Tên phường",
    "Mã hội",
    "Mã tổ",
    "Địa chỉ",
    "Diện chính sách",
    "Số dư tiết kiệm",
]
EXPORT_TITLES = {
    "loans": "DANH SÁCH DƯ NỢ CHI TIẾT THEO KHÁCH HÀNG",
    "transactions": "SAO KÊ GIAO DỊCH",
    "groups": "DANH SÁCH TỔ TIẾT KIỆM VÀ VAY VỐN",
    "households": "DANH SÁCH HỘ VAY",
}


def export_layout(kind, rows, *, title_date):
    """Title block, header, rows (dates as dd/mm/yyyy text, as the bank writes them) and a Tổng cộng row."""
    if kind == "households":
        header, amount_columns = HOUSEHOLD_HEADERS, [10]
    else:
        header = headers(kind)
        amount_columns = [i for i, c in enumerate(LAYOUTS[kind]) if c.kind == "amount"]
    rows = [[v.strftime("%d/%m/%Y") if isinstance(v, date) else ("" if v is None else v) for v in row] for row in rows]
    total = ["Tổng cộng"] + [""] * (len(header) - 1)
    for index in amount_columns:
        total[index] = sum(row[index] or 0 for row in rows)
    if kind == "groups":
        total = None
    return {
        "title_lines": [
            "ỦY THÁC – NGÂN HÀNG CHÍNH SÁCH XÃ HỘI",
            f"{EXPORT_TITLES[kind]} ĐẾN NGÀY {title_date:%d/%m/%Y}",
            "Đơn vị tính: đồng",
        ],
        "headers": header,
        "rows": rows,
        "total_row": total,
        "amount_columns": amount_columns,
        "sheet_title": kind,
    }

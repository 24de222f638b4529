"""What every import plan shares: BasePlan, and creating the branches and groups a file names."""

from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from organizations.audit import audit_bulk
from organizations.models import Organization, SavingsGroup, Ward

MAX_STORED_CHANGES = 500


def _money(value):
    return f"{int(value):,}".replace(",", ".")


ALREADY_ON_ROW = {
    "loan_number": gettext_lazy("this loan number is already on row %(row)s"),
    "voucher": gettext_lazy("this voucher number is already on row %(row)s"),
    "group_code": gettext_lazy("this group code is already on row %(row)s"),
}


class BasePlan:
    def __init__(self, *, batch, sheet):
        self.batch, self.sheet = batch, sheet
        self.errors = []
        self.new = self.changed = self.unchanged = 0
        self.changes = []  # side by side: row, key, figure, ledger, bank
        self.notes = []  # what the preview should say besides errors: old ward codes mapped to their successor
        self.today = timezone.localdate()
        self._wards = None

    def ward(self, code):
        """The ward in being for a code on the bank's file: a merged ward's code maps to the ward it is now part of,
        with a note for the preview (once per code). None when no ward ever had the code."""
        if self._wards is None:
            self._wards, self._mapped = wards_by_code(), set()
        ward, old = self._wards.get(code, (None, None))
        if old is not None and code not in self._mapped:
            self._mapped.add(code)
            self.notes.append(
                _("Ward code %(code)s is %(old)s, merged into %(new)s on %(date)s: its rows go to %(new)s.")
                % {"code": code, "old": old.name, "new": ward.name, "date": old.merged_on.strftime("%d/%m/%Y")}
            )
        return ward

    #: Whether `hold_references` covers every reference the plan's writes carry (then PostgreSQL may skip its per-row
    #: foreign-key triggers for them).
    holds_references = False

    #: Whether the apply step may take over this plan from the check step in the same process instead of looking
    #: everything up again (its `hold_references` then verifies what it read; see LoanPlan); and whether it did.
    reusable = False
    reused = False

    #: The groups whose figures `apply` changed, when the plan knows them without asking the database (None: the
    #: groups of the loans and households the batch posted to).
    touched_groups = None

    def hold_references(self):
        """Lock the existing rows the plan's writes point at until the commit; False (with an error on each row
        concerned) when one of them is gone since the check."""
        return True

    @property
    def data_rows(self):
        return self.sheet.data_rows

    def error(self, row, key, value, message):
        self.sheet.add_error(row, key, value, message)

    def once(self, seen, number, key, value, message):
        """Refuse a value that an earlier row already holds; `message` (lazy: this runs for every row) names that
        row as %(row)s."""
        previous = seen.setdefault(value, number)
        if previous != number:
            self.error(number, key, value, str(message) % {"row": previous})

    def in_its_branch(self, number, row, group, ward):
        """Whether an existing group belongs to the ward and organization that the row names."""
        if group and ward and (group.branch.ward_id != ward.pk or group.branch.kind != row["org_code"]):
            self.error(
                number,
                "group_code",
                row["group_code"],
                _("this group belongs to %(branch)s, not to the ward and organization on this row")
                % {"branch": group.branch},
            )
            return False
        return True

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
            "total_check": self.sheet.total_check,
            "samples": self.sheet.samples,
            "notes": [str(note) for note in self.notes],
        }


class PlanOutdated(Exception):
    """A plan kept from the check step finds, under its locks, that a row it read has changed since: check again."""


def same_values(found, expected):
    """Whether values read back from the database are those a plan read (amounts compared as whole đồng)."""
    return all(
        int(a) == int(b) if isinstance(b, (int, Decimal)) and not isinstance(b, bool) and a is not None else a == b
        for a, b in zip(found, expected, strict=True)
    )


def hold_rows(model, ids, columns=()):
    """The ids of `ids` whose rows still exist, each locked against deletion (and against a change of its key) until
    the transaction ends, as a foreign-key check locks the row it checks; one query, whatever the number of ids.
    With `columns`: {id: (their values)} of those rows, read in the same query."""
    ids = sorted(set(ids))
    if not ids:
        return {} if columns else set()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    selected = ", ".join(["id", *(quote(column) for column in columns)])
    found = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            query = f"SELECT {selected} FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE"  # noqa: S608
            cursor.execute(query, [ids])
            found = cursor.fetchall()
        else:
            # SQLite: the import's transaction holds the database's write lock; chunks keep under its variable limit.
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(f"SELECT {selected} FROM {table} WHERE id IN ({marks})", part)  # noqa: S608
                found += cursor.fetchall()
    if columns:
        return {row[0]: tuple(row[1:]) for row in found}
    return {row[0] for row in found}


def wards_by_code():
    """{code: (ward in being, merged ward the code named or None)} for every code any ward has had."""
    wards = {ward.pk: ward for ward in Ward.objects.select_related("area")}
    result = {}
    for ward in wards.values():
        if ward.is_active:
            result[ward.code] = (ward, None)
    for ward in wards.values():
        if not ward.is_active and ward.code not in result:
            successor = ward
            while successor.merged_into_id is not None and successor.merged_into_id in wards:
                successor = wards[successor.merged_into_id]
            result[ward.code] = (successor, ward)
    return result


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


def _create_groups(groups, branches, wanted):
    """Create the groups of `wanted` ((code, ward, organization kind, name or None), first one wins) that `groups`
    (code -> group, updated here) does not hold, with their branches; returns how many were created."""
    missing = {}
    for code, ward, kind, name in wanted:
        if code not in groups and code not in missing:
            branch = _ensure_branch(branches, ward, kind)
            missing[code] = SavingsGroup(code=code, name=(name or _("Group %(code)s") % {"code": code})[:200], branch=branch)
    for group in SavingsGroup.objects.bulk_create(missing.values(), batch_size=2000):
        groups[group.code] = group
    if missing:
        audit_bulk(SavingsGroup, objects=missing.values())
    return len(missing)


def appoint_leaders(leader_names):
    """Make the household that a bank file names as a group's leader (tổ trưởng) its leader: `leader_names` is
    {group id: name}. Run once the import's groups and memberships are written, in its transaction, so that a group
    created by the file and a household that joined it by the file count. A name that no current member has, that
    two members share, or that is the deputy's is left for the ward to appoint (the leader is always a member).
    Returns how many groups got a new leader."""
    from borrowers.models import fold_name
    from organizations.models import GroupMembership

    wanted = {group_id: fold_name(name)[:200] for group_id, name in leader_names.items() if (name or "").strip()}
    if not wanted:
        return 0
    found = {}
    members = GroupMembership.objects.filter(
        group_id__in=list(wanted), left_on__isnull=True, household__search_name__in=set(wanted.values())
    ).order_by().values_list("group_id", "household_id", "household__search_name", "group__deputy_id", "group__leader_id")
    for group_id, household_id, search_name, deputy_id, leader_id in members:
        if search_name == wanted[group_id] and household_id != deputy_id:
            found.setdefault(group_id, (leader_id, set()))[1].add(household_id)
    appointed = [
        SavingsGroup(pk=group_id, leader_id=next(iter(households)))
        for group_id, (leader_id, households) in found.items()
        if len(households) == 1 and leader_id not in households
    ]
    SavingsGroup.objects.bulk_update(appointed, ["leader"], batch_size=500)
    return len(appointed)


#: The columns an import writes for each posting, in the order its rows carry them.
POSTING_COLUMNS = [
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
]


def _months_between(start, end):
    months = (end.year - start.year) * 12 + end.month - start.month
    return max(1, months)

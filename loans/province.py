"""A province built with set-based SQL on PostgreSQL, in minutes: wards, the Front's and the four organizations'
branches, savings groups, households and loans with their schedules, postings and balances.

Every row is computed by INSERT … SELECT over `generate_series`, from a plan of one row per loan kept in a temporary
table; nothing goes through Python row by row. The data follow the rules the app keeps:
- a loan's principal is repaid on each due date before today; its cached outstanding is its disbursement less those
  repayments;
- one loan in twenty missed its latest instalment. As the day close would have, the instalment is overdue from the day
  after its working due date if that day was closed; the day closes of `closed` and the day before are recorded
  as run, having seen every instalment, so an instalment whose working due date is `closed` itself is still
  unmarked, for the next `close_day` to find;
- savings balances are their deposits; interest arrears are their arrears entries; a frozen loan has its status
  change.
So `check_ledger` passes on what this builds. The summaries the dashboard reads are refreshed the way the commands
refresh them.

While it loads, the big tables' indexes other than their primary keys are dropped and built again at the end (one
sort each instead of one insertion per row; unique constraints come back as constraints, checked over the whole
table), and, when the database role may, the foreign-key triggers are skipped for the session: every
reference is computed from rows this builder inserted in the same transaction. Unique and check constraints stay.
"""

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from borrowers.models import fold_name
from loans.calendar import WorkingCalendar
from loans.models import DayClose
from organizations.models import OfficerProfile, Organization

WARDS = 168
LOANS = 300_000
#: About 7,000 groups for 300,000 loans.
LOANS_PER_GROUP = 43
#: Loans are planned, and their rows inserted, this many at a time: the temporary plan stays small.
BATCH = 250_000
DEMO_PASSWORD = "uythac-demo"

Kind = Organization.Kind
MEMBER_KINDS = [Kind.FARMERS, Kind.WOMEN, Kind.VETERANS, Kind.YOUTH]
PROVINCE_NAMES = {
    Kind.FRONT: ("Ủy ban MTTQ Việt Nam Thành phố", "Ban công tác Mặt trận {ward}"),
    Kind.FARMERS: ("Hội Nông dân Thành phố", "Hội Nông dân {ward}"),
    Kind.WOMEN: ("Hội Liên hiệp Phụ nữ Thành phố", "Hội Liên hiệp Phụ nữ {ward}"),
    Kind.VETERANS: ("Hội Cựu chiến binh Thành phố", "Hội Cựu chiến binh {ward}"),
    Kind.YOUTH: ("Thành Đoàn", "Đoàn Thanh niên {ward}"),
}
WARD_NAMES = [
    "Sài Gòn", "Tân Định", "Bến Thành", "Cầu Ông Lãnh", "Bàn Cờ", "Xuân Hòa", "Nhiêu Lộc", "Xóm Chiếu", "Khánh Hội",
    "Vĩnh Hội", "Chợ Quán", "An Đông", "Chợ Lớn", "Bình Tây", "Bình Tiên", "Bình Phú", "Phú Lâm", "Tân Thuận",
    "Phú Thuận", "Tân Mỹ", "Tân Hưng", "Chánh Hưng", "Phú Định", "Bình Đông", "Diên Hồng", "Vườn Lài", "Hòa Hưng",
    "Minh Phụng", "Bình Thới", "Hòa Bình", "Phú Thọ", "Đông Hưng Thuận", "Trung Mỹ Tây", "Tân Thới Hiệp",
    "Thới An", "An Phú Đông", "An Lạc", "Bình Tân", "Tân Tạo", "Bình Trị Đông", "Bình Hưng Hòa", "Gia Định",
    "Bình Thạnh", "Bình Lợi Trung", "Thạnh Mỹ Tây", "Bình Quới", "Hạnh Thông", "An Nhơn", "Gò Vấp", "An Hội Đông",
    "Thông Tây Hội", "An Hội Tây", "Đức Nhuận", "Cầu Kiệu", "Phú Nhuận", "Tân Sơn Hòa", "Tân Sơn Nhất", "Tân Hòa",
    "Bảy Hiền", "Tân Bình", "Tân Sơn", "Tây Thạnh", "Tân Sơn Nhì", "Phú Thọ Hòa", "Tân Phú", "Phú Thạnh",
    "Hiệp Bình", "Thủ Đức", "Tam Bình", "Linh Xuân", "Tăng Nhơn Phú", "Long Bình", "Long Phước", "Long Trường",
    "Cát Lái", "Bình Trưng", "Phước Long", "An Khánh",
]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Thị", "Văn", "Thị Thu", "Minh", "Ngọc", "Thanh", "Hữu", "Thị Kim"]
GIVEN = ["Mai", "Hùng", "Hoa", "Tuấn", "Trang", "Bình", "Lan", "Dũng", "Hương", "Phúc", "Yến", "Sơn", "Thảo", "Nam",
         "Hạnh", "Khoa", "Nhung", "Long", "Vân", "Tâm"]
PROGRAMS = ["01", "03", "06", "07"]
#: Indexes of the big tables that nothing needs while loading (unique ones, which are constraints, stay).
BIG_TABLES = ["borrowers_household", "organizations_groupmembership", "loans_loan", "loans_repaymentinstalment",
              "loans_posting"]


@dataclass
class Province:
    """What to build: `loans` loans in `wards` wards, as of `today`; the day before was closed."""

    loans: int = LOANS
    wards: int = WARDS
    today: object = None
    timings: dict = field(default_factory=dict)

    def __post_init__(self):
        self.today = self.today or timezone.localdate()
        self.closed = self.today - timedelta(days=1)
        self.branches = self.wards * len(MEMBER_KINDS)
        self.groups = max(self.branches, round(self.loans / LOANS_PER_GROUP))


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.rowcount


def scalar(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchone()[0]


def refuse_unless_empty():
    """The builder writes fixed ids: it needs a migrated database with no wards, households or loans yet."""
    if connection.vendor != "postgresql":
        raise ValueError("The province is built with PostgreSQL's set-based SQL; DATABASE_URL must point at PostgreSQL.")
    tables = ("organizations_ward", "borrowers_household", "loans_loan", "organizations_organization")
    if any(scalar(f"SELECT EXISTS (SELECT 1 FROM {table})") for table in tables):
        raise ValueError("The database already has wards, organizations, households or loans: build the province "
                         "into an empty (migrated) database.")


def build_province(province, *, log=print, fast_load=True, snapshots_since=None):
    """Build the whole province in one transaction; returns {step: seconds}. See the module's docstring.

    `snapshots_since`: also rebuild the past-date snapshots from that day (None: not at all; past dates are then
    derived from the ledger). `fast_load=False` keeps the indexes and the foreign-key triggers while loading.
    """
    from loans.ledger.snapshots import snapshots_rebuild
    from loans.ledger.summaries import refresh_portfolio_summary

    refuse_unless_empty()
    timings = province.timings
    started = time.perf_counter()

    def step(name, function, *args, **kwargs):
        began = time.perf_counter()
        function(*args, **kwargs)
        timings[name] = time.perf_counter() - began
        log(f"  {name}: {timings[name]:.1f} s")

    with transaction.atomic():
        sql("SET LOCAL synchronous_commit = off")
        sql("SET LOCAL maintenance_work_mem = '256MB'")  # each index is built in one sort
        unchecked = fast_load and scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if unchecked:
            sql("SET LOCAL session_replication_role = replica")  # no per-row foreign-key triggers
        dropped = _drop_secondary_indexes() if fast_load else []
        step("wards, organizations and groups", _build_tree, province)
        _due_dates(province)
        for first in range(1, province.loans + 1, BATCH):
            last = min(province.loans, first + BATCH - 1)
            step(f"loans {first:,}–{last:,}", _fill_loans, province, first, last)
        step("indexes", _create_indexes, dropped)
        step("sequences", _reset_sequences)
        if unchecked:
            sql("SET LOCAL session_replication_role = origin")
        sql("DROP TABLE province_due")
        step("demo logins", _demo_logins, province)
        _day_closed(province)
        step("analyze", sql, "ANALYZE")
        step("summaries", refresh_portfolio_summary, province.today)
        if snapshots_since is not None:
            step("snapshots", snapshots_rebuild, since=snapshots_since)
    timings["total"] = time.perf_counter() - started
    return timings


def _drop_secondary_indexes():
    """Drop the big tables' indexes other than their primary keys; returns the statements that make them again
    (unique constraints come back as constraints, so they are checked once, over the whole table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, c.conname, t.relname,
                      CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
                           ELSE pg_get_constraintdef(c.oid) END
               FROM pg_index i
               JOIN pg_class t ON t.oid = i.indrelid
               LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u'
               WHERE t.relname = ANY(%s) AND NOT i.indisprimary""",
            [BIG_TABLES],
        )
        rows = cursor.fetchall()
        remake = []
        for index, constraint, table, definition in rows:
            if constraint:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
                remake.append(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {definition}")
            else:
                cursor.execute(f"DROP INDEX {index}")
                remake.append(definition)
    return remake


def _create_indexes(definitions):
    for definition in definitions:
        sql(definition)


def _reset_sequences():
    for table in ("organizations_area", "organizations_ward", "organizations_organization",
                  "organizations_savingsgroup", "borrowers_household", "loans_loan"):
        sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _build_tree(province):
    """The area, its wards, the five organizations at province level and their branches in every ward, the groups.

    Ward w (1-based) has the branch of member organization k (0-3) with id 1000 + 4 (w - 1) + k, and the Front's with
    id 100000 + w. Group g (1-based) belongs to member branch 1000 + (g - 1) % branches.
    """
    sql("INSERT INTO organizations_area (id, code, name, kind_label) "
        "VALUES (1, 'HCM', 'Thành phố Hồ Chí Minh', 'Thành phố')")
    sql(
        """INSERT INTO organizations_ward (id, code, name, area_id)
           SELECT w, lpad((26700 + 3 * w)::text, 6, '0'),
                  CASE WHEN w %% 9 = 0 THEN 'Xã ' ELSE 'Phường ' END
                  || (%(names)s::text[])[(w - 1) %% cardinality(%(names)s::text[]) + 1]
                  || CASE WHEN w > cardinality(%(names)s::text[]) THEN ' ' || ((w - 1) / cardinality(%(names)s::text[]) + 1)
                          ELSE '' END, 1
           FROM generate_series(1, %(wards)s) AS w""",
        {"names": WARD_NAMES, "wards": province.wards},
    )
    kinds = [Kind.FRONT, *MEMBER_KINDS]
    for number, kind in enumerate(kinds, start=1):
        sql("INSERT INTO organizations_organization (id, kind, level, name, area_id) VALUES (%s, %s, 'district', %s, 1)",
            [number, kind, PROVINCE_NAMES[kind][0]])
    for number, kind in enumerate(kinds, start=1):
        # The Front's branch in ward w: 100000 + w; member organization k's: 1000 + 4 (w - 1) + k.
        branch_id = "100000 + w.id" if kind == Kind.FRONT else f"1000 + 4 * (w.id - 1) + {MEMBER_KINDS.index(kind)}"
        sql(
            f"""INSERT INTO organizations_organization (id, kind, level, name, area_id, parent_id, ward_id)
                SELECT {branch_id}, %s, 'ward', replace(%s, '{{ward}}', lower(left(w.name, 1)) || substr(w.name, 2)),
                       1, %s, w.id
                FROM organizations_ward w""",
            [kind, PROVINCE_NAMES[kind][1], number],
        )
    sql(
        """INSERT INTO organizations_savingsgroup (id, code, name, status, founded_on, branch_id)
           SELECT g, lpad((7000000 + g)::text, 7, '0'), 'Tổ ' || ((g - 1) / %(branches)s + 1) || ' – '
                  || (SELECT o.name FROM organizations_organization o WHERE o.id = 1000 + (g - 1) %% %(branches)s),
                  'active', DATE '2015-01-01' + (g %% 2000), 1000 + (g - 1) %% %(branches)s
           FROM generate_series(1, %(groups)s) AS g""",
        {"branches": province.branches, "groups": province.groups},
    )


def _due_dates(province):
    """A small table of where each recent due date moves (the working calendar), for the overdue rule in SQL."""
    first = province.today - timedelta(days=400)
    calendar = WorkingCalendar.for_span(first, province.today)
    days = [first + timedelta(days=n) for n in range((province.today - first).days + 1)]
    sql("CREATE TEMP TABLE province_due (day date PRIMARY KEY, effective date) ON COMMIT DROP")
    sql("INSERT INTO province_due SELECT * FROM unnest(%s::date[], %s::date[])",
        [days, [calendar.on_or_after(day) for day in days]])


def _fill_loans(province, first, last):
    """Households, memberships, loans, instalments, postings and entries for loans first..last (1-based).

    Loan i belongs to household i in group (i - 1) % groups + 1: 36 months, quarterly or half-yearly, disbursed
    10 to 1,009 days ago, 24 to 60 million đồng.
    """
    names = {
        "family": FAMILY, "middle": MIDDLE, "given": GIVEN,
        "family_f": [fold_name(n) for n in FAMILY], "middle_f": [fold_name(n) for n in MIDDLE],
        "given_f": [fold_name(n) for n in GIVEN],
    }
    params = {"first": first, "last": last, "groups": province.groups, "today": province.today,
              "closed": province.closed, "programs": PROGRAMS, **names}
    sql(
        """CREATE TEMP TABLE province_plan ON COMMIT DROP AS
           SELECT i, (i - 1) %% %(groups)s + 1 AS group_id,
                  (20 + i %% 31)::numeric * 1200000 AS amount,
                  %(today)s::date - 10 - ((i * 7919) %% 1000)::int AS disbursed_on,
                  CASE WHEN i %% 2 = 0 THEN 3 ELSE 6 END AS frequency,
                  (i %% 100 = 1) AS frozen,
                  (i %% 20 = 0) AS late,
                  (i %% 33 = 2) AS arrears
           FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i""",
        params,
    )
    # Instalments: count, share, how many are due before today and where the latest of those moves to. Loans that
    # missed their latest instalment: `missed`, and `marked` overdue when its working due date was closed.
    sql(
        """CREATE TEMP TABLE province_loan ON COMMIT DROP AS
           SELECT q.*, q.late AND NOT q.frozen AND q.due > 0 AS missed,
                  q.late AND NOT q.frozen AND q.due > 0 AND q.last_effective < %(closed)s AS marked,
                  q.due - CASE WHEN q.late AND NOT q.frozen AND q.due > 0 THEN 1 ELSE 0 END AS paid
           FROM (
               SELECT p.*, 36 / p.frequency AS count, p.amount / (36 / p.frequency) AS share, d.due,
                      e.effective AS last_effective
               FROM province_plan p
               CROSS JOIN LATERAL (
                   SELECT count(*)::int AS due, max(day) AS last_due
                   FROM (SELECT (p.disbursed_on + make_interval(months => s * p.frequency))::date AS day
                         FROM generate_series(1, 36 / p.frequency) AS s) AS schedule
                   WHERE day < %(today)s
               ) AS d
               LEFT JOIN province_due e ON e.day = d.last_due
           ) AS q""",
        params,
    )
    sql("DROP TABLE province_plan")
    sql(
        """INSERT INTO borrowers_household (id, customer_code, head_name, search_name, citizen_id, birth_year, phone,
               address, members, policy_status, policy_list_year, savings_balance, created_at, updated_at, branch_id,
               ward_id)
           SELECT p.i, lpad((6000000000 + p.i)::text, 10, '0'),
                  f.n[1] || ' ' || m.n[1] || ' ' || g.n[1], f.n[2] || ' ' || m.n[2] || ' ' || g.n[2],
                  '079' || CASE WHEN p.i %% 2 = 0 THEN '1' ELSE '0' END || lpad((50 + p.i %% 40)::text, 2, '0')
                  || lpad(((p.i / 40) %% 1000000)::text, 6, '0'),
                  1950 + p.i %% 40, '', 'Tổ dân phố ' || (p.i %% 97 + 1), 1 + p.i %% 6,
                  CASE WHEN p.i %% 3 = 0 THEN 'near_poor' ELSE 'poor' END, 2025, 50000 * (1 + p.i %% 6), now(), now(),
                  o.id, o.ward_id
           FROM province_loan p
           JOIN organizations_savingsgroup sg ON sg.id = p.group_id
           JOIN organizations_organization o ON o.id = sg.branch_id
           CROSS JOIN LATERAL (SELECT ARRAY[(%(family)s::text[])[p.i %% 14 + 1], (%(family_f)s::text[])[p.i %% 14 + 1]]) AS f(n)
           CROSS JOIN LATERAL (SELECT ARRAY[(%(middle)s::text[])[p.i / 14 %% 8 + 1], (%(middle_f)s::text[])[p.i / 14 %% 8 + 1]]) AS m(n)
           CROSS JOIN LATERAL (SELECT ARRAY[(%(given)s::text[])[p.i / 112 %% 20 + 1], (%(given_f)s::text[])[p.i / 112 %% 20 + 1]]) AS g(n)""",
        params,
    )
    sql(
        """INSERT INTO organizations_groupmembership (joined_on, note, household_id, group_id)
           SELECT LEAST(p.disbursed_on, DATE '2020-01-01'), '', p.i, p.group_id FROM province_loan p""",
    )
    sql(
        """INSERT INTO loans_loan (id, number, amount, disbursed_on, maturity_on, term_months, frequency, annual_rate,
               overdue_multiplier, status, principal_outstanding, overdue_principal, interest_arrears, created_at,
               updated_at, group_id, household_id, program_id)
           SELECT p.i, lpad((7900000000000000 + p.i)::text, 16, '0'), p.amount, p.disbursed_on,
                  (p.disbursed_on + interval '36 months')::date, 36, p.frequency, r.annual_rate, r.overdue_multiplier,
                  CASE WHEN p.frozen THEN 'frozen' ELSE 'active' END,
                  p.amount - p.paid * p.share,
                  CASE WHEN p.marked THEN p.share ELSE 0 END,
                  CASE WHEN p.arrears THEN 100000 ELSE 0 END,
                  now(), now(), p.group_id, p.i, r.id
           FROM province_loan p
           JOIN loans_loanprogram r ON r.code = (%(programs)s::text[])[p.i %% 4 + 1]""",
        params,
    )
    sql(
        """INSERT INTO loans_repaymentinstalment (seq, due_on, principal, overdue_since, scheduled_through, loan_id)
           SELECT s, (p.disbursed_on + make_interval(months => s * p.frequency))::date, p.share,
                  CASE WHEN p.marked AND s = p.due THEN p.last_effective + 1 END, s * p.share, p.i
           FROM province_loan p
           CROSS JOIN generate_series(1, p.count) AS s""",
        params,
    )
    sql(
        """INSERT INTO loans_posting (kind, amount, "on", note, created_at, household_id, loan_id)
           SELECT 'disbursement', p.amount, p.disbursed_on, '', now(), p.i, p.i FROM province_loan p
           UNION ALL
           SELECT 'principal', p.share, (p.disbursed_on + make_interval(months => s * p.frequency))::date, '', now(),
                  p.i, p.i
           FROM province_loan p, generate_series(1, p.paid) AS s
           UNION ALL
           SELECT 'interest', p.amount * 55 / 10000, %(today)s::date - 30 * m, '', now(), p.i, p.i
           FROM province_loan p, generate_series(1, 3) AS m WHERE p.disbursed_on < %(today)s::date - 30 * m
           UNION ALL
           SELECT 'savings_in', 50000 * (1 + p.i %% 6), LEAST(p.disbursed_on, %(today)s::date - 60), '', now(), p.i,
                  NULL
           FROM province_loan p""",
        params,
    )
    sql(
        """INSERT INTO loans_interestarrearsentry (loan_id, "on", amount, source, created_at)
           SELECT p.i, %(today)s::date - 30, 100000, 'collection', now() FROM province_loan p WHERE p.arrears""",
        params,
    )
    sql(
        """INSERT INTO loans_loanstatuschange (loan_id, from_status, to_status, "on", at, note, note_code, note_params)
           SELECT p.i, 'active', 'frozen', f.day, f.day + time '09:00', '', '', '{}'
           FROM province_loan p CROSS JOIN LATERAL (SELECT GREATEST(p.disbursed_on, %(today)s::date - 45) AS day) f
           WHERE p.frozen""",
        params,
    )
    sql("DROP TABLE province_loan")


def _demo_logins(province):
    """The demo logins (password DEMO_PASSWORD): the Front supervisor, an administrator, the Women's Union's staff at
    province level, and a ward officer of the Women's Union in the first two wards."""
    User = get_user_model()
    women = MEMBER_KINDS.index(Kind.WOMEN)
    logins = [
        ("admin", "Quản trị", "hệ thống", 1, OfficerProfile.Role.ADMIN),
        ("front", "Trần Văn", "Giám sát", 1, OfficerProfile.Role.FRONT_SUPERVISOR),
        ("district", "Lê Thị", "Thành", 1 + 1 + women, OfficerProfile.Role.DISTRICT_STAFF),
        ("ward", "Nguyễn Thị", "Hoa", 1000 + women, OfficerProfile.Role.WARD_OFFICER),
        ("ward2", "Phạm Thị", "Lan", 1000 + 4 + women, OfficerProfile.Role.WARD_OFFICER),
    ]
    password = make_password(DEMO_PASSWORD)  # hashed once for all of them
    for username, first_name, last_name, organization, role in logins:
        if User.objects.filter(username=username).exists():
            continue
        is_admin = role == OfficerProfile.Role.ADMIN
        user = User.objects.create(username=username, password=password, first_name=first_name,
                                   last_name=last_name, is_staff=is_admin, is_superuser=is_admin)
        OfficerProfile.objects.create(user=user, organization_id=organization, role=role)


def _day_closed(province):
    """The day before today was closed: the next `close_day` closes today only."""
    missed = scalar("SELECT count(*) FROM loans_repaymentinstalment WHERE overdue_since IS NOT NULL")
    seen = scalar("SELECT max(id) FROM loans_repaymentinstalment")
    for on, marked in ((province.closed - timedelta(days=1), 0), (province.closed, missed)):
        DayClose.objects.update_or_create(on=on, defaults={"instalments_marked": marked, "instalments_seen": seen})

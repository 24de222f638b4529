"""Build the demo district (Quận 12) so that per-organization totals equal DOMAIN.md's seed figures exactly."""

import argparse
import random
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from borrowers.models import Household, fold_name
from loans.demo import seed_capital
from loans.demo_activity import MISSED_SHARE, missed_window, run_demo_activity
from loans.demo_history import build_history, refresh_history_trend
from loans.ledger.balances import refresh_balances
from loans.ledger.snapshots import snapshots_rebuild
from loans.ledger.summaries import refresh_portfolio_summary
from loans.models import Loan, LoanProgram, Posting, RepaymentInstalment, add_months, schedule_rows
from organizations.audit import audit_bulk, audit_context
from organizations.demo import record_supervision_year
from organizations.grading import grade_demo_groups
from organizations.models import (
    Area,
    GroupMembership,
    Neighbourhood,
    OfficerProfile,
    Organization,
    SavingsGroup,
    Ward,
)
from organizations.services.mergers import wards_merge

DEMO_PASSWORD = "uythac-demo"

WARDS = [
    ("026764", "Thạnh Xuân"),
    ("026767", "Thạnh Lộc"),
    ("026770", "Hiệp Thành"),
    ("026773", "Thới An"),
    ("026776", "Tân Chánh Hiệp"),
    ("026779", "An Phú Đông"),
    ("026782", "Tân Thới Hiệp"),
    ("026785", "Trung Mỹ Tây"),
    ("026788", "Tân Hưng Thuận"),
    ("026791", "Đông Hưng Thuận"),
    ("026794", "Tân Thới Nhất"),
]

#: Resolution 1685/NQ-UBTVQH15: from 01/07/2025 the 11 wards form 5. Each new ward takes, by default, the code of the
#: old ward of the same name (demo codes: the real new codes come from the bank; --new-ward-codes overrides them).
MERGER_DECISION = "1685/NQ-UBTVQH15"
MERGER_ON = date(2025, 7, 1)
MERGED_WARDS = [
    ("Thới An", "026773", ["026773", "026764"]),
    ("An Phú Đông", "026779", ["026779", "026767"]),
    ("Đông Hưng Thuận", "026791", ["026794", "026788", "026791"]),
    ("Trung Mỹ Tây", "026785", ["026785", "026776"]),
    ("Tân Thới Hiệp", "026782", ["026770", "026782"]),
]

Kind = Organization.Kind

# Outstanding balance (VND) and borrowing households per organization, from DOMAIN.md.
SEED_FIGURES = {
    Kind.WOMEN: (43_479_000_000, 1_430),
    Kind.VETERANS: (44_519_000_000, 1_329),
    Kind.FARMERS: (37_371_000_000, 1_162),
    Kind.YOUTH: (30_178_000_000, 987),
}

ORG_NAMES = {
    Kind.FRONT: ("Ủy ban MTTQ Việt Nam quận 12", "Ban công tác Mặt trận phường {ward}"),
    Kind.FARMERS: ("Hội Nông dân quận 12", "Hội Nông dân phường {ward}"),
    Kind.WOMEN: ("Hội Liên hiệp Phụ nữ quận 12", "Hội Liên hiệp Phụ nữ phường {ward}"),
    Kind.VETERANS: ("Hội Cựu chiến binh quận 12", "Hội Cựu chiến binh phường {ward}"),
    Kind.YOUTH: ("Đoàn Thanh niên quận 12", "Đoàn Thanh niên phường {ward}"),
}

# Digit that starts the codes of each organization's groups, customers and loans in the demo.
ORG_DIGIT = {Kind.FARMERS: "1", Kind.WOMEN: "2", Kind.VETERANS: "3", Kind.YOUTH: "4"}

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE_F = ["Thị", "Thị Thu", "Thị Ngọc", "Thị Kim", "Ngọc", "Thị Mỹ", "Thị Thanh"]
MIDDLE_M = ["Văn", "Minh", "Hữu", "Đức", "Quốc", "Thanh", "Công"]
GIVEN_F = [
    "Lan",
    "Hoa",
    "Mai",
    "Hương",
    "Trang",
    "Thảo",
    "Nga",
    "Hạnh",
    "Dung",
    "Loan",
    "Tuyết",
    "Phượng",
    "Yến",
    "Bích",
]
GIVEN_M = ["Hùng", "Dũng", "Nam", "Tuấn", "Hải", "Phúc", "Bình", "Sơn", "Long", "Thắng", "Tài", "Lộc", "Hòa", "Trung"]
STREETS = [
    "Hà Huy Giáp",
    "Nguyễn Ảnh Thủ",
    "Lê Văn Khương",
    "Tô Ký",
    "Thạnh Xuân 25",
    "Quốc lộ 1A",
    "Vườn Lài",
    "Tân Chánh Hiệp 10",
]


def split_total(rng, total, parts, unit, minimum):
    """`parts` random multiples of `unit`, each at least `minimum`, summing exactly to `total`."""
    weights = [rng.uniform(0.45, 1.55) for _ in range(parts)]
    scale = total / sum(weights)
    amounts = [max(minimum, int(w * scale) // unit * unit) for w in weights]
    diff = total - sum(amounts)
    i = 0
    while diff != 0:
        step = unit if diff > 0 else -unit
        if amounts[i % parts] + step >= minimum:
            amounts[i % parts] += step
            diff -= step
        i += 1
    return amounts


def split_count(rng, total, low, high):
    """Split `total` into sizes between low and high (inclusive)."""
    sizes = []
    remaining = total
    while remaining > high:
        size = rng.randint(low, min(high, remaining - low))
        sizes.append(size)
        remaining -= size
    sizes.append(remaining)
    return sizes


def demo_citizen_id(province, *, female, birth_year, serial):
    """A citizen ID that keeps the rule of borrowers/identity.py: province, sex-and-century digit, the last two digits
    of the year of birth, then a six-digit serial (the demo's few thousand households never reach a million)."""
    digit = (birth_year // 100 - 19) * 2 + (1 if female else 0)
    return f"{province}{digit}{birth_year % 100:02d}{serial:06d}"


class Command(BaseCommand):
    help = "Build the demo district (Quận 12) with organizations, groups, households, loans and demo users."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")
        parser.add_argument("--seed", type=int, default=12, help="Random seed (the same seed gives the same data).")
        parser.add_argument(
            "--new-ward-codes", default="",
            help='Codes of the wards formed on 01/07/2025, e.g. "Thới An=026773,An Phú Đông=026779" (the default '
                 "reuses the code of the old ward of the same name).",
        )
        parser.add_argument(
            "--history", action=argparse.BooleanOptionalAction, default=None,
            help="Add the two years before the opening balances (loans/demo_history.py); default: the DEMO_HISTORY "
                 "setting, on unless set (the tests turn it off).",
        )

    def handle(self, *args, force=False, seed=12, new_ward_codes="", history=None, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates demo users with a known password; it refuses to run when DEBUG is off. Use --force to run it anyway."
            )
        if Area.objects.filter(code="Q12").exists():
            self.stdout.write("The demo district is already there; nothing changed.")
            return
        with transaction.atomic(), audit_context(source="command: seed_demo"):
            codes = dict(part.split("=", 1) for part in new_ward_codes.split(",") if "=" in part)
            if history is None:
                history = getattr(settings, "DEMO_HISTORY", True)
            DemoDistrict(random.Random(seed), timezone.localdate(), self.stdout, new_codes=codes, history=history).build()
            refresh_portfolio_summary()
            if history:
                refresh_history_trend(timezone.localdate())
            first = Posting.objects.aggregate(first=Min("on"))["first"] or timezone.localdate()
            snapshots_rebuild(since=first)
        self.stdout.write(self.style.SUCCESS("Demo district Quận 12 is ready."))


class DemoDistrict:
    def __init__(self, rng, today, out, new_codes=None, history=False):
        self.history = history
        self.new_codes = {name.strip(): code.strip() for name, code in (new_codes or {}).items()}
        self.rng = rng
        self.today = today
        self.out = out
        self.programs = {p.code: p for p in LoanProgram.objects.all()}
        self.citizen_seq = 0
        self.missed_window = missed_window(today)

    def build(self):
        self.area = Area.objects.create(code="Q12", name="Quận 12", kind_label="Thành phố")
        self.wards = [Ward.objects.create(area=self.area, code=code, name=name) for code, name in WARDS]
        self.neighbourhoods = {}
        for ward in self.wards:
            self.neighbourhoods[ward.pk] = [
                Neighbourhood.objects.create(
                    ward=ward, code=f"{ward.code}{n:02d}", name=f"Khu phố {n}", head_name=self.person_name()
                )
                for n in range(1, self.rng.randint(4, 6) + 1)
            ]
        self.districts, self.branches = {}, {}
        for kind, (district_name, branch_name) in ORG_NAMES.items():
            district = Organization.objects.create(area=self.area, kind=kind, level="district", name=district_name)
            self.districts[kind] = district
            for ward in self.wards:
                self.branches[kind, ward.pk] = Organization.objects.create(
                    area=self.area,
                    kind=kind,
                    level="ward",
                    parent=district,
                    ward=ward,
                    name=branch_name.format(ward=ward.name),
                )
        for kind, (outstanding, households) in SEED_FIGURES.items():
            self.build_organization(kind, outstanding, households)
            self.out.write(f"  {ORG_NAMES[kind][0]}: {households} households, {outstanding:,} VND")
        if self.history:
            build_history(self)  # in the 11 wards, before the merger
        self.build_users()
        self.merge_wards()
        seed_capital(self)
        run_demo_activity(self)
        grade_demo_groups(self.today)
        record_supervision_year(self)

    def merge_wards(self):
        """The 2025 reorganisation, through the service the admin page uses: the history above was made in the 11
        wards; what follows (this year's capital, collections, grades, supervision) happens in the 5."""
        admin = get_user_model().objects.get(username="admin")
        by_code = {ward.code: ward for ward in self.wards}
        formed = []
        for name, code, old_codes in MERGED_WARDS:
            merger = wards_merge(
                sources=[by_code[old] for old in old_codes], code=self.new_codes.get(name, code), name=name,
                merged_on=MERGER_ON, decision=MERGER_DECISION, actor=admin, today=self.today,
            )
            formed.append(merger.ward)
        self.wards = formed  # Thới An (the demo user "ward"), An Phú Đông ("ward2"), then the others
        self.branches = {
            (branch.kind, branch.ward_id): branch
            for branch in Organization.objects.filter(level="ward", ward__in=formed)
        }
        self.out.write(f"  Wards merged on {MERGER_ON:%d/%m/%Y} ({MERGER_DECISION}): 11 wards form {len(formed)}")

    def person_name(self, female=None):
        female = self.rng.random() < 0.6 if female is None else female
        middle = MIDDLE_F if female else MIDDLE_M
        given = GIVEN_F if female else GIVEN_M
        return f"{self.rng.choice(FAMILY)} {self.rng.choice(middle)} {self.rng.choice(given)}"

    def build_organization(self, kind, total_outstanding, borrower_count):
        rng = self.rng
        digit = ORG_DIGIT[kind]
        per_ward = split_total(rng, borrower_count, len(self.wards), 1, 40)
        outstanding = split_total(rng, total_outstanding, borrower_count, 100_000, 3_000_000)
        households, memberships, plans = [], [], []
        group_seq = 0
        borrower_index = 0
        for ward, count in zip(self.wards, per_ward, strict=True):
            branch = self.branches[kind, ward.pk]
            for size in split_count(rng, count, 12, 45):
                group_seq += 1
                neighbourhood = rng.choice(self.neighbourhoods[ward.pk])
                founded = date(rng.randint(2012, 2020), rng.randint(1, 12), rng.randint(1, 28))
                group = SavingsGroup.objects.create(
                    code=f"{digit}{group_seq:06d}",
                    name=f"Tổ {neighbourhood.name.lower()} số {group_seq}",
                    branch=branch,
                    neighbourhood=neighbourhood,
                    founded_on=founded,
                )
                savers = rng.randint(0, 2)  # a few members who only save
                for member in range(size + savers):
                    household = self.new_household(ward, branch, neighbourhood, kind)
                    households.append(household)
                    memberships.append((group, household, founded))
                    if member < size:
                        plans.append((group, household, outstanding[borrower_index]))
                        borrower_index += 1
        Household.objects.bulk_create(households, batch_size=1000)
        audit_bulk(Household, objects=households, note="seed_demo")
        GroupMembership.objects.bulk_create(
            [
                GroupMembership(
                    group=g, household=h, joined_on=max(f, date(2021, 1, 1)) + timedelta(days=self.rng.randint(0, 300))
                )
                for g, h, f in memberships
            ],
            batch_size=1000,
        )
        self.appoint_leaders(plans)
        self.build_loans(kind, plans)

    def new_household(self, ward, branch, neighbourhood, kind):
        rng = self.rng
        self.citizen_seq += 1
        status = rng.choices(["poor", "near_poor", "escaped", "other_policy"], weights=[55, 25, 12, 8])[0]
        female = kind == Kind.WOMEN or (kind != Kind.VETERANS and rng.random() < 0.5)
        name = self.person_name(female)
        province = ("075", "079")[rng.randint(0, 1)]  # Đồng Nai or Hồ Chí Minh City
        birth_year = rng.randint(1955, 2000) if kind != Kind.YOUTH else rng.randint(1990, 2005)
        return Household(
            customer_code=f"{ORG_DIGIT[kind]}{self.citizen_seq:09d}",
            head_name=name,
            search_name=fold_name(name),
            citizen_id=demo_citizen_id(province, female=female, birth_year=birth_year, serial=self.citizen_seq),
            birth_year=birth_year,
            phone=f"09{rng.randint(0, 99_999_999):08d}",
            address=f"{rng.randint(1, 300)} {rng.choice(STREETS)}, {neighbourhood.name}",
            ward=ward,
            neighbourhood=neighbourhood,
            branch=branch,
            members=rng.randint(2, 7),
            policy_status=status,
            policy_list_year=2025,
            escaped_year=rng.choice([2024, 2025]) if status == "escaped" else None,
        )

    def appoint_leaders(self, plans):
        by_group = {}
        for group, household, _amount in plans:
            by_group.setdefault(group, []).append(household)
        for group, members in by_group.items():
            group.leader, group.deputy = members[0], members[1]
        SavingsGroup.objects.bulk_update(by_group, ["leader", "deputy"], batch_size=500)

    def program_for(self, household, amount):
        if household.policy_status == "poor":
            return "01"
        if household.policy_status == "near_poor":
            return "07"
        if household.policy_status == "escaped":
            return "08"
        return "06" if amount <= 15_000_000 else "03"

    def build_loans(self, kind, plans):
        rng = self.rng
        digit = ORG_DIGIT[kind]
        loans, instalments, postings = [], [], []
        seq = 0
        for group, household, target in plans:
            # One household in ten has a second, small clean-water loan.
            parts = [target]
            if target >= 12_000_000 and rng.random() < 0.1:
                water = min(10_000_000, target // 2) // 100_000 * 100_000
                parts = [target - water, water]
            for index, part in enumerate(parts):
                seq += 1
                code = "06" if index == 1 else self.program_for(household, part)
                loan, rows, paid = self.plan_loan(f"{digit}{seq:015d}", household, group, self.programs[code], part)
                loans.append(loan)
                instalments.extend(rows)
                postings.extend(paid)
        Loan.objects.bulk_create(loans, batch_size=1000)
        for row in instalments:
            row.loan_id = row.loan.pk
        for posting in postings:
            posting.loan_id = posting.loan.pk
        RepaymentInstalment.objects.bulk_create(instalments, batch_size=2000)
        savings = self.savings_postings(plans)
        Posting.objects.bulk_create(postings + savings, batch_size=2000)
        audit_bulk(Loan, objects=loans, note="seed_demo")
        audit_bulk(Posting, count=len(postings) + len(savings), note="seed_demo")
        refresh_balances(loan_ids=[loan.pk for loan in loans], household_ids={p.household_id for p in savings})

    def plan_loan(self, number, household, group, program, outstanding):
        """A loan whose repaid instalments leave exactly `outstanding`. A few (see loans.demo_activity) missed their
        last instalment due: it stays unpaid, and the day close makes it overdue."""
        rng = self.rng
        term = min(program.max_term_months, rng.choice([36, 48, 60]))
        frequency = rng.choice([3, 3, 3, 6, 12])
        count = term // frequency
        while True:
            due = rng.randint(0, max(0, count // 3))
            share, extra = divmod(outstanding, count - due)
            amount = share * count + extra
            if amount <= program.max_amount or due == 0:
                break
        back = due * frequency + rng.randint(0, frequency - 1)
        day = rng.randint(1, 28)
        if back == due * frequency:
            day = rng.randint(1, min(28, self.today.day))
        start = add_months(date(self.today.year, self.today.month, 1), -back).replace(day=day)
        paid = due
        if due and self.missed_window[0] < add_months(start, due * frequency) < self.missed_window[1]:
            if rng.random() < MISSED_SHARE:
                # The same outstanding with one instalment fewer repaid: the last one due is missed.
                share, extra = divmod(outstanding, count - due + 1)
                if share * count + extra <= program.max_amount:
                    amount, paid = share * count + extra, due - 1
        loan = Loan(
            number=number,
            household=household,
            program=program,
            group=group,
            amount=amount,
            disbursed_on=start,
            maturity_on=add_months(start, term),
            term_months=term,
            frequency=frequency,
            annual_rate=program.annual_rate,
            overdue_multiplier=program.overdue_multiplier,
        )
        rows = schedule_rows(amount, start, term, frequency)
        assert sum(1 for _seq, due_on, _p in rows if due_on <= self.today) == due, (number, rows, due)
        instalments = [RepaymentInstalment(loan=loan, seq=s, due_on=due_on, principal=p) for s, due_on, p in rows]
        postings = [
            Posting(
                kind=Posting.Kind.DISBURSEMENT,
                household=household,
                loan=loan,
                amount=amount,
                on=start,
                note="Giải ngân tại điểm giao dịch phường",
            )
        ]
        balance = amount
        # Principal is repaid at the bank's desk on the due date.
        for _seq, due_on, principal in rows[:paid]:
            postings.append(
                Posting(kind=Posting.Kind.PRINCIPAL, household=household, loan=loan, amount=principal, on=due_on)
            )
            balance -= principal
        assert balance == outstanding, (number, balance, outstanding)
        # Interest is not invented here: loans.demo_activity settles it by the app's own rule and services.
        return loan, instalments, postings

    def savings_postings(self, plans):
        postings = []
        for _group, household, _amount in plans:
            # Deposits before the months the collection sheets cover (those come with the sheets).
            for months_back in range(self.rng.randint(2, 8), 2, -1):
                amount = self.rng.choice([50_000, 50_000, 100_000, 200_000])
                on = add_months(date(self.today.year, self.today.month, 20), -months_back)
                postings.append(Posting(kind=Posting.Kind.SAVINGS_IN, household=household, amount=amount, on=on))
        return postings

    def build_users(self):
        User = get_user_model()
        first_ward, second_ward = self.wards[0], self.wards[1]
        users = [
            ("admin", "Quản trị", "hệ thống", self.districts[Kind.FRONT], OfficerProfile.Role.ADMIN),
            ("front", "Trần Văn", "Giám sát", self.districts[Kind.FRONT], OfficerProfile.Role.FRONT_SUPERVISOR),
            ("district", "Lê Thị", "Quận", self.districts[Kind.WOMEN], OfficerProfile.Role.DISTRICT_STAFF),
            # Each organization's area level decides the changes to its own loans (organizations/policy.py).
            ("farmers", "Đỗ Văn", "Nông", self.districts[Kind.FARMERS], OfficerProfile.Role.DISTRICT_STAFF),
            ("veterans", "Hoàng Văn", "Binh", self.districts[Kind.VETERANS], OfficerProfile.Role.DISTRICT_STAFF),
            ("youth", "Vũ Thị", "Thanh", self.districts[Kind.YOUTH], OfficerProfile.Role.DISTRICT_STAFF),
            ("ward", "Nguyễn Thị", "Hoa", self.branches[Kind.WOMEN, first_ward.pk], OfficerProfile.Role.WARD_OFFICER),
            ("ward2", "Phạm Thị", "Lan", self.branches[Kind.WOMEN, second_ward.pk], OfficerProfile.Role.WARD_OFFICER),
        ]
        for username, first, last, organization, role in users:
            is_admin = role == OfficerProfile.Role.ADMIN
            user = User.objects.create_user(
                username=username,
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            OfficerProfile.objects.create(user=user, organization=organization, role=role)

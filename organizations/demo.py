"""A plausible year of the Front's and organizations' supervision work for the demo district.

Matches the seed's report: more than 50 inspections, over 20 training classes with 12,000 attendances, about 100
Youth Union outreach sessions, agreements in force in 11 of 11 wards, some economic models and awards. It touches no
money, so the per-organization loan totals stay as they are.
"""

from datetime import date, timedelta

from django.contrib.auth import get_user_model

from borrowers.models import Household
from organizations.audit import audit_bulk
from organizations.models import (
    Award,
    ChecklistItem,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    InspectionFinding,
    Organization,
    OutreachSession,
    SavingsGroup,
    TrainingClass,
)

Kind = Organization.Kind
MEMBER_KINDS = (Kind.FARMERS, Kind.WOMEN, Kind.VETERANS, Kind.YOUTH)

TRAINING_TOPICS = [
    "Nghiệp vụ ủy thác cho cán bộ hội cơ sở",
    "Kỹ năng quản lý tổ TK&VV cho tổ trưởng",
    "Bình xét cho vay công khai, dân chủ",
    "Kiểm tra sử dụng vốn vay và xử lý nợ quá hạn",
    "Ghi chép sổ sách, biên lai thu lãi 01/BL",
    "Chính sách tín dụng hộ nghèo, hộ cận nghèo 2026",
    "Chuyển giao kỹ thuật chăn nuôi, trồng trọt cho hộ vay",
]
OUTREACH_TOPICS = [
    "Tuyên truyền chính sách tín dụng ưu đãi cho thanh niên",
    "Vay vốn giải quyết việc làm cho thanh niên",
    "Vay vốn học sinh, sinh viên",
    "Gửi tiết kiệm qua tổ TK&VV",
    "Phòng chống tín dụng đen",
    "Nước sạch và vệ sinh môi trường nông thôn",
]
ECONOMIC_MODELS = [
    (Kind.FARMERS, "Trồng rau an toàn theo VietGAP", "Hộ vay vốn hộ nghèo trồng rau ăn lá, bán cho bếp ăn tập thể."),
    (Kind.FARMERS, "Nuôi bò sinh sản", "Hộ vay vốn giải quyết việc làm nuôi bò, hội hỗ trợ kỹ thuật thú y."),
    (Kind.WOMEN, "Tổ hợp tác may gia công", "Phụ nữ hộ cận nghèo nhận hàng may gia công tại nhà."),
    (Kind.WOMEN, "Bán hàng ăn sáng lưu động", "Hộ mới thoát nghèo vay vốn mua xe đẩy, dụng cụ bán hàng."),
    (Kind.VETERANS, "Trồng lan, cây kiểng", "Hội viên cựu chiến binh trồng lan cắt cành, bao tiêu qua hợp tác xã."),
    (Kind.VETERANS, "Sửa chữa xe máy, điện lạnh", "Cựu chiến binh mở tiệm sửa chữa, nhận thanh niên học nghề."),
    (Kind.YOUTH, "Thanh niên bán hàng trực tuyến", "Đoàn viên vay vốn giải quyết việc làm, bán hàng online."),
]
FINDING_NOTES = {
    "group_meetings": "Tổ chưa họp định kỳ quý III",
    "minutes_kept": "Thiếu biên bản bình xét đợt tháng 6",
    "list_03td": "Một hộ trong danh sách 03/TD chưa có xác nhận của UBND phường",
    "loan_use_checked": "Hai hộ chưa được kiểm tra sử dụng vốn (06/TD)",
    "collections_on_schedule": "Tổ trưởng nộp tiền lãi chậm 2 ngày",
    "savings_recorded": "Sổ tiết kiệm của một hộ chưa ghi đủ kỳ",
    "leader_records": "Biên lai 01/BL ghi thiếu ngày thu",
    "public_notice": "Chưa niêm yết danh sách nợ quá hạn tại điểm giao dịch",
}


def split_exactly(rng, total, parts, low):
    """`parts` integers, each at least `low`, adding up to `total`."""
    weights = [rng.uniform(0.6, 1.4) for _ in range(parts)]
    scale = (total - low * parts) / sum(weights)
    amounts = [low + int(w * scale) for w in weights]
    amounts[0] += total - sum(amounts)
    return amounts


def record_supervision_year(district):
    """Record a year of supervision work in the demo district built by `seed_demo`'s DemoDistrict."""
    rng, today = district.rng, district.today
    year = today.year if today.month >= 3 else today.year - 1
    first, last = date(year, 1, 1), min(today, date(year, 12, 31))
    span = (last - first).days

    def some_day():
        return first + timedelta(days=rng.randint(0, span))

    User = get_user_model()
    front_user = User.objects.get(username="front")
    district_user = User.objects.get(username="district")
    admin_user = User.objects.get(username="admin")
    front = district.districts[Kind.FRONT]
    wards = district.wards
    recorder = {kind: admin_user for kind in Kind}
    recorder[Kind.WOMEN] = district_user

    # Inspections: the Front leads most; each organization checks some of its own groups.
    items = list(ChecklistItem.objects.filter(is_active=True))
    groups = list(SavingsGroup.objects.select_related("branch").order_by("code"))
    inspections, plans = [], []
    leads = [front] * 54 + [district.districts[k] for k in MEMBER_KINDS for _ in range(6)]
    for index, lead in enumerate(leads):
        candidates = [g for g in groups if lead.kind == Kind.FRONT or g.branch.kind == lead.kind]
        inspected_on = some_day()
        on_branch = index % 9 == 0
        group = None if on_branch else rng.choice(candidates)
        branch = (
            district.branches[rng.choice(MEMBER_KINDS) if lead.kind == Kind.FRONT else lead.kind, rng.choice(wards).pk]
            if on_branch
            else None
        )
        checked = rng.sample(items, rng.randint(5, len(items)))
        not_ok = [item for item in checked if rng.random() < 0.12]
        deadline = inspected_on + timedelta(days=rng.choice([15, 30, 45])) if not_ok else None
        if not not_ok:
            status = Inspection.FollowUp.DONE
        elif deadline < today - timedelta(days=20):
            status = rng.choice([Inspection.FollowUp.DONE, Inspection.FollowUp.DONE, Inspection.FollowUp.IN_PROGRESS])
        else:
            status = rng.choice([Inspection.FollowUp.OPEN, Inspection.FollowUp.IN_PROGRESS])
        team = (
            f"{district.person_name()} – Phó Chủ tịch {lead.name} (trưởng đoàn); "
            f"{district.person_name()} – cán bộ NHCSXH quận; {district.person_name()} – cán bộ hội"
        )
        inspections.append(
            Inspection(
                inspected_on=inspected_on, lead_unit=lead, team_members=team, inspected_group=group,
                inspected_branch=branch, follow_up_status=status, follow_up_deadline=deadline,
                recommendations="; ".join(f"Khắc phục: {FINDING_NOTES.get(i.code, i.label).lower()}" for i in not_ok),
                recorded_by=front_user if lead.kind == Kind.FRONT else recorder[lead.kind],
            )
        )
        plans.append((checked, not_ok))
    Inspection.objects.bulk_create(inspections)
    audit_bulk(Inspection, objects=inspections, note="seed_demo")
    InspectionFinding.objects.bulk_create(
        [
            InspectionFinding(
                inspection=inspection, item=item,
                result=InspectionFinding.Result.NOT_OK if item in not_ok else InspectionFinding.Result.OK,
                note=FINDING_NOTES.get(item.code, "Chưa đạt") if item in not_ok else "",
            )
            for inspection, (checked, not_ok) in zip(inspections, plans, strict=True)
            for item in checked
        ]
    )

    # Training: 22 classes with exactly 12,000 attendances.
    class_units = [front] * 4 + [district.districts[k] for k in MEMBER_KINDS for _ in range(4)]
    class_units += [district.branches[Kind.WOMEN, wards[0].pk], district.branches[Kind.FARMERS, wards[3].pk]]
    attendances = split_exactly(rng, 12_000, len(class_units), 250)
    classes = TrainingClass.objects.bulk_create(
        [
            TrainingClass(
                held_on=some_day(), topic=rng.choice(TRAINING_TOPICS), organization=unit,
                participants=max(1, count // rng.choice([2, 3, 4])), attendances=count,
                recorded_by=recorder[unit.kind] if unit.kind != Kind.FRONT else admin_user,
            )
            for unit, count in zip(class_units, attendances, strict=True)
        ]
    )
    audit_bulk(TrainingClass, objects=classes, note="seed_demo")

    # Outreach: about 100 Youth Union sessions in every ward, and some by the other organizations.
    sessions = []
    for kind, count in ((Kind.YOUTH, 102), (Kind.WOMEN, 24), (Kind.FARMERS, 12), (Kind.VETERANS, 10)):
        for n in range(count):
            ward = wards[n % len(wards)]
            sessions.append(
                OutreachSession(
                    held_on=some_day(), topic=rng.choice(OUTREACH_TOPICS),
                    organization=district.branches[kind, ward.pk],
                    place=f"Nhà văn hóa khu phố {rng.randint(1, 5)}, phường {ward.name}",
                    audience=rng.randint(25, 120), recorded_by=recorder[kind],
                )
            )
    OutreachSession.objects.bulk_create(sessions)
    audit_bulk(OutreachSession, objects=sessions, note="seed_demo")

    # Agreements: every ward branch has one in force, signed after the 2021 term began.
    agreements = CooperationAgreement.objects.bulk_create(
        [
            CooperationAgreement(
                branch=branch, reference=f"{index + 1:02d}/{signed.year}/TT-NHCSXH-{ward.code}",
                signed_on=signed, valid_until=date(2028, 12, 31), recorded_by=admin_user,
            )
            for index, ((kind, _ward_pk), branch) in enumerate(district.branches.items())
            for ward in [branch.ward]
            for signed in [date(rng.choice([2021, 2022, 2023]), rng.randint(1, 12), rng.randint(1, 28))]
        ]
    )
    audit_bulk(CooperationAgreement, objects=agreements, note="seed_demo")

    # Economic models with a few of the organization's borrower households.
    for kind, name, description in ECONOMIC_MODELS:
        ward = rng.choice(wards)
        branch = district.branches[kind, ward.pk]
        model = EconomicModel.objects.create(
            name=name, organization=branch, description=description, started_on=some_day(),
            recorded_by=recorder[kind],
        )
        households = list(Household.objects.filter(branch=branch).order_by("pk").values_list("pk", flat=True)[:40])
        model.households.set(rng.sample(households, min(len(households), rng.randint(6, 15))))

    # Awards to units (no person) and to people in them.
    awards = [
        (Kind.WOMEN, "", Award.Level.CITY, "Bằng khen của UBND Thành phố",
         "Hoàn thành xuất sắc nhiệm vụ nhận ủy thác cho vay, tỷ lệ nợ quá hạn dưới 0,1%"),
        (Kind.VETERANS, "", Award.Level.BANK, "Giấy khen của NHCSXH chi nhánh TP.HCM",
         "Dư nợ ủy thác tăng trưởng cao, 100% tổ TK&VV xếp loại tốt"),
        (Kind.FARMERS, "", Award.Level.AREA, "Giấy khen của UBND quận",
         "Thực hiện tốt công tác kiểm tra sử dụng vốn vay"),
        (Kind.YOUTH, "", Award.Level.ORGANIZATION, "Giấy khen của Thành Đoàn",
         "Tổ chức hơn 100 buổi truyền thông chính sách tín dụng cho thanh niên"),
        (Kind.WOMEN, None, Award.Level.AREA, "Giấy khen của UBND quận", "Tổ trưởng tổ TK&VV tiêu biểu nhiều năm liền"),
        (Kind.FARMERS, None, Award.Level.BANK, "Giấy khen của NHCSXH quận", "Tổ trưởng thu lãi, tiết kiệm đạt 100%"),
        (Kind.VETERANS, None, Award.Level.ORGANIZATION, "Giấy khen của Hội CCB quận", "Cán bộ hội làm tốt ủy thác"),
        (Kind.FRONT, "", Award.Level.CITY, "Bằng khen của UBMTTQ Thành phố",
         "Thực hiện tốt giám sát hoạt động ủy thác cho vay chính sách"),
    ]
    awarded = Award.objects.bulk_create(
        [
            Award(
                awarded_on=some_day(),
                organization=front if kind == Kind.FRONT else district.branches[kind, wards[n % len(wards)].pk],
                person_name=district.person_name() if person is None else person,
                level=level, title=title, reason=reason, recorded_by=recorder[kind],
            )
            for n, (kind, person, level, title, reason) in enumerate(awards)
        ]
    )
    audit_bulk(Award, objects=awarded, note="seed_demo")
    district.out.write(
        f"  Supervision {year}: {len(inspections)} inspections, {len(class_units)} classes (12,000 attendances), "
        f"{len(sessions)} outreach sessions, {len(district.branches)} agreements"
    )

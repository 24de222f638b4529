"""The groups file: GroupPlan, with the bank's grades."""

from django.utils.translation import gettext as _

from loans.bankfiles.layouts import GRADES, fold
from loans.bankfiles.plans import ALREADY_ON_ROW, BasePlan, _branch_lookup, _create_groups, appoint_leaders
from loans.models import BankGroupGrade
from organizations.models import SavingsGroup


class GroupPlan(BasePlan):
    def check(self):
        groups = {g.code: g for g in SavingsGroup.objects.select_related("branch")}
        seen = {}
        self.updates = []
        for number, row in self.sheet.rows:
            self.once(seen, number, "group_code", row["group_code"], ALREADY_ON_ROW["group_code"])
            ward = self.ward(row["ward_code"])
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
            if not self.in_its_branch(number, row, group, ward):
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
        groups = {row["group_code"]: group for _number, row, _ward, group in self.updates if group is not None}
        created = _create_groups(
            groups,
            _branch_lookup(),
            ((row["group_code"], ward, row["org_code"], row["group_name"]) for _number, row, ward, _group in self.updates),
        )
        grades, leaders = [], {}
        for _number, row, _ward, group in self.updates:
            if group is None:
                group = groups[row["group_code"]]
            elif group.name != row["group_name"]:
                SavingsGroup.objects.filter(pk=group.pk).update(name=row["group_name"][:200])
            leader_name = row.get("leader_name") or ""
            leaders[group.pk] = leader_name
            grades.append(
                BankGroupGrade(
                    group=group,
                    batch=self.batch,
                    on=self.today,
                    score=row.get("score"),
                    grade=GRADES.get(fold(row.get("grade") or ""), ""),
                    members=row.get("members"),
                    leader_name=leader_name[:200],
                )
            )
        BankGroupGrade.objects.bulk_create(grades)
        # A group the file creates has no members yet: its leader is appointed by the loans file that brings them
        # (LoanPlan.apply reads the name kept on the grade).
        leaders_appointed = appoint_leaders(leaders)
        return {"groups_created": created, "grades": len(grades), "leaders": leaders_appointed}

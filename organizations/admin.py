from django.contrib import admin

from organizations.models import (
    Area,
    AuditEvent,
    GroupMembership,
    Neighbourhood,
    OfficerProfile,
    Organization,
    SavingsGroup,
    Ward,
)


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind_label"]
    search_fields = ["code", "name"]


@admin.register(Ward)
class WardAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "area", "merged_into", "merged_on"]
    list_filter = ["area", ("merged_into", admin.EmptyFieldListFilter)]
    search_fields = ["code", "name"]
    # A merger moves groups, households, officers and capital with it: only the merge service sets these.
    readonly_fields = ["merged_into", "merged_on"]


@admin.register(Neighbourhood)
class NeighbourhoodAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "ward", "former_ward", "head_name"]
    list_filter = ["ward"]
    search_fields = ["code", "name", "head_name"]
    readonly_fields = ["former_ward"]  # set by the merge service only

    def save_model(self, request, obj, form, change):
        # A neighbourhood renamed after a merger no longer needs its former ward to be told apart.
        if change and "name" in form.changed_data:
            obj.former_ward = None
        super().save_model(request, obj, form, change)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "level", "ward", "parent"]
    list_filter = ["kind", "level", "ward"]
    search_fields = ["name", "ward__name", "ward__code"]
    readonly_fields = ["merged_into", "merged_on"]  # set by the merge service only


class MembershipInline(admin.TabularInline):
    model = GroupMembership
    extra = 0
    raw_id_fields = ["household"]


@admin.register(SavingsGroup)
class SavingsGroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "branch", "status", "leader", "deputy"]
    list_filter = ["status", "branch__kind", "branch__ward"]
    search_fields = ["code", "name", "leader__head_name"]
    raw_id_fields = ["leader", "deputy"]
    list_select_related = ["branch", "leader", "deputy"]
    inlines = [MembershipInline]


@admin.register(GroupMembership)
class GroupMembershipAdmin(admin.ModelAdmin):
    list_display = ["household", "group", "joined_on", "left_on"]
    list_filter = [("left_on", admin.EmptyFieldListFilter), "group__branch__kind"]
    search_fields = ["household__head_name", "household__citizen_id", "group__code"]
    raw_id_fields = ["household", "group"]
    list_select_related = ["household", "group"]


@admin.register(OfficerProfile)
class OfficerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "organization"]
    list_filter = ["role", "organization__kind"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "organization__name"]
    raw_id_fields = ["user"]


# --- Supervision work ----------------------------------------------------------------------------------------------

from organizations.models import (  # noqa: E402
    Award,
    ChecklistItem,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    InspectionFinding,
    OutreachSession,
    TrainingClass,
)


@admin.register(ChecklistItem)
class ChecklistItemAdmin(admin.ModelAdmin):
    list_display = ["position", "code", "label", "is_active"]
    list_display_links = ["code"]
    list_editable = ["position", "is_active"]


class FindingInline(admin.TabularInline):
    model = InspectionFinding
    extra = 0


@admin.register(Inspection)
class InspectionAdmin(admin.ModelAdmin):
    list_display = ["inspected_on", "lead_unit", "inspected_branch", "inspected_group", "follow_up_status",
                    "follow_up_deadline"]
    list_filter = ["follow_up_status", "lead_unit__kind", "inspected_on"]
    search_fields = ["team_members", "inspected_group__code", "inspected_group__name", "inspected_branch__name"]
    raw_id_fields = ["inspected_group", "recorded_by"]
    list_select_related = ["lead_unit", "inspected_branch", "inspected_group"]
    date_hierarchy = "inspected_on"
    inlines = [FindingInline]


@admin.register(TrainingClass)
class TrainingClassAdmin(admin.ModelAdmin):
    list_display = ["held_on", "topic", "organization", "participants", "attendances"]
    list_filter = ["organization__kind", "held_on"]
    search_fields = ["topic", "organization__name"]
    raw_id_fields = ["recorded_by"]
    list_select_related = ["organization"]
    date_hierarchy = "held_on"


@admin.register(OutreachSession)
class OutreachSessionAdmin(admin.ModelAdmin):
    list_display = ["held_on", "topic", "organization", "place", "audience"]
    list_filter = ["organization__kind", "held_on"]
    search_fields = ["topic", "place", "organization__name"]
    raw_id_fields = ["recorded_by"]
    list_select_related = ["organization"]
    date_hierarchy = "held_on"


@admin.register(CooperationAgreement)
class CooperationAgreementAdmin(admin.ModelAdmin):
    list_display = ["reference", "branch", "signed_on", "valid_until", "terminated_on"]
    list_filter = ["branch__kind", ("terminated_on", admin.EmptyFieldListFilter)]
    search_fields = ["reference", "branch__name", "branch__ward__name"]
    raw_id_fields = ["recorded_by"]
    list_select_related = ["branch"]


@admin.register(EconomicModel)
class EconomicModelAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "started_on"]
    list_filter = ["organization__kind"]
    search_fields = ["name", "description"]
    raw_id_fields = ["households", "recorded_by"]
    list_select_related = ["organization"]


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    list_display = ["awarded_on", "title", "organization", "person_name", "level"]
    list_filter = ["level", "organization__kind"]
    search_fields = ["title", "person_name", "reason", "organization__name"]
    raw_id_fields = ["recorded_by"]
    list_select_related = ["organization"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail is read-only for everyone."""

    list_display = ["at", "actor", "action", "content_type", "object_repr", "source"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_id", "object_repr", "actor__username", "source"]
    list_select_related = ["actor", "content_type"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Group grades -----------------------------------------------------------------------------------------------

from organizations.models import GradingCriteria, GroupGrade  # noqa: E402


@admin.register(GradingCriteria)
class GradingCriteriaAdmin(admin.ModelAdmin):
    list_display = ["name", "valid_from", "overdue_weight", "interest_weight", "savings_weight", "meetings_weight",
                    "good_from", "fair_from", "average_from"]


@admin.register(GroupGrade)
class GroupGradeAdmin(admin.ModelAdmin):
    """Grades are computed by `grade_groups`; they are read here, not edited."""

    list_display = ["group", "month", "score", "grade", "computed_at"]
    list_filter = ["grade", "month"]
    search_fields = ["group__code", "group__name"]
    list_select_related = ["group"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from organizations.models import ScheduledJob  # noqa: E402


@admin.register(ScheduledJob)
class ScheduledJobAdmin(admin.ModelAdmin):
    """The schedule's periods and hours; the runs themselves are on the Background jobs page (/jobs/)."""

    list_display = ("name", "period", "hour", "enabled", "last_enqueued_at")
    list_editable = ("hour", "enabled")
    readonly_fields = ("name", "last_enqueued_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

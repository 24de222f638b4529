from django.contrib import admin
from django.utils import timezone

from loans.models import (  # noqa: E402
    ApplicationStatusChange,
    CalendarException,
    CollectionLine,
    CollectionSheet,
    ImportBatch,
    Loan,
    LoanApplication,
    LoanList,
    LoanProgram,
    LoanStatusChange,
    Posting,
    ProgramRate,
    RepaymentInstalment,
    ReviewMeeting,
)


class LedgerReadOnlyMixin:
    """Money moves only through the services, which post to the ledger and record who did it. In the admin, every
    money model (loans and their schedules, postings, collection sheets, bank imports, capital) is for reading: no
    add, change or delete, for admins too. A wrong figure is corrected on the app's pages, by a reversal or an
    adjustment; `check_ledger` finds money rows written around them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(LedgerReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

class ProgramRateInline(admin.TabularInline):
    """Rate decisions are added, never edited: a past rate stays what past interest was computed at."""

    model = ProgramRate
    extra = 1
    can_delete = False
    fields = ["effective_from", "annual_rate", "decision"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LoanProgram)
class LoanProgramAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "annual_rate", "overdue_multiplier", "max_amount", "max_term_months", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    inlines = [ProgramRateInline]

    def get_readonly_fields(self, request, obj=None):
        # Once a program exists its rate changes by a dated decision below, so that past interest keeps its rate.
        return ["annual_rate"] if obj is not None else []

    def save_formset(self, request, form, formset, change):
        for rate in formset.save(commit=False):
            rate.created_by = rate.created_by or request.user
            rate.save()
        formset.save_m2m()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.sync_current_rate(timezone.localdate())


@admin.register(CalendarException)
class CalendarExceptionAdmin(admin.ModelAdmin):
    """The government's yearly decisions: extra days off and make-up working days (public holidays are built in)."""

    list_display = ["day", "kind", "note"]
    list_filter = ["kind"]
    search_fields = ["note"]
    date_hierarchy = "day"

class ApplicationStatusChangeInline(ReadOnlyInline):
    model = ApplicationStatusChange
    fields = ["at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields

@admin.register(LoanApplication)
class LoanApplicationAdmin(admin.ModelAdmin):
    """Status moves only through the pipeline, so status is read-only here."""

    list_display = ["household", "program", "amount_requested", "status", "group", "created_at"]
    list_filter = ["status", "program", "group__branch__kind"]
    search_fields = ["household__head_name", "household__citizen_id", "group__code"]
    readonly_fields = ["status", "amount_group_approved", "amount_approved", "meeting", "loan_list", "created_by"]
    raw_id_fields = ["household", "group"]
    list_select_related = ["household", "program", "group"]
    inlines = [ApplicationStatusChangeInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

@admin.register(ReviewMeeting)
class ReviewMeetingAdmin(admin.ModelAdmin):
    list_display = ["group", "held_on", "attendee_count", "recorded_by"]
    search_fields = ["group__code", "group__name"]
    raw_id_fields = ["group"]

@admin.register(LoanList)
class LoanListAdmin(admin.ModelAdmin):
    list_display = ["group", "status", "certified_on", "certification_ref", "submitted_at"]
    list_filter = ["status"]
    search_fields = ["group__code", "certification_ref"]
    readonly_fields = ["status", "submitted_at", "submitted_by", "certified_by"]

class InstalmentInline(ReadOnlyInline):
    model = RepaymentInstalment
    fields = ["seq", "due_on", "principal", "overdue_since"]
    readonly_fields = fields

class LoanStatusChangeInline(ReadOnlyInline):
    model = LoanStatusChange
    fields = ["at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields

@admin.register(Loan)
class LoanAdmin(LedgerReadOnlyMixin, admin.ModelAdmin):
    """Balances are derived from postings; nothing about money is edited here."""

    list_display = ["number", "household", "program", "amount", "principal_outstanding", "overdue_principal", "status"]
    list_filter = ["status", "program", "group__branch__kind"]
    search_fields = ["number", "household__head_name", "household__customer_code"]
    list_select_related = ["household", "program"]
    raw_id_fields = ["household", "group", "application"]
    inlines = [InstalmentInline, LoanStatusChangeInline]


@admin.register(Posting)
class PostingAdmin(LedgerReadOnlyMixin, admin.ModelAdmin):
    """Append-only: postings are viewed here, never edited or deleted. Corrections are reversals."""

    list_display = ["on", "kind", "amount", "loan", "household", "voucher", "created_by"]
    list_filter = ["kind", "on"]
    search_fields = ["voucher", "loan__number", "household__head_name", "household__customer_code"]
    list_select_related = ["loan", "household", "created_by"]
    date_hierarchy = "on"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

@admin.register(ImportBatch)
class ImportBatchAdmin(LedgerReadOnlyMixin, admin.ModelAdmin):
    list_display = ["file_name", "kind", "status", "created_by", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["file_name", "sha256"]
    exclude = ["content"]
    readonly_fields = ["kind", "file_name", "sha256", "status", "summary", "created_by", "created_at", "finished_at"]

    def has_add_permission(self, request):
        return False


# Requests, meetings and 03/TD lists change only through the services and `transition_to`, which record who did what:
# the admin reads them and cannot add, edit or delete them.
class PipelineReadOnlyMixin:
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


for _model, _admin in ((LoanApplication, LoanApplicationAdmin), (LoanList, LoanListAdmin),
                       (ReviewMeeting, ReviewMeetingAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, type(_admin.__name__, (PipelineReadOnlyMixin, _admin), {"raw_id_fields": []}))

# Collection day (13/TD). Imported here so that this block stays one appended piece.


class CollectionLineInline(LedgerReadOnlyMixin, admin.TabularInline):
    model = CollectionLine
    fields = ["position", "household", "status", "overdue_interest_due", "current_interest_due", "principal_due",
              "amount_paid", "savings_in", "savings_out", "reversal_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CollectionSheet)
class CollectionSheetAdmin(LedgerReadOnlyMixin, admin.ModelAdmin):
    """Collection sheets are prepared and posted on the ward's pages; here they are only looked at."""

    list_display = ["collection_on", "group", "status", "created_by", "posted_by", "posted_at"]
    list_filter = ["status", "collection_on"]
    search_fields = ["group__code", "group__name"]
    list_select_related = ["group", "created_by", "posted_by"]
    date_hierarchy = "collection_on"
    inlines = [CollectionLineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Loan changes, fee rates, loan-use checks ------------------------------------------------------------------

from loans.models import FeeReduction, FeeSchedule, GroupInspection, LoanChange, LoanUseCheck  # noqa: E402


@admin.register(LoanChange)
class LoanChangeAdmin(admin.ModelAdmin):
    """Changes are requested and decided on the loan's page (maker–checker); here they are read only."""

    list_display = ["loan", "kind", "status", "requested_on", "requested_by", "decided_on", "decided_by"]
    list_filter = ["kind", "status"]
    search_fields = ["loan__number", "loan__household__head_name"]
    list_select_related = ["loan", "requested_by", "decided_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FeeReductionInline(admin.TabularInline):
    model = FeeReduction
    extra = 1


@admin.register(FeeSchedule)
class FeeScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "valid_from", "valid_until", "commission_rate", "branch_outstanding_rate",
                    "branch_interest_rate", "district_outstanding_rate", "district_interest_rate", "is_example"]
    list_filter = ["is_example"]
    inlines = [FeeReductionInline]


@admin.register(LoanUseCheck)
class LoanUseCheckAdmin(admin.ModelAdmin):
    list_display = ["loan", "checked_on", "result", "checked_by"]
    list_filter = ["result"]
    search_fields = ["loan__number", "loan__household__head_name"]
    raw_id_fields = ["loan"]
    list_select_related = ["loan", "checked_by"]


@admin.register(GroupInspection)
class GroupInspectionAdmin(admin.ModelAdmin):
    list_display = ["group", "inspected_on", "inspected_by"]
    search_fields = ["group__code", "group__name"]
    raw_id_fields = ["group"]
    list_select_related = ["group", "inspected_by"]

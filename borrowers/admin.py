from django.contrib import admin

from borrowers.models import Household


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["head_name", "customer_code", "citizen_id", "ward", "branch", "policy_status", "savings_balance"]
    list_filter = ["policy_status", "branch__kind", "ward"]
    search_fields = ["head_name", "search_name", "citizen_id", "customer_code", "phone"]
    readonly_fields = ["savings_balance", "import_batch", "created_at", "updated_at"]
    list_select_related = ["ward", "branch"]
    raw_id_fields = ["neighbourhood"]

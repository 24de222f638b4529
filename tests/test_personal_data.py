"""Citizen IDs and phone numbers are masked for roles that do not work with households directly."""

from django.template import Context, Template

from organizations.access import mask, personal


def test_mask_keeps_the_ends_only():
    assert mask("079123456789") == "079******789"
    assert mask("0912345678") == "091****678"
    assert mask("") == ""


def test_ward_officer_and_admin_see_in_full_others_masked(ward_officer_a, admin_user, district_staff, front_supervisor):
    assert personal("079123456789", ward_officer_a) == "079123456789"
    assert personal("079123456789", admin_user) == "079123456789"
    assert personal("079123456789", district_staff) == "079******789"
    assert personal("079123456789", front_supervisor) == "079******789"


def test_template_filter_is_available_everywhere(district_staff):
    rendered = Template("{{ id|personal:user }}").render(Context({"id": "079123456789", "user": district_staff}))
    assert rendered == "079******789"


def test_household_list_and_export_mask_citizen_ids_for_district_staff(client_for, district_staff, household_a):
    from django.urls import reverse

    from loans.bankfiles.export import bank_export_rows

    body = client_for(district_staff).get(reverse("borrowers:household_list")).content.decode()
    assert mask(household_a.citizen_id) in body and household_a.citizen_id not in body
    rows = list(bank_export_rows("households", district_staff))
    assert rows[0][3] == mask(household_a.citizen_id)


def test_ward_officer_sees_citizen_ids_in_full_in_the_list(client_for, ward_officer_a, household_a):
    from django.urls import reverse

    body = client_for(ward_officer_a).get(reverse("borrowers:household_list")).content.decode()
    assert household_a.citizen_id in body

"""Citizen IDs (CCCD) and mobile numbers read and checked one way (borrowers/identity.py): on the household form, in the
service, in the bank import's preview (a warning, never a refusal), in `check_identity_numbers` and in the demo seed."""

import io
import re
from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from borrowers import identity
from borrowers.forms import HouseholdForm
from borrowers.models import Household
from borrowers.services import household_update
from organizations.errors import DomainError
from organizations.models import SavingsGroup
from tests.factories import HouseholdFactory
from tests.properties import examples

THIS_YEAR = 2026
PROPERTIES = settings(max_examples=examples(200), deadline=None)

#: Look-alike digits NFKC would read as 0-9, and digits of other scripts: refused, never read.
LOOK_ALIKES = "²³¹⁰₀₅①⑨⓪❶➀٠٣۵०৩๓"
SEPARATOR_TEXT = st.text(alphabet=st.sampled_from(" .-\u00a0\u3000\uff0e\u2013"), max_size=2)


@st.composite
def citizen_ids(draw):
    """(number, year of birth) that keep the rule: a province code, sex and century, the year's last two digits."""
    birth_year = draw(st.integers(1900, THIS_YEAR))
    female = draw(st.booleans())
    digit = (birth_year // 100 - 19) * 2 + female
    province = draw(st.sampled_from(sorted(identity.PROVINCE_CODES)))
    serial = draw(st.integers(0, 999_999))
    return f"{province}{digit}{birth_year % 100:02d}{serial:06d}", birth_year


def written(number, draw):
    """The number as a person might type it: separators anywhere, some digits full-width."""
    text = draw(SEPARATOR_TEXT)
    for digit in number:
        if draw(st.booleans()):
            digit = chr(0xFF10 + int(digit))
        text += digit + draw(SEPARATOR_TEXT)
    return text


# ---- the normaliser and the rule (properties) -----------------------------------------------------------------


@PROPERTIES
@given(citizen_ids(), st.data())
def test_any_valid_citizen_id_typed_with_separators_reads_back(pair, data):
    number, birth_year = pair
    typed = written(number, data.draw)
    assert identity.normalise_citizen_id(typed) == number
    assert identity.citizen_id_error(number, this_year=THIS_YEAR) is None
    assert identity.citizen_id_error(number, birth_year=birth_year) is None


@PROPERTIES
@given(st.text(alphabet=st.sampled_from("0123456789０１９ .-"), max_size=30))
def test_an_accepted_citizen_id_is_always_twelve_ascii_digits(typed):
    number = identity.normalise_citizen_id(typed)
    if identity.citizen_id_error(number, this_year=THIS_YEAR) is None:
        assert len(number) == 12 and number.isascii() and number.isdigit()
    else:
        assert len(number) != 12 or number[:3] not in identity.PROVINCE_CODES or int(number[3]) >= 2


@PROPERTIES
@given(citizen_ids(), st.data(), st.sampled_from(LOOK_ALIKES))
def test_any_look_alike_or_foreign_digit_is_refused_wherever_it_is(pair, data, look_alike):
    number, _birth_year = pair
    at = data.draw(st.integers(0, len(number)))
    for read in (identity.normalise_citizen_id, identity.normalise_phone):
        with pytest.raises(ValidationError) as refusal:
            read(number[:at] + look_alike + number[at:])
        assert refusal.value.code == "characters"
        assert look_alike in refusal.value.messages[0]


@PROPERTIES
@given(citizen_ids(), st.integers(1900, THIS_YEAR))
def test_a_year_of_birth_that_digits_four_to_six_do_not_give_is_refused(pair, other_year):
    number, birth_year = pair
    error = identity.citizen_id_error(number, birth_year=other_year)
    if other_year == birth_year:
        assert error is None
    else:
        assert error.code == ("century_birth_year" if other_year // 100 != birth_year // 100 else "year_birth_year")


@PROPERTIES
@given(st.sampled_from(identity.MOBILE_PREFIXES), st.integers(0, 99_999_999), st.sampled_from(["", "+84", "84", "+84 0"]),
       st.data())
def test_any_mobile_number_typed_with_separators_or_country_code_reads_back(prefix, rest, country, data):
    number = f"{prefix}{rest:08d}"
    national = number if not country else number[1:]
    typed = country + written(national, data.draw)
    assert identity.normalise_phone(typed) == number
    assert identity.phone_error(number) is None


# ---- each part of the rule has its own message ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth_year", "code", "named"),
    [
        ("07918500555", None, "citizen_id_length", "11"),
        ("0791850055555", None, "citizen_id_length", "13"),
        ("003185005555", None, "province", "003"),
        ("079485005555", None, "century_future", "2100"),
        ("079230005555", None, "year_future", "2030"),
        ("079185005555", 2085, "century_birth_year", "1900"),
        ("079185005555", 1986, "year_birth_year", "1986"),
        ("07918500555x", None, "characters", "x"),
    ],
)
def test_each_broken_part_is_named(number, birth_year, code, named, english):
    error = identity.citizen_id_error(number, birth_year=birth_year, this_year=THIS_YEAR)
    assert error.code == code and named in error.messages[0]


@pytest.mark.parametrize(
    ("typed", "code"),
    [("091234567", "mobile_length"), ("0212345678", "mobile_prefix"), ("+1 202 555 0100", "plus"), ("091234567²", "characters")],
)
def test_each_broken_part_of_a_phone_is_named(typed, code):
    with pytest.raises(ValidationError) as refusal:
        identity.validate_mobile_phone(identity.normalise_phone(typed))
    assert refusal.value.code == code


# ---- the household form and the service -----------------------------------------------------------------------


def form_data(group, **changes):
    data = {
        "head_name": "Phạm Thị Lan", "citizen_id": "079185005555", "customer_code": "", "birth_year": "1985",
        "phone": "0912345678", "address": "5 Hà Huy Giáp", "members": "4", "policy_status": "poor",
        "policy_list_year": "2025", "escaped_year": "", "group": group.pk, "joined_on": "15/11/2026",
    }
    return {**data, **changes}


@pytest.mark.today("2026-11-20")
def test_a_pasted_number_with_spaces_is_stored_whole_never_cut(client_for, ward_officer_a, group_a):
    html = client_for(ward_officer_a).get(reverse("borrowers:household_create")).content.decode()
    for name in ("citizen_id", "phone"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        assert "maxlength" not in tag, tag  # a browser would cut "0791 8500 5555" at 12 characters without a word
    response = client_for(ward_officer_a).post(
        reverse("borrowers:household_create"),
        form_data(group_a, citizen_id="0791 8500 5555", phone="+84 912-345-678"),
    )
    assert response.status_code == 302, response.context["form"].errors
    household = Household.objects.get()
    assert (household.citizen_id, household.phone) == ("079185005555", "0912345678")


@pytest.mark.today("2026-11-20")
@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"citizen_id": "003 185 005 555"}, "province"),
        ({"citizen_id": "079 205 005 555"}, "century_birth_year"),
        ({"citizen_id": "079 184 005 555"}, "year_birth_year"),
        ({"citizen_id": "079 230 005 555", "birth_year": ""}, "year_future"),
        ({"citizen_id": "0791 8500 555"}, "citizen_id_length"),
        ({"citizen_id": "0791850055⁵⁵"}, "characters"),
        ({"citizen_id": "０７９１８５００５５５⑤"}, "characters"),
    ],
)
def test_the_form_refuses_a_citizen_id_that_breaks_the_rule_and_says_which_part(group_a, changes, code):
    form = HouseholdForm(form_data(group_a, **changes), groups=SavingsGroup.objects.all())
    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()["citizen_id"]] == [code]


@pytest.mark.today("2026-11-20")
def test_the_form_refuses_look_alike_digits_in_the_phone(group_a):
    form = HouseholdForm(form_data(group_a, phone="09¹2345678"), groups=SavingsGroup.objects.all())
    assert not form.is_valid() and form.errors.as_data()["phone"][0].code == "characters"


@pytest.mark.today("2026-11-20")
def test_a_stored_number_that_breaks_the_rule_is_kept_while_other_details_change(
    client_for, ward_officer_a, household_a
):
    """A number from the bank's file stays as it is until someone types another; a new one must keep the rule."""
    Household.objects.filter(pk=household_a.pk).update(citizen_id="000572505201", phone="0212345678")
    url = reverse("borrowers:household_update", args=[household_a.pk])
    data = form_data(household_a.current_membership.group, citizen_id="000 572 505 201", phone="0212345678",
                     customer_code=household_a.customer_code, birth_year="", head_name="Nguyễn Thị Ánh Hồng")
    response = client_for(ward_officer_a).post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    household_a.refresh_from_db()
    assert (household_a.head_name, household_a.citizen_id) == ("Nguyễn Thị Ánh Hồng", "000572505201")
    response = client_for(ward_officer_a).post(url, {**data, "citizen_id": "000572505202"})
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["citizen_id"][0].code == "province"
    household_a.refresh_from_db()
    assert household_a.citizen_id == "000572505201"


def test_the_service_refuses_look_alike_digits_and_a_year_that_disagrees(household_a, ward_officer_a):
    with pytest.raises(DomainError) as refusal:
        household_update(household=household_a, data={"citizen_id": "0791850055⁵⁵"}, actor=ward_officer_a)
    assert refusal.value.field == "citizen_id"
    with pytest.raises(DomainError) as refusal:
        household_update(household=household_a, data={"citizen_id": "079185005555", "birth_year": 1990},
                         actor=ward_officer_a)
    assert refusal.value.field == "citizen_id"
    household_update(household=household_a, data={"citizen_id": "079.185.005.555", "birth_year": 1985},
                     actor=ward_officer_a)
    household_a.refresh_from_db()
    assert household_a.citizen_id == "079185005555"


# ---- the bank's files: a warning in the preview, never a refusal -------------------------------------------------


@pytest.fixture
def inline_jobs(settings):
    settings.IMPORT_RUN_MODE = "inline"


def test_the_bank_file_keeps_its_numbers_and_the_preview_warns(
    admin_user, branch_a, group_a, inline_jobs, client_for, english
):
    from loans.bankfiles.importing import import_confirm, import_upload
    from loans.models import ImportBatch
    from tests.test_bank_import import loan_row, loans_file

    rows = [loan_row(1, cid="079185005555"), loan_row(2, cid="003185005556"), loan_row(3, cid="079485005557"),
            loan_row(4, cid="003185005556", customer="6100000002")]  # a second loan of row 2's customer
    with time_machine.travel(date(2026, 11, 10), tick=False):
        batch = import_upload(kind="loans", file_name="bank.xlsx", content=loans_file(rows), actor=admin_user)
        batch.refresh_from_db()
        assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
        warnings = batch.summary["warnings"]
        # Data rows 2 and 3 are Excel rows 6 and 7, under the title block and the header; row 8 repeats row 6's number.
        assert len(warnings) == 2
        assert warnings[0].startswith("Row 6:") and "003 is not a province code" in warnings[0]
        assert warnings[1].startswith("Row 7:") and "2100–2199" in warnings[1]
        page = client_for(admin_user).get(reverse("loans:bank_import_detail", args=[batch.pk]))
        assert 'data-testid="import-warnings"' in page.content.decode()
        import_confirm(batch=batch, actor=admin_user)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert set(Household.objects.values_list("citizen_id", flat=True)) == {
        "079185005555", "003185005556", "079485005557"
    }


def test_the_preview_names_at_most_twenty_rows_and_counts_the_rest(
    admin_user, branch_a, group_a, inline_jobs, english
):
    from loans.bankfiles.importing import import_upload
    from tests.test_bank_import import loan_row, loans_file

    rows = [loan_row(n, cid=f"0035725052{n:02d}") for n in range(1, 26)]
    with time_machine.travel(date(2026, 11, 10), tick=False):
        batch = import_upload(kind="loans", file_name="bank.xlsx", content=loans_file(rows), actor=admin_user)
    batch.refresh_from_db()
    warnings = batch.summary["warnings"]
    assert len(warnings) == 21 and warnings[-1] == "5 more rows have a citizen ID that breaks the rule."


# ---- check_identity_numbers ------------------------------------------------------------------------------------


def test_the_command_lists_stored_numbers_that_break_the_rule_within_its_limit(group_a):
    households = [HouseholdFactory(group=group_a) for _ in range(4)]
    out = io.StringIO()
    call_command("check_identity_numbers", stdout=out)
    assert "passed" in out.getvalue()

    Household.objects.filter(pk=households[0].pk).update(citizen_id="003185005555")
    Household.objects.filter(pk=households[1].pk).update(phone="0212345678")
    Household.objects.filter(pk=households[2].pk).update(birth_year=1990)  # the factory's numbers say 1980
    out = io.StringIO()
    with pytest.raises(CommandError, match="3 citizen"):
        call_command("check_identity_numbers", stdout=out)
    listed = out.getvalue()
    assert f"Household {households[0].pk} " in listed and "003" in listed
    assert f"Household {households[1].pk} " in listed and "phone" in listed
    assert f"Household {households[2].pk} " in listed and "1990" in listed
    assert f"Household {households[3].pk} " not in listed
    assert "003185005555" not in listed  # numbers are shown masked

    out = io.StringIO()
    with pytest.raises(CommandError, match="3 citizen"):
        call_command("check_identity_numbers", "--limit", "1", stdout=out)
    assert out.getvalue().count("Household ") == 1 and "3 in all" in out.getvalue()

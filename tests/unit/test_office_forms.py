"""What an administrator types about an office (`gateway.core.office_forms`), and the numbers
citizens text as people write them."""

from __future__ import annotations

import pytest

from gateway.core.office_contact import contact_of
from gateway.core.office_forms import edited_fields, refusal, with_changes
from gateway.core.offices import InvalidOffice, default_office, make_office


def test_the_example_configs_sms_number_makes_the_default_office_kept_as_written() -> None:
    office = default_office("UBND phường Bến Nghé", "028 3822 1234", "0912 345 678")
    assert office.numbers == ("0912 345 678",)
    assert office.number == "0912 345 678"


def test_typed_numbers_are_split_on_commas_and_each_may_be_spaced() -> None:
    office = make_office("x", {"name": "X", "numbers": "0912 345 678, 8077;+84 913 000 111"})
    assert office.numbers == ("0912 345 678", "8077", "+84 913 000 111")
    with pytest.raises(InvalidOffice) as refused:
        make_office("x", {"name": "X", "numbers": "0912 abc"})
    assert refusal(refused.value) == (
        "Số điện thoại nhận tin nhắn: 0912 abc không phải số điện thoại"
    )


def test_an_edit_keeps_what_is_not_given_and_a_derived_sms_name_follows_the_name() -> None:
    office = make_office("x", {"name": "Phường Tân Định", "hotline": "028 1"})
    assert edited_fields(office)["sms_name"] == ""
    renamed = make_office("x", with_changes(office, {"name": "UBND phường Tân Định"}))
    assert (renamed.sms_name, renamed.hotline) == ("UBND phuong Tan Dinh", "028 1")
    chosen = make_office("x", with_changes(renamed, {"sms_name": "P. Tan Dinh", "hotline": None}))
    assert (chosen.sms_name, chosen.hotline) == ("P. Tan Dinh", "028 1")
    again = make_office("x", with_changes(chosen, {"name": "Phường Tân Định"}))
    assert again.sms_name == "P. Tan Dinh"
    assert with_changes(None, {"name": "Mới"}) == {"name": "Mới"}


def test_the_number_to_text_is_the_offices_first_else_the_installations() -> None:
    own = make_office("x", {"name": "X", "numbers": ["0913000111", "0913000222"]})
    none = make_office("y", {"name": "Y", "heading": "Tra cứu hồ sơ phường Y"})
    assert contact_of(own, "8077").number == "0913000111"
    assert contact_of(none, "8077").number == "8077"
    assert contact_of(none, "8077").heading == "Tra cứu hồ sơ phường Y"
    assert contact_of(own, "8077").heading == "X"

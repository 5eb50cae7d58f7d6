"""What a province administrator types and reads about an office, on the CLI (`hoso offices`)
and on the dashboard's offices page alike: the fields' Vietnamese labels, the form an edit
starts from, and a refusal as it is shown. What an office is and how it is checked:
`gateway.core.offices`.

Editing keeps what is not given; the SMS name is the one field derived from another: left to the
name (an empty `sms_name`) while it is the name's own unaccented form, so renaming an office
signs its SMS with the new name, and an SMS name an administrator chose is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.core.offices import InvalidOffice, Office, office_fields, sms_form

FIELD_LABELS = {
    "id": "Mã đơn vị",
    "name": "Tên đơn vị",
    "sms_name": "Tên ký trong SMS (không dấu)",
    "hotline": "Đường dây nóng",
    "numbers": "Số điện thoại nhận tin nhắn",
    "address": "Địa chỉ (in trên biên nhận)",
    "heading": "Tiêu đề trang tra cứu",
    "shared_fallback": "Dùng modem chung của tỉnh khi modem của đơn vị hỏng",
    "reply_budget": "Số tin trả lời mỗi ngày (0: theo cấu hình chung)",
}


def edited_fields(office: Office | None) -> dict[str, Any]:
    """The fields an edit of `office` starts from (none for a new office): its stored fields,
    the SMS name empty while it is derived from the name."""
    if office is None:
        return {}
    fields = office_fields(office)
    if office.sms_name == sms_form(office.name):
        fields["sms_name"] = ""
    return fields


def with_changes(office: Office | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """`office`'s fields with `changes` over them (the fields given; a None value is not given)."""
    return edited_fields(office) | {k: v for k, v in changes.items() if v is not None}


def refusal(exc: InvalidOffice) -> str:
    """An `InvalidOffice` as a person reads it: the field's label, then what is wrong."""
    return f"{FIELD_LABELS.get(exc.field, exc.field)}: {exc.detail}"

"""Offices (bộ phận một cửa): one installation serves every one-stop-shop office of a province.

Everything a citizen or an office's staff deal with belongs to one office: dossiers, departments'
and stations' keys, modems (or the province's shared pool), templates' overrides, limits. An
office is what citizens read (its name, accented on paper and screens, unaccented in GSM-7 SMS;
its hotline; the numbers they text; its address on receipts; the lookup page's heading).

An installation that names no office is one office, `DEFAULT_OFFICE` ("main"), made from the
`[sms]` settings (office, hotline, number): the single-office setup stays as simple as before,
and data written before offices existed (no office field) belongs to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.core.errors import CoreError
from gateway.core.sms_text import is_gsm7, strip_accents

DEFAULT_OFFICE = "main"
OFFICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # ascii, lower case: keys, URLs, CSV
MAX_NAME = 120
MAX_SMS_NAME = 40  # signs every SMS: a long one costs parts
MAX_HOTLINE = 20
MAX_NUMBERS = 10
MAX_ADDRESS = 200
NUMBER = re.compile(r"\+?[0-9]{3,15}")
# Within a number as people write it ("0912 345 678", the example [sms] number): kept as written.
NUMBER_SEPARATORS = re.compile(r"[\s.()-]")
MAX_REPLY_BUDGET = 1_000_000
FIELDS = (
    "name",
    "sms_name",
    "hotline",
    "numbers",
    "address",
    "heading",
    "shared_fallback",
    "reply_budget",
)


class InvalidOffice(CoreError):
    """An office's field that cannot be used: `field` names it, `detail` says why (Vietnamese,
    read by a province administrator)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Office:
    id: str
    name: str  # accented, as people read it: "UBND phường Bến Nghé"
    sms_name: str  # GSM-7, unaccented: signs SMS ("UBND phuong Ben Nghe")
    hotline: str = ""
    numbers: tuple[str, ...] = ()  # the numbers citizens text (printed on receipts)
    address: str = ""  # printed on receipts
    heading: str = ""  # the lookup page's heading ("" : the name)
    # Its notifications may leave from the province's shared pool when its own modems are down.
    shared_fallback: bool = True
    # Replies to citizens' SMS a day at its numbers (worker/reply_limits.py); 0: [sms]'s budget.
    reply_budget: int = 0

    @property
    def page_heading(self) -> str:
        return self.heading or self.name

    @property
    def number(self) -> str:
        """The first number citizens text ("" when none is set)."""
        return self.numbers[0] if self.numbers else ""


def check_office_id(text: object) -> str:
    if not isinstance(text, str) or not OFFICE_ID.fullmatch(text):
        raise InvalidOffice(
            "id", "mã đơn vị gồm 1–40 chữ thường không dấu, chữ số hoặc dấu gạch ngang"
        )
    return text


def sms_form(name: str) -> str:
    """The unaccented GSM-7 form of an office's name, as SMS sign it."""
    return " ".join(strip_accents(name).split())


def make_office(office_id: object, fields: Mapping[str, Any]) -> Office:
    """An office from its fields (a TOML table, a form, the CLI's KEY=VALUE as typed values),
    checked: unknown fields, empty or too long names, an SMS name outside GSM-7, numbers that are
    not phone numbers."""
    oid = check_office_id(office_id)
    unknown = sorted(str(k) for k in fields if k not in FIELDS)
    if unknown:
        raise InvalidOffice(unknown[0], f"không có trường này (có: {', '.join(FIELDS)})")
    name = _text("name", fields.get("name"), MAX_NAME, required=True)
    sms_name = _text("sms_name", fields.get("sms_name") or sms_form(name), MAX_SMS_NAME)
    if not is_gsm7(sms_name):
        raise InvalidOffice("sms_name", "tên trong SMS phải viết không dấu (bảng chữ GSM-7)")
    numbers = fields.get("numbers", ())
    if isinstance(numbers, str):
        numbers = [n.strip() for n in re.split(r"[,;\n]+", numbers) if n.strip()]
    if not isinstance(numbers, list | tuple) or len(numbers) > MAX_NUMBERS:
        raise InvalidOffice("numbers", f"tối đa {MAX_NUMBERS} số điện thoại")
    for number in numbers:
        if not isinstance(number, str) or not NUMBER.fullmatch(NUMBER_SEPARATORS.sub("", number)):
            raise InvalidOffice("numbers", f"{number!s} không phải số điện thoại")
    fallback = fields.get("shared_fallback", True)
    if not isinstance(fallback, bool):
        raise InvalidOffice("shared_fallback", "chỉ nhận true hoặc false")
    budget = fields.get("reply_budget", 0)
    if budget is None or (isinstance(budget, str) and not budget.strip()):
        budget = 0  # not given (an empty form field): the [sms] budget
    if isinstance(budget, str) and budget.strip().isdigit():
        budget = int(budget)
    if (
        not isinstance(budget, int)
        or isinstance(budget, bool)
        or not 0 <= budget <= MAX_REPLY_BUDGET
    ):
        raise InvalidOffice(
            "reply_budget", f"số tin trả lời mỗi ngày: từ 0 (theo [sms]) đến {MAX_REPLY_BUDGET}"
        )
    return Office(
        id=oid,
        name=name,
        sms_name=sms_name,
        hotline=_text("hotline", fields.get("hotline", ""), MAX_HOTLINE),
        numbers=tuple(numbers),
        address=_text("address", fields.get("address", ""), MAX_ADDRESS),
        heading=_text("heading", fields.get("heading", ""), MAX_NAME),
        shared_fallback=fallback,
        reply_budget=budget,
    )


def office_fields(office: Office) -> dict[str, Any]:
    """What `make_office` reads back: the stored and exported form of an office."""
    return {
        "name": office.name,
        "sms_name": office.sms_name,
        "hotline": office.hotline,
        "numbers": list(office.numbers),
        "address": office.address,
        "heading": office.heading,
        "shared_fallback": office.shared_fallback,
        "reply_budget": office.reply_budget,
    }


def default_office(name: str, hotline: str, number: str) -> Office:
    """The office of an installation that names none: the `[sms]` settings' office."""
    numbers = [number] if number else []
    return make_office(
        DEFAULT_OFFICE, {"name": name or "Bộ phận một cửa", "hotline": hotline, "numbers": numbers}
    )


def _text(field: str, value: object, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidOffice(field, "phải là chữ")
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise InvalidOffice(field, "không được để trống")
    if len(cleaned) > limit:
        raise InvalidOffice(field, f"dài quá {limit} ký tự")
    return cleaned

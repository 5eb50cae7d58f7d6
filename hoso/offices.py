"""`hoso offices list|show|set`: the province's offices, created and edited through `Offices.set`,
the one validated operation the dashboard's offices page and the admin API use too. An edit
keeps the fields not given (`gateway.core.office_forms`); a refused field is named, in
Vietnamese, and nothing is saved (exit 2)."""

from __future__ import annotations

import argparse
import json
import sys

from config.settings import Settings
from gateway.core.office_forms import FIELD_LABELS, refusal, with_changes
from gateway.core.offices import InvalidOffice, Office, office_fields
from gateway.store.offices import Offices
from hoso.wiring import store_client


def run(args: argparse.Namespace, settings: Settings) -> int:
    offices = Offices.of(store_client(settings), settings.sms)
    if args.action == "list":
        for office in offices.all():
            print(json.dumps(as_json(office), ensure_ascii=False) if args.json else _line(office))
        return 0
    current = offices.find(args.office)
    if args.action == "show":
        if current is None:
            print(f"hoso offices: không có đơn vị {args.office}", file=sys.stderr)
            return 2
        print(_shown(current))
        return 0
    changes = {
        "name": args.name,
        "sms_name": args.sms_name,
        "hotline": args.hotline,
        "numbers": args.numbers,
        "address": args.address,
        "heading": args.heading,
        "shared_fallback": None if args.shared_fallback is None else args.shared_fallback == "true",
        "reply_budget": args.reply_budget,
    }
    try:  # the dashboard's operation and checks
        saved = offices.set(args.office, with_changes(current, changes))
    except InvalidOffice as exc:
        print(f"hoso offices: {refusal(exc)}; chưa lưu gì", file=sys.stderr)
        return 2
    done = "đã sửa" if current is not None else "đã tạo"
    print(f"{saved.id}: {done} đơn vị {saved.name}")
    return 0


def as_json(office: Office) -> dict[str, object]:
    return {"id": office.id, **office_fields(office)}


def _line(office: Office) -> str:
    numbers = ",".join(office.numbers) or "-"
    hotline = office.hotline or "-"
    return f"{office.id:16} {office.name}  số nhận tin: {numbers}  đường dây nóng: {hotline}"


def _shown(office: Office) -> str:
    values = {
        "id": office.id,
        "name": office.name,
        "sms_name": office.sms_name,
        "hotline": office.hotline,
        "numbers": ", ".join(office.numbers),
        "address": office.address,
        "heading": office.page_heading,
        "shared_fallback": "có" if office.shared_fallback else "không",
        "reply_budget": office.reply_budget or "theo cấu hình chung",
    }
    return "\n".join(f"{FIELD_LABELS[k]}: {v or '-'}" for k, v in values.items())

"""Long CLI work through the real `hoso` command against a real Redis and gateway: importing a
department's export of dossiers, resending failed SMS, re-indexing SMS; each with its progress."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from gateway.core.messages import Priority
from gateway.store import keys
from gateway.store.outbox import Outbox
from tests.e2e.conftest import Gateway
from tests.factories import code, registration_body


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_a_csv_export_is_imported_like_the_api_would_register_it(
    gateway: Gateway, tmp_path: Path
) -> None:
    good = registration_body(9101)
    rows = [
        {**good, "phones": "0901234567; 0987654321", "status": "2"},
        {**registration_body(9102), "phones": "0912345678", "status": ""},
        {**registration_body(9103), "phones": "12", "status": ""},  # not a phone
        {**registration_body(9104), "phones": "0912345678", "due_at": "tomorrow", "status": ""},
    ]
    export = tmp_path / "export.csv"
    export.write_text(_csv(rows), encoding="utf-8")
    out = tmp_path / "codes.jsonl"
    cli = ["dossiers", "import", str(export), "--department", "tuphap", "-o", str(out)]
    first = gateway.hoso(*cli)
    assert first.returncode == 1  # two rows refused
    assert "2 dossier(s) registered, 0 already there, 2 row(s) refused" in first.stdout
    assert f"{export}:4: " in first.stderr
    assert f"{export}:5: due_at" in first.stderr
    assert "import [########################] 4/4 100%" in first.stderr  # the progress line
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["code"] for r in results] == [code(9101), code(9102)]
    assert all(len(r["secret"]) == 8 and r["created"] for r in results)

    # The department reads the imported dossier through its API, phones and all.
    dossier = gateway.department("tuphap").get(f"/api/v1/dossiers/{code(9101)}")
    assert dossier.status == 200
    assert dossier.body["status"]["code"] == 2

    again = gateway.hoso(*cli)  # the same file again: nothing new, same codes and secrets
    assert "0 dossier(s) registered, 2 already there, 2 row(s) refused" in again.stdout
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [
        r | {"created": False} for r in results
    ]


def test_a_json_lines_export_with_a_conflicting_row_reports_it(
    gateway: Gateway, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    lines = [
        json.dumps(registration_body(9201)),
        "{not json",
        json.dumps(registration_body(9201, procedure_name="Khác")),  # same code, other data
        json.dumps(registration_body(9202, extra="x")),  # unknown field, as the API refuses
        json.dumps(  # received in the future (a year typed wrong), as the API refuses
            registration_body(
                9203, received_at="2099-01-02T08:00:00+07:00", due_at="2099-01-09T17:00:00+07:00"
            )
        ),
        "",
    ]
    export.write_text("\n".join(lines), encoding="utf-8")
    run = gateway.hoso("dossiers", "import", str(export), "--department", "tuphap")
    assert run.returncode == 1
    assert "1 dossier(s) registered, 0 already there, 4 row(s) refused" in run.stdout
    assert f"{export}:2: not JSON" in run.stderr
    assert f"{export}:3: " in run.stderr
    assert f"{export}:4: " in run.stderr
    assert f"{export}:5: received_at: 2099-01-02T08:00:00+07:00 is in the future" in run.stderr


def test_failed_sms_are_resent_once_and_old_sms_reindexed(gateway: Gateway) -> None:
    client = gateway.redis.client()
    outbox = Outbox(client)
    failed = []
    for n in range(3):
        sms_id = outbox.enqueue("+84901234567", f"tin {n}", Priority.NOTIFICATION, 1000 + n)
        sms = outbox.claim("m1", "", 2000)
        assert sms is not None
        assert sms.id == sms_id
        outbox.give_up(sms, "CMS ERROR 28", 3000)
        failed.append(sms_id)
    outbox.enqueue("+84901234567", "chua gui", Priority.NOTIFICATION, 4000)

    dry = gateway.hoso("messages", "resend-failed", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "3 failed SMS to resend (dry run: none queued)" in dry.stdout
    run = gateway.hoso("messages", "resend-failed")
    assert run.returncode == 0, run.stderr
    assert "3 failed SMS queued again as new SMS" in run.stdout
    assert "resend [########################] 3/3 100%" in run.stderr
    copies = [outbox.get(i) for i in failed]
    assert all(c is not None and c.fields.get("resent_as") for c in copies)
    again = gateway.hoso("messages", "resend-failed")
    assert "0 failed SMS to resend" in again.stdout  # each is resent once

    client.delete(keys.sms_by_phone("+84901234567"))  # as if stored before the index existed
    assert outbox.ids_for(phone="+84901234567") == []
    reindexed = gateway.hoso("messages", "reindex")
    assert reindexed.returncode == 0, reindexed.stderr
    assert len(outbox.ids_for(phone="+84901234567")) == 7  # 3 failed, their copies, 1 queued

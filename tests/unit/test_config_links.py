"""`[[smpp]]` carrier links and `[[routes]]` rules in hoso.toml: what a process refuses to start
with (one line naming the key and the file) and what `hoso check-config` reports, all at once."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from config.check import check_tables
from config.links import read_password
from config.loader import ConfigError, load_settings
from config.problems import Severity
from tests.unit.test_config_check import KEYS, PORTS, SOURCE, FakeHost

LINK = """
[[smpp]]
id = "brand"
host = "127.0.0.1"
port = 2775
system_id = "ubnd"
password_file = "/etc/hoso/smpp-brand.password"
source = "UBND BADINH"
"""
MODEM = """
[[modems]]
id = "vt1"
port = "/dev/hoso/modem-vt1"
"""
SECRET = {"/etc/hoso/smpp-brand.password": (0o640, True)}


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "hoso.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings({"HOSO_CONFIG": str(path)})


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'hoso.toml'}: ")
    return message.split(": ", 1)[1]


def findings(text: str, files: dict[str, tuple[int, bool]] | None = None) -> list[tuple[str, str]]:
    raw = tomllib.loads(text)
    host = FakeHost(KEYS | PORTS | (SECRET if files is None else files))
    report = check_tables(raw, SOURCE, {}, host)
    return [
        (p.severity.value, p.key) for p in report.problems if p.key.startswith(("smpp", "routes"))
    ]


def test_a_link_and_rules_load_with_defaults_for_what_is_not_written(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        LINK + '[[routes]]\nkind = "notification"\nvia = ["link:brand", "modems"]\n',
    )
    (link,) = s.smpp
    assert (link.id, link.port, link.bind, link.long, link.coding) == (
        "brand",
        2775,
        "transceiver",
        "udh",
        "auto",
    )
    assert (link.tps, link.window, link.source_ton) == (50, 10, None)
    (rule,) = s.routes
    assert (rule.office, rule.kind, rule.via) == ("*", "notification", ("link:brand", "modems"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('bind = "both"', "smpp[0].bind must be one of transceiver, transmitter+receiver"),
        ('long = "split"', "smpp[0].long must be one of udh, sar, payload"),
        ("window = 0", "smpp[0].window must be at least 1"),
        ('password = "12345678"', "smpp[0].password and password_file are both set"),
        ("tps = -3", "smpp[0].tps must be a whole number"),
        ('colour = "red"', "smpp[0].colour is not a key of [[smpp]]"),
        ("source_ton = 300", "smpp[0].source_ton must be a number 0-255"),
    ],
)
def test_a_bad_link_value_stops_startup_naming_the_key(
    tmp_path: Path, extra: str, message: str
) -> None:
    assert refused(tmp_path, LINK + extra + "\n").startswith(message)


def test_a_link_without_id_or_with_a_modems_id_is_refused(tmp_path: Path) -> None:
    assert refused(tmp_path, LINK.replace('id = "brand"', "")).startswith("smpp[0].id is required")
    clash = MODEM + LINK.replace('id = "brand"', 'id = "vt1"')
    assert refused(tmp_path, clash).startswith("smpp[0].id 'vt1' is also a modem's id")


def test_a_brandname_longer_than_eleven_characters_is_refused(tmp_path: Path) -> None:
    text = LINK.replace("UBND BADINH", "UBND QUAN BA DINH")
    assert refused(tmp_path, text).startswith("smpp[0].source 'UBND QUAN BA DINH' is neither")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            'kind = "notification"\nvia = ["link:viettel"]',
            "routes[0].via no carrier link 'viettel'",
        ),
        ('kind = "notification"\nvia = ["origin"]', "routes[0].via a notification has no origin"),
        ('kind = "reply"\nvia = ["modems", "modems"]', "routes[0].via route modems is named twice"),
        ('kind = "spam"\nvia = ["modems"]', "routes[0].kind unknown message kind 'spam'"),
        ('kind = "reply"\nvia = ["pigeon"]', "routes[0].via unknown route 'pigeon'"),
        ('kind = "reply"\nvia = []', "routes[0].via a rule needs at least one route"),
    ],
)
def test_a_bad_rule_stops_startup_naming_the_key(tmp_path: Path, rule: str, message: str) -> None:
    assert refused(tmp_path, LINK + "[[routes]]\n" + rule + "\n").startswith(message)


def test_check_config_reports_every_problem_of_links_and_rules_at_once() -> None:
    text = (
        LINK
        + 'password = "far-too-long-a-password"\nwindow = 0\n'
        + LINK.replace('"brand"', '"brand"', 1)
        + '[[routes]]\nkind = "notification"\nvia = ["link:nowhere"]\n'
    )
    found = findings(text)
    assert ("error", "smpp[0].password") in found
    assert ("error", "smpp[0].window") in found
    assert ("error", "smpp[1].id") in found  # used twice
    assert ("error", "routes[0].via") in found


def test_a_password_in_the_file_and_a_readable_password_file_are_warnings() -> None:
    inline = findings(
        LINK.replace('password_file = "/etc/hoso/smpp-brand.password"', 'password = "s3cret"')
    )
    assert inline == [("warning", "smpp[0].password")]
    open_to_all = findings(LINK, {"/etc/hoso/smpp-brand.password": (0o644, True)})
    assert open_to_all == [("warning", "smpp[0].password_file")]
    unreadable = findings(LINK, {"/etc/hoso/smpp-brand.password": (0o600, False)})
    assert unreadable == [("error", "smpp[0].password_file")]
    assert findings(LINK, {}) == [("warning", "smpp[0].password_file")]  # another host's file


def test_a_sound_link_passes_check_config_with_a_summary_line() -> None:
    raw = tomllib.loads(LINK)
    report = check_tables(raw, SOURCE, {}, FakeHost(KEYS | PORTS | SECRET))
    assert report.ok
    assert [p for p in report.problems if p.severity is Severity.ERROR] == []
    assert any(
        line.startswith("links    brand (UBND BADINH at 127.0.0.1:2775)") for line in report.summary
    )


def test_the_password_is_read_from_its_file_without_the_line_end(tmp_path: Path) -> None:
    secret = tmp_path / "smpp.password"
    secret.write_text("s3cret\n", encoding="utf-8")
    s = load(tmp_path, LINK.replace("/etc/hoso/smpp-brand.password", str(secret)))
    assert read_password(s.smpp[0]) == "s3cret"

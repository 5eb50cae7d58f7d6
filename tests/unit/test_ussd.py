"""Carriers' answers to the balance USSD code, read as hoso reads them (modem/ussd.py).

Each fixture says where its text comes from. Captured answers are quoted as found; where no
capture of a format was available the fixture says it was constructed, and from what.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modem.ussd import balance, decode, plain, unsolicited

# Viettel, *101#: a SIM900 project's notes of what its Viettel SIM answered (a public
# microcontroller repository, 2017), quoted with the modem's framing:
VIETTEL = '+CUSD: 0, "TK goc la 12d. De biet cac CT dac biet cua Quy khach, bam goi *098#.", 15'
# VinaPhone, *101#: logged by a RouterOS router driving an LTE modem ("gsm,info USSD: ..."), in a
# public configuration script:
VINAPHONE = (
    "So TB 0825657578 (VINA690). TK chinh=19900 VND, HSD 16/09/2027. Ngay KH: 10/08/2022. "
    "Khoa1C: 16/09/2027. Khoa2C: 26/09/2027. CSKH 18001091 (0d)"
)
# VinaPhone again, as a modem with AT+CSCS="UCS2" hands it over (UCS-2 hex, dcs 15), from a
# public test of a USSD decoder; the hex is of that test's decoded text:
VINAPHONE_UCS2_TEXT = (
    "So TB 0946183248 (VINA690). TK chinh=1601 VND, HSD 09/10/2026. Ngay KH: 11/07/2026. "
    "Khoa1C: 09/10/2026. Khoa2C: 19/10/2026. CSKH 18001091 (0d)"
)
VINAPHONE_UCS2 = f'+CUSD: 0,"{VINAPHONE_UCS2_TEXT.encode("utf-16-be").hex().upper()}",15'
# MobiFone, *101#: constructed. Its shape ("TKC <digits> d", a dd/mm/yyyy validity followed by a
# comma) is what a public script reading MobiFone's *101# through `gammu getussd` parses; the
# amount and date are ours.
MOBIFONE = "TKC 25400 d, HSD 15/03/2026, KM1 0 d. Bam *090# de dang ky goi cuoc."
# After a top-up, as a public top-up service's code comments quote the carrier's answer:
TOPUP = "Tai khoan cua Quy khach la 10000 dong."
# Constructed: the accented form carriers' app texts use ("tài khoản chính", "đ", "hạn sử
# dụng"); a public parser of carriers' messages handles exactly these words and "15.002d".
ACCENTED = "Tài khoản chính: 15.002đ, hạn sử dụng đến 20/12/2026. Khuyến mại: 0đ."
# Constructed: what a carrier answers a request it cannot serve.
REFUSED = "Yeu cau cua Quy khach khong thuc hien duoc. Vui long thu lai sau."


def test_viettel_main_account() -> None:
    answer = unsolicited(VIETTEL)
    assert answer is not None
    assert answer.status == 0
    found = balance(answer.text or "")
    assert found is not None
    assert (found.vnd, found.valid_until) == (12, None)  # Viettel says no date here


def test_vinaphone_balance_and_validity() -> None:
    found = balance(VINAPHONE)
    assert found is not None
    assert (found.vnd, found.valid_until) == (19900, date(2027, 9, 16))


def test_vinaphone_as_ucs2_hex() -> None:
    answer = unsolicited(VINAPHONE_UCS2)
    assert answer is not None
    assert answer.text == VINAPHONE_UCS2_TEXT
    found = balance(answer.text)
    assert found is not None
    assert (found.vnd, found.valid_until) == (1601, date(2026, 10, 9))


def test_mobifone_main_account_not_the_promotional_one() -> None:
    found = balance(MOBIFONE)
    assert found is not None
    assert (found.vnd, found.valid_until) == (25400, date(2026, 3, 15))


def test_after_a_top_up() -> None:
    found = balance(TOPUP)
    assert found is not None
    assert found.vnd == 10000


def test_accented_with_dots_between_thousands() -> None:
    found = balance(ACCENTED)
    assert found is not None
    assert (found.vnd, found.valid_until) == (15002, date(2026, 12, 20))


def test_an_answer_without_a_balance_is_not_one() -> None:
    assert balance(REFUSED) is None
    assert balance("") is None


@pytest.mark.parametrize(
    ("line", "status", "text"),
    [
        ("+CUSD: 4", 4, None),
        ("+CUSD: 2", 2, None),
        ('+CUSD: 1,"Chon 1 de tiep tuc",15', 1, "Chon 1 de tiep tuc"),
        ('+CUSD: 0,"a,b ""c""",15', 0, 'a,b ""c""'),
        ("OK", None, None),
    ],
)
def test_unsolicited_results(line: str, status: int | None, text: str | None) -> None:
    answer = unsolicited(line)
    got = (answer.status, answer.text) if answer else (None, None)
    assert got == (status, text)


def test_plain_drops_accents_and_the_d_stroke() -> None:
    assert plain("Tài khoản chính: 15.002đ") == "tai khoan chinh: 15.002d"
    assert decode("0054004B", 72) == "TK"
    assert decode("12345678", 15) == "12345678"  # digits are digits, not UCS-2


@given(st.text(max_size=300))
def test_no_answer_makes_the_readers_raise(text: str) -> None:
    balance(text)
    unsolicited(f'+CUSD: 0,"{text}",15')
    unsolicited(text)

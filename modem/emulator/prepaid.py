"""The network side of a prepaid SIM: a balance each SMS part costs, a validity date, and the
carrier's answer to the balance USSD code (AT+CUSD).

The answers follow what the carriers send, as captured (sources in tests/unit/test_ussd.py):
Viettel "TK goc la 12d. De biet cac CT dac biet cua Quy khach, bam goi *098#.", VinaPhone "So TB
... TK chinh=19900 VND, HSD 16/09/2027. ...", MobiFone "TKC 25400 d, HSD 15/03/2026, ...". A SIM
whose balance cannot pay a part gets the send refused with `dry_error` (the RP-cause the
carrier's charging answers: 21, "short message transfer rejected", by default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

log = logging.getLogger(__name__)

BALANCE_CODE = "*101#"
ANSWERS = {
    "viettel": "TK goc la {balance}d. De biet cac CT dac biet cua Quy khach, bam goi *098#.",
    "vinaphone": (
        "So TB {number} (VINA690). TK chinh={balance} VND, HSD {valid}. Ngay KH: 10/08/2022. "
        "Khoa1C: {valid}. Khoa2C: {valid}. CSKH 18001091 (0d)"
    ),
    "mobifone": "TKC {balance} d, HSD {valid}. KM1 0 d. Bam *090# de dang ky goi cuoc.",
}


SHOWN_WITHOUT_BALANCE = 500_000  # what the balance USSD answers for a SIM without a balance


@dataclass
class Prepaid:
    """None as the balance: a SIM that never runs dry (it answers the balance code with
    `SHOWN_WITHOUT_BALANCE`); an int: đồng, `price` less per part, refused below `price`."""

    balance: int | None = None  # đồng
    price: int = 350  # đồng per SMS part (to another network)
    valid_until: date = date(2027, 9, 16)
    dry_error: int = 21  # +CMS ERROR when the balance cannot pay a part
    answer: str | None = None  # the USSD answer, instead of the carrier's usual one
    number: str = "0825657578"

    def can_pay(self) -> bool:
        return self.balance is None or self.balance >= self.price

    def charge(self) -> None:
        if self.balance is not None:
            self.balance -= self.price

    def ussd_answer(self, code: str, operator: str) -> str | None:
        """The network's answer to a USSD code, None for a code it does not know."""
        if self.answer is not None:
            return self.answer
        if code != BALANCE_CODE:
            return None
        carrier = next((c for c in ANSWERS if c[:4] in operator.lower()), "viettel")
        return ANSWERS[carrier].format(
            balance=self.balance if self.balance is not None else SHOWN_WITHOUT_BALANCE,
            valid=self.valid_until.strftime("%d/%m/%Y"),
            number=self.number,
        )

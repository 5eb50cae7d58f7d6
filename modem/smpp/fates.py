"""Submits of unknown fate, matched to receipts whose message id nobody knew (pure).

A link killed after writing a submit_sm and before reading its answer never learns the message id
the SMSC gave, and a connection lost in the same moment leaves the same hole. The SMSC still
delivers the SMS and sends its receipt, to the next bind: a receipt for an id the link does not
know ("an orphan"). Such a part is resolved by the orphan that names its destination, came after
the part was being submitted, and (for GSM-7 text, which receipts quote faithfully) whose text:
field starts the part's text. A receipt that fits two parts, or a part that two receipts fit,
resolves nothing: both parts are sent again once instead (at most one duplicate each, never a
lost SMS).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

SLACK_MS = 5_000  # the SMSC's receipt may carry our clock's time a little before our record


@dataclass(frozen=True, slots=True)
class UnknownSubmit:
    key: Hashable
    recipient: str  # E.164
    since_ms: int  # when the part was being submitted
    text: str  # the part's text
    quoted: bool  # whether receipts quote its text (GSM-7; UCS-2 quotes come out garbled)


@dataclass(frozen=True, slots=True)
class Candidate:
    key: Hashable
    recipient: str  # E.164, or as the SMSC wrote it
    at_ms: int  # when the receipt came
    text: str  # its text: field


def _fits(part: UnknownSubmit, receipt: Candidate) -> bool:
    if receipt.recipient != part.recipient or receipt.at_ms < part.since_ms - SLACK_MS:
        return False
    quote = receipt.text.strip()
    if not part.quoted or not quote or not quote.isascii() or not quote.isprintable():
        return True
    return part.text.startswith(quote)  # receipts quote the first 20 characters


def match(
    parts: Sequence[UnknownSubmit], receipts: Sequence[Candidate]
) -> dict[Hashable, Hashable]:
    """part key -> receipt key, for the pairs that fit each other and nothing else."""
    fits = {p.key: [r.key for r in receipts if _fits(p, r)] for p in parts}
    taken: dict[Hashable, int] = {}
    for keys in fits.values():
        for key in keys:
            taken[key] = taken.get(key, 0) + 1
    return {
        part: found[0] for part, found in fits.items() if len(found) == 1 and taken[found[0]] == 1
    }

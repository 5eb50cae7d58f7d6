"""What a scanned text carries, as the station reads it.

A scanner hands the station text; whatever a receipt prints is understood:

- the Code128 under the bars: the short code (``PAZCGM6``, printed ``PAZC-GM6``), in any case;
- a dossier code typed at the keyboard, exactly or sloppily (``0000020h572404230001``);
- the QR code's payload (`gateway.receipts.qr`): its ``MHS`` field, the full code (or, without
  one, the code in its ``URL`` field);
- a tracking URL (`gateway.core.tracking`) with the short code, as receipts print it, or with
  the full code: its ``ma`` parameter.

A keyboard-wedge scanner (or a serial one ending codes with LF) types the QR payload's lines one
by one: the ``MHS:`` line is the scan, the payload's other lines are not (`Reading.qr_field`),
so that one QR code is one scan and no refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.core.codes import CODE_PATTERN, code_inside, fold, looks_like_code
from gateway.core.tracking import code_in_url
from gateway.receipts.qr import CODE_KEY, FIELDS, parse_payload

MAX_TYPED = 40  # longer text is not a code typed or read alone
_QR_LINE = re.compile(r"^\s*(" + "|".join(FIELDS) + r")\s*:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reading:
    code: str | None  # the dossier code to upload: canonical if read so, else folded
    qr_field: bool = False  # a line of a receipt's QR payload that is not its code


def read_scan(text: str) -> Reading:
    stripped = text.strip()
    code = _code(stripped)
    if code is not None:
        return Reading(code)
    if "\n" in stripped or "\r" in stripped:  # a whole QR payload in one read
        return Reading(_code_in_payload(stripped))
    field = _QR_LINE.match(stripped)
    if field is not None:
        key = field.group(1).upper()
        if key == CODE_KEY:
            return Reading(_code(stripped[field.end() :].strip()))
        return Reading(None, qr_field=True)
    return Reading(code_inside(stripped))  # a full code amid other text


def extract_code(text: str) -> str | None:
    """The dossier code a scan carries, as uploaded; None if it carries none."""
    return read_scan(text).code


def _code(text: str) -> str | None:
    """A code typed or read alone, or a tracking URL's code."""
    from_url = code_in_url(text)
    if from_url is not None:
        text = from_url
    upper = text.strip().upper()
    if CODE_PATTERN.fullmatch(upper):
        return upper
    if len(upper) <= MAX_TYPED and looks_like_code(upper):
        return fold(upper)
    return None


def _code_in_payload(text: str) -> str | None:
    fields = parse_payload(text)
    for key in (CODE_KEY, "URL"):
        if key in fields:
            code = _code(fields[key])
            if code is not None:
                return code
    return code_inside(text)

"""Final result codes for failures: +CME ERROR (TS 27.007 9.2) and +CMS ERROR (TS 27.005 3.2.5)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

CME_TEXT = {
    0: "phone failure",
    1: "no connection to phone",
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    17: "SIM PIN2 required",
    18: "SIM PUK2 required",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    24: "text string too long",
    25: "invalid characters in text string",
    30: "no network service",
    31: "network timeout",
    32: "network not allowed - emergency calls only",
    50: "incorrect parameters",
    100: "unknown",
}

CMS_TEXT = {
    8: "operator determined barring",
    21: "short message transfer rejected",
    27: "destination out of service",
    28: "unidentified subscriber",
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    47: "resources unavailable, unspecified",
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    312: "PH-SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    500: "unknown error",
}


class AtError(Exception):
    """A command failed; `kind` is "cme", "cms", "plain" (syntax: always plain ERROR) or
    "unsupported" (a command the modem does not know: ERROR, or the profile's own word)."""

    def __init__(self, kind: str, code: int = 0) -> None:
        super().__init__(f"{kind} {code}")
        self.kind = kind
        self.code = code

    def result(self, cmee: int) -> str:
        """The final result code as the modem words it under AT+CMEE=<cmee>."""
        if self.kind in ("plain", "unsupported"):
            return "ERROR"
        if self.kind == "cme":
            if cmee == 0:
                return "ERROR"
            if cmee == 2:
                return f"+CME ERROR: {CME_TEXT.get(self.code, 'unknown')}"
            return f"+CME ERROR: {self.code}"
        # TS 27.005 3.2.5: SMS commands always report +CMS ERROR; only the wording follows +CMEE
        if cmee == 2:
            return f"+CMS ERROR: {CMS_TEXT.get(self.code, 'unknown error')}"
        return f"+CMS ERROR: {self.code}"


def syntax() -> AtError:
    return AtError("plain")


def unsupported() -> AtError:
    return AtError("unsupported")


def cme(code: int) -> AtError:
    return AtError("cme", code)


def cms(code: int) -> AtError:
    return AtError("cms", code)

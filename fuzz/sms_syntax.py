"""A citizen's SMS text (`gateway.core.sms_syntax.parse`), as it comes off the modem: either the
text of a decoded SMS-DELIVER (first input byte odd: the rest is the user data, coded as GSM-7 or
UCS-2 as the byte says) or any UTF-8 text with replacement (even).

Documented failures: none, `parse` never raises. Invariants: a code found is in its folded form;
a short code passes its check; a secret is upper case.
"""

from __future__ import annotations

from gateway.core.codes import SHORT_LENGTH, fold, is_short_code
from gateway.core.sms_syntax import Lookup, OptIn, parse
from gateway.core.sms_text import GSM7_EXTENSION_SEPTETS, GSM7_SEPTETS

MAX_LEN = 2048


def _gsm7(data: bytes) -> str:
    out: list[str] = []
    escaped = False
    for octet in data:
        septet = octet & 0x7F
        if escaped:
            out.append(GSM7_EXTENSION_SEPTETS.get(septet, " "))
            escaped = False
        elif septet == 0x1B:
            escaped = True
        else:
            out.append(GSM7_SEPTETS[septet])
    return "".join(out)


def text_of(data: bytes) -> str:
    if not data:
        return ""
    body = data[1:]
    if data[0] & 1 == 0:
        return body.decode("utf-8", errors="replace")
    if data[0] & 2:
        return body[: len(body) & ~1].decode("utf-16-be", errors="replace")
    return _gsm7(body)


def TestOneInput(data: bytes) -> None:
    command = parse(text_of(data))
    if isinstance(command, Lookup | OptIn) and command.code_text is not None:
        code = command.code_text
        assert fold(code) == code, command
        assert len(code) in (SHORT_LENGTH, 20, 21, 22), command
        if len(code) == SHORT_LENGTH:
            assert is_short_code(code), command
    if isinstance(command, Lookup) and command.secret is not None:
        assert command.secret == command.secret.upper(), command


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()

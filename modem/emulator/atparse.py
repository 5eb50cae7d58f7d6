"""Splitting an AT command line (ITU-T V.250) into basic and extended commands."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)

_EXTENDED_PREFIXES = "+^$%*#!"
_DIGITS = frozenset("0123456789")  # str.isdigit() also takes "²" (0xB2 in latin-1), int() does not


class Op(StrEnum):
    EXEC = "exec"  # AT+CMD, ATZ
    READ = "read"  # AT+CMD?
    TEST = "test"  # AT+CMD=?
    SET = "set"  # AT+CMD=args, ATE0


@dataclass(frozen=True)
class Command:
    name: str  # upper case: "+CMGF", "^SYSINFO", "E", "&F", "S0", "D"
    op: Op
    args: tuple[str, ...] = ()  # quotes removed
    quoted: tuple[bool, ...] = ()

    def arg(self, i: int) -> str | None:
        """The i-th argument, None when omitted or empty."""
        if i < len(self.args) and (self.args[i] != "" or self.quoted[i]):
            return self.args[i]
        return None


class SyntaxFault(ValueError):
    """The command line cannot be parsed."""


def split_args(text: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """Comma-separated parameters; quoted strings keep their spaces and commas."""
    args: list[str] = []
    quoted: list[bool] = []
    buf: list[str] = []
    in_quotes = was_quoted = False

    def push() -> None:
        value = "".join(buf)
        args.append(value if was_quoted else value.strip())
        quoted.append(was_quoted)

    for ch in text:
        if in_quotes:
            if ch == '"':
                in_quotes = False
            else:
                buf.append(ch)
        elif ch == '"':
            in_quotes = was_quoted = True
            buf = []
        elif ch == ",":
            push()
            buf, was_quoted = [], False
        elif not was_quoted:
            buf.append(ch)
    if in_quotes:
        raise SyntaxFault("unterminated string")
    push()
    return tuple(args), tuple(quoted)


def _extended(token: str) -> Command:
    name_end = len(token)
    for i, ch in enumerate(token):
        if i > 0 and ch in "=?":
            name_end = i
            break
    name = token[:name_end].upper().strip()
    rest = token[name_end:].strip()
    if rest == "":
        return Command(name, Op.EXEC)
    if rest == "?":
        return Command(name, Op.READ)
    if rest.replace(" ", "") == "=?":
        return Command(name, Op.TEST)
    if rest.startswith("="):
        args, quoted = split_args(rest[1:])
        return Command(name, Op.SET, args, quoted)
    raise SyntaxFault(token)


def parse_line(body: str) -> list[Command]:
    """Commands of a line, `body` being what follows "AT" (the CR excluded)."""
    commands: list[Command] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch in " ;":
            i += 1
            continue
        if ch in _EXTENDED_PREFIXES:
            j = i
            in_quotes = False
            while j < n and (in_quotes or body[j] != ";"):
                if body[j] == '"':
                    in_quotes = not in_quotes
                j += 1
            commands.append(_extended(body[i:j]))
            i = j
            continue
        upper = ch.upper()
        if upper == "D":  # dial: the rest of the line is the dial string
            commands.append(Command("D", Op.SET, (body[i + 1 :],), (False,)))
            break
        if upper == "S" and i + 1 < n and body[i + 1] in _DIGITS:
            j = i + 1
            while j < n and body[j] in _DIGITS:
                j += 1
            reg = "S" + body[i + 1 : j]
            if j < n and body[j] == "?":
                commands.append(Command(reg, Op.READ))
                i = j + 1
            elif j < n and body[j] == "=":
                k = j + 1
                while k < n and body[k] in _DIGITS:
                    k += 1
                commands.append(Command(reg, Op.SET, (body[j + 1 : k],), (False,)))
                i = k
            else:
                raise SyntaxFault(body)
            continue
        if upper == "&" and i + 1 < n and body[i + 1].isalpha():
            name, i = "&" + body[i + 1].upper(), i + 2
        elif upper.isalpha():
            name, i = upper, i + 1
        else:
            raise SyntaxFault(body)
        j = i
        while j < n and body[j] in _DIGITS:
            j += 1
        if j > i:
            commands.append(Command(name, Op.SET, (body[i:j],), (False,)))
        elif i < n and body[i] == "?":
            commands.append(Command(name, Op.READ))
            j += 1
        else:
            commands.append(Command(name, Op.EXEC))
        i = j
    return commands

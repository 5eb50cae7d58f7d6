"""What a citizen's SMS asks for: `parse(text) -> Command` (pure, never raises).

People text from cheap phones, with or without diacritics, in any case, with the code typed
however it came out. The parser works on *tokens* (`gateway.core.sms_tokens`): the text is
NFKC-normalised (full-width letters, composed/decomposed and Windows-1258-style combining tones
all become one form), zero-width and format characters are dropped, each letter is reduced to
its base ASCII letter (đ→d), and everything that is not a letter or a digit (punctuation, emoji,
spaces) separates tokens. Each token keeps its original spelling too, so that an ambiguous
keyword can insist on its own accents ("dừng" is stop, "đúng" is "right").

Then:
1. Quoted lines (``> ...``) and a forwarded original are dropped; leading fillers ("Re:", "alo",
   "cho em hỏi", "tôi muốn") are skipped to find the *command position*.
2. The first keyword wins (`KEYWORDS`, `gateway.core.sms_keywords`). Short ones (HS, TRA, TD,
   DK, HD ...) count only at the command position or when typed in capitals; phrases ("tra cứu",
   "hủy nhận tin") count anywhere; "dừng"/"ngừng" only as the whole message; "đăng ký" only alone
   or before a code (it is also part of procedure names: "đăng ký khai sinh").
3. A code is looked for in the token stream: a run of tokens whose folded concatenation is a full
   dossier code (20-22 characters, digits after the agency part; a valid yymmdd date is
   preferred) or a short code with a correct check character (one without a digit only after a
   keyword, or as the whole message, or followed by its secret alone). A secret may follow (8
   characters from `SECRET_ALPHABET`, as one token or 4+4).
4. Lookup keyword or none + code → `Lookup`; lookup keyword without a code → `ListMine`; text
   that looks like a code but is not one → `UnknownCommand(BAD_CODE)`; anything else →
   `UnknownCommand`. A word that reads as a keyword glued to a code ("HSCM4AE9K") is split when that
   finds a code; otherwise a word that looks like a code as typed is a wrong code: "KT9CQ01", a
   short code with a wrong check character, is not "KT" and noise.

"HS" alone is read as `ListMine` like "TRA" alone (the citizen wants their dossiers), and any
text about "hồ sơ" without a code too ("cho hỏi hồ sơ của tôi"): the answer lists only the
sending phone's own dossiers, so reading too much into it reveals nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from gateway.core.codes import (
    CROCKFORD,
    MAX_FOLDED_CODE,
    SECRET_ALPHABET,
    SECRET_LENGTH,
    SHORT_LENGTH,
    fold,
    is_folded_full_code,
    is_short_code,
)
from gateway.core.sms_keywords import KEYWORDS, LEADING_FILLERS, POLITE, Action, Keyword, Scope
from gateway.core.sms_tokens import Token, ascii_words, tokens_of

MAX_INPUT = 1600  # characters looked at: ten concatenated parts is more than any citizen sends


class CommandKind(StrEnum):
    LOOKUP = "lookup"
    LIST_MINE = "list_mine"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    UNKNOWN = "unknown"


class UnknownReason(StrEnum):
    EMPTY = "empty"  # nothing but spaces, punctuation or emoji
    BAD_CODE = "bad_code"  # something code-like that is not a code (wrong length, check fails)
    NOT_UNDERSTOOD = "not_understood"


@dataclass(frozen=True)
class Lookup:
    """``HS <code> [secret]``. `code_text` is folded (`codes.fold`): the 20-22 character form of
    a full dossier code, or a 7-character short code. `secret` is normalised, or None."""

    code_text: str
    secret: str | None = None
    kind: ClassVar[CommandKind] = CommandKind.LOOKUP

    @property
    def is_short(self) -> bool:
        return len(self.code_text) == SHORT_LENGTH


@dataclass(frozen=True)
class ListMine:
    """``TRA`` alone: the sending phone's open dossiers."""

    kind: ClassVar[CommandKind] = CommandKind.LIST_MINE


@dataclass(frozen=True)
class OptOut:
    """``HUY`` / ``TD`` / ``STOP``: no more messages to this phone."""

    kind: ClassVar[CommandKind] = CommandKind.OPT_OUT


@dataclass(frozen=True)
class OptIn:
    """``DK <code>``: messages about that dossier again; ``DK`` alone: about all of them."""

    code_text: str | None = None
    kind: ClassVar[CommandKind] = CommandKind.OPT_IN


@dataclass(frozen=True)
class Help:
    kind: ClassVar[CommandKind] = CommandKind.HELP


@dataclass(frozen=True)
class UnknownCommand:
    reason: UnknownReason
    kind: ClassVar[CommandKind] = CommandKind.UNKNOWN


Command = Lookup | ListMine | OptOut | OptIn | Help | UnknownCommand


# Words between a code and its secret ("mã bí mật ABCD2345").
_SECRET_LEADS = frozenset({"ma", "bi", "mat", "mk", "mbm", "khau", "pass", "pin", "so"})
_GLUED = re.compile(r"^(tracuu|dangky|hs|tra|tc|kt|dk)([0-9oil][0-9a-z]*\d[0-9a-z]*|\d)$")
_GLUED_ANY = re.compile(r"^(tracuu|dangky|hs|tra|tc|kt|dk)([0-9a-z]+)$")
_QUOTE_MARKERS = ("original message", "tin nhan goc", "tin nhan truoc")


# -- glued keywords and quotes ------------------------------------------------------------------


def _unglue(tokens: list[Token]) -> list[Token]:
    """'HS000.00...', 'HSCM4AE9K', 'hsCM4A-E9K': a keyword typed against its code."""
    out: list[Token] = []
    for k, t in enumerate(tokens):
        after = tokens[k + 1].ascii if k + 1 < len(tokens) else ""
        m = _GLUED.match(t.ascii)
        if m is None and (prefixed := _GLUED_ANY.match(t.ascii)):
            rest = prefixed[2]
            if is_short_code(rest) or (len(rest) < 7 and is_short_code(rest + after)):
                m = prefixed
        if m is None or is_short_code(t.ascii) or _is_secret(t.ascii):
            out.append(t)
            continue
        n = m.end(1)
        out.append(Token(t.ascii[:n], t.raw[:n], t.shouted))
        out.append(Token(t.ascii[n:], t.raw[n:], t.shouted))
    return out


def _drop_quotes(text: str) -> str:
    lines = text.splitlines()
    kept: list[str] = []
    for line in lines:
        marker = line.strip().startswith(("---", "___")) or any(
            m in ascii_words(line) for m in _QUOTE_MARKERS
        )
        if marker and kept:
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept) if any(line.strip() for line in kept) else text


# Words a code never starts with (they hold a letter a code's first group cannot have).
_NOT_CODE_START = frozenset(
    w
    for w in (
        {"ma", "so", "la", "cua", "toi", "em", "ban", "anh", "chi", "cho", "hoi", "xin", "ve"}
        | {"tra", "cuu", "nhan", "tin", "gui", "huy", "ho", "kiem", "dang", "ky", "ki", "bi"}
        | {w for kw in KEYWORDS for w in kw.words}
    )
    if set(w) - set("oil0123456789")
)

# -- codes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Code:
    folded: str
    start: int
    end: int  # token index after the code


def _date_ok(folded: str) -> bool:
    month, day = int(folded[12:14]), int(folded[14:16])
    return 1 <= month <= 12 and 1 <= day <= 31


def _find_code(
    tokens: list[Token], after_keyword: int | None, first: int, only_at: int | None = None
) -> _Code | None:
    """The best code in `tokens`: full codes before short ones, a valid date first, then the
    earliest and longest. A code may start inside a token behind a keyword typed against it
    ("HSo00.00...", "hsCM4A-E9K"). A short code needs a digit, to follow a keyword, or to be
    the whole message. `only_at`: look only for a code starting at that token."""
    best: tuple[tuple[int, ...], _Code] | None = None
    for i, token in enumerate(tokens):
        if only_at is not None and i != only_at:
            continue
        starts = [] if token.ascii in _NOT_CODE_START else [(token.ascii, 0)]
        if (glued := _GLUED_ANY.match(token.ascii)) is not None:
            starts.append((glued[2], 1))
        for head, behind_keyword in starts:
            joined = head
            for j in range(i, len(tokens)):
                if j > i:
                    joined += tokens[j].ascii
                folded = fold(joined)
                if len(folded) > MAX_FOLDED_CODE:
                    break
                rank: tuple[int, ...] | None = None
                if is_folded_full_code(folded):
                    rank = (2, _date_ok(folded), -i, behind_keyword, j)
                elif len(folded) == 7 and is_short_code(folded):
                    has_digit = any(c.isdigit() for c in joined)
                    alone = i == first and (j == len(tokens) - 1 or _only_secret(tokens, j + 1))
                    if has_digit or alone or behind_keyword or i == after_keyword:
                        rank = (1, 0, -i, behind_keyword, j)
                if rank is not None and (best is None or rank > best[0]):
                    best = (rank, _Code(folded, i, j + 1))
    return best[1] if best else None


def _looks_like_a_code(tokens: list[Token]) -> bool:
    """Something typed as a code that is not one: digits enough, or 7 code characters."""
    words = [t for t in tokens if t.ascii not in _NOT_CODE_START]
    if sum(c.isdigit() for t in words for c in t.ascii) >= 4:
        return True
    for k, word in enumerate(words):
        pair = word.ascii + words[k + 1].ascii if k + 1 < len(words) else ""
        for text in (word.ascii, pair):
            folded = fold(text)
            if len(folded) == 7 and set(folded) <= set(CROCKFORD) and any(map(str.isdigit, text)):
                return True
    return False


def _is_secret(text: str) -> bool:
    return len(text) == SECRET_LENGTH and set(text.upper()) <= set(SECRET_ALPHABET)


def _only_secret(tokens: list[Token], start: int) -> bool:
    """Whether the tokens from `start` on are a secret and nothing else ("CGFS-NFY ABCD 2345")."""
    rest = tokens[start:]
    return len(rest) in (1, 2) and _is_secret("".join(t.ascii for t in rest))


def _find_secret(tokens: list[Token], start: int) -> str | None:
    p = start
    while p < len(tokens) and p < start + 4:
        text = tokens[p].ascii
        if len(text) == 4 and p + 1 < len(tokens) and len(tokens[p + 1].ascii) == 4:
            text += tokens[p + 1].ascii
        if _is_secret(text):
            return text.upper()
        if tokens[p].ascii not in _SECRET_LEADS:
            return None
        p += 1
    return None


# -- keywords in the token stream ---------------------------------------------------------------


def _matches(kw: Keyword, tokens: list[Token], p: int) -> bool:
    words = kw.words
    span = tokens[p : p + len(words)]
    if len(span) != len(words) or any(t.ascii != w for t, w in zip(span, words, strict=True)):
        return False
    # A strict keyword's words are typed plain or with their own accents, word by word.
    return not kw.strict or all(
        t.plain or any(t.raw == s.split()[k] for s in kw.spellings if len(s.split()) > k)
        for k, t in enumerate(span)
    )


def _skip_fillers(tokens: list[Token]) -> int:
    p = 0
    moved = True
    while moved:
        moved = False
        for filler in LEADING_FILLERS:
            if tuple(t.ascii for t in tokens[p : p + len(filler)]) == filler:
                p += len(filler)
                moved = True
                break
    return p


_BY_LENGTH = sorted(KEYWORDS, key=lambda kw: -len(kw.words))


def _first_keyword(tokens: list[Token], command_at: int) -> tuple[Keyword, int] | None:
    # Whether the text holds a code anywhere, whatever keyword precedes it: looked up once, not
    # at every "đăng ký" (that made the parse quadratic in the number of keywords).
    code_anywhere: bool | None = None
    for p in range(command_at, len(tokens)):
        for kw in _BY_LENGTH:
            if not _matches(kw, tokens, p):
                continue
            end = p + len(kw.words)
            rest = tokens[end:]
            if kw.scope is Scope.FIRST and not (p == command_at or tokens[p].shouted):
                continue
            if kw.scope is Scope.ALONE and (
                p != command_at or any(t.ascii not in POLITE for t in rest)
            ):
                continue
            if kw.scope is Scope.WITH_CODE and not (p == command_at and not rest):
                # _find_code(tokens, end, ...) finds a code iff one is found without a keyword
                # or a short code starts right after this one (its only use of `end`).
                if code_anywhere is None:
                    code_anywhere = _find_code(tokens, None, command_at) is not None
                if not code_anywhere and _find_code(tokens, end, command_at, only_at=end) is None:
                    continue
            return kw, end
    return None


# -- the parser --------------------------------------------------------------------------------


def parse(text: str) -> Command:
    """What the citizen asks for. Never raises; text it cannot read is `UnknownCommand`."""
    text = _drop_quotes(unicodedata.normalize("NFKC", text[:MAX_INPUT]))
    tokens = tokens_of(text)
    if not tokens:
        return Help() if "?" in text else UnknownCommand(UnknownReason.EMPTY)
    unglued = _unglue(tokens)
    command = _parse_tokens(unglued, "?" in text)
    if unglued != tokens and not _has_code(command):
        # "TC5K-8M2" may be a short code, not TC + 5K8M2: read it as typed if that finds a code.
        as_typed = _parse_tokens(tokens, "?" in text)
        # "KT9CQ01", "DK7T6P1": a short code typed wrong whose first letters spell a keyword
        # is a wrong code, as any other wrong code, not the keyword followed by noise
        if _has_code(as_typed) or as_typed == UnknownCommand(UnknownReason.BAD_CODE):
            return as_typed
    return command


def _has_code(command: Command) -> bool:
    return isinstance(command, Lookup) or (isinstance(command, OptIn) and bool(command.code_text))


def _parse_tokens(tokens: list[Token], question: bool) -> Command:
    command_at = _skip_fillers(tokens)
    found = _first_keyword(tokens, command_at)
    action = found[0].action if found else None
    keyword_end = found[1] if found else None

    if action is Action.HELP:
        return Help()
    if action is Action.OPT_OUT:
        return OptOut()
    code = _find_code(tokens, keyword_end, command_at)
    if action is Action.OPT_IN:
        if code is not None:
            return OptIn(code.folded)
        return UnknownCommand(UnknownReason.BAD_CODE) if _looks_like_a_code(tokens) else OptIn()
    if code is not None:
        return Lookup(code.folded, _find_secret(tokens, code.end))
    if _looks_like_a_code(tokens):
        return UnknownCommand(UnknownReason.BAD_CODE)
    if action is Action.LOOKUP:
        return ListMine()
    if command_at >= len(tokens) and question:
        return Help()
    return UnknownCommand(UnknownReason.NOT_UNDERSTOOD)

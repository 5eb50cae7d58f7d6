"""The keywords of a citizen's SMS (`KEYWORDS`: how each is spelled, what it asks, where in the
message it counts), the fillers skipped before the command and the politeness words allowed
after one; the parser (`gateway.core.sms_syntax`) finds them in the token stream."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum

from gateway.core.sms_tokens import ascii_words


class Action(Enum):
    LOOKUP = "lookup"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


class Scope(Enum):
    FIRST = "first"  # at the command position, or typed in capitals anywhere
    ANYWHERE = "anywhere"
    ALONE = "alone"  # the whole message (politeness words aside)
    WITH_CODE = "with_code"  # anywhere, but only alone or when a code is given


@dataclass(frozen=True)
class Keyword:
    words: tuple[str, ...]  # lower case ASCII, as matched against tokens
    spellings: tuple[str, ...]  # as typed with accents (NFC, lower case)
    action: Action
    scope: Scope
    strict: bool = False  # accented tokens must be one of `spellings` ("dừng" but not "đúng")


def _k(spellings: str, action: Action, scope: Scope, strict: bool = False) -> Keyword:
    forms = tuple(unicodedata.normalize("NFC", s.strip().lower()) for s in spellings.split("|"))
    words = tuple(ascii_words(forms[0]).split())
    return Keyword(words, forms, action, scope, strict)


_LOOK, _STOP, _JOIN, _HELP = Action.LOOKUP, Action.OPT_OUT, Action.OPT_IN, Action.HELP
_FIRST, _ANY, _ALONE, _WITH_CODE = Scope.FIRST, Scope.ANYWHERE, Scope.ALONE, Scope.WITH_CODE

KEYWORDS: tuple[Keyword, ...] = (
    # look up a dossier (alone: list mine)
    _k("hs", _LOOK, _FIRST, strict=True),
    _k("tra", _LOOK, _FIRST, strict=True),  # not "trả" (to return/pay)
    _k("tc", _LOOK, _FIRST, strict=True),
    _k("kt", _LOOK, _FIRST, strict=True),
    _k("tracuu", _LOOK, _FIRST),
    _k("tra cứu | tra cưu | tra cuú", _LOOK, _ANY),
    _k("kiểm tra", _LOOK, _ANY),
    _k("hồ sơ | hô sơ | hồ sở", _LOOK, _ANY, strict=True),  # not "họ sợ"
    # stop messages
    _k("hủy | huỷ", _STOP, _FIRST),
    _k("td", _STOP, _FIRST, strict=True),
    _k("stop", _STOP, _ANY),
    _k("từ chối", _STOP, _ANY),
    _k("dừng", _STOP, _ALONE, strict=True),  # not "đúng", "dùng"
    _k("ngừng | ngưng", _STOP, _ALONE, strict=True),
    _k("hủy nhận tin | huỷ nhận tin", _STOP, _ANY),
    _k("hủy đăng ký | huỷ đăng ký | hủy đăng kí | huỷ đăng kí", _STOP, _ANY),
    _k("hủy đk | huỷ đk", _STOP, _ANY),
    _k("dừng nhận tin", _STOP, _ANY),
    _k("ngừng nhận tin | ngưng nhận tin", _STOP, _ANY),
    _k("dừng gửi | ngừng gửi | ngưng gửi | đừng gửi", _STOP, _ANY),
    _k("không nhận tin", _STOP, _ANY),
    _k("không muốn nhận tin", _STOP, _ANY),
    # messages again
    _k("dk | đk", _JOIN, _FIRST, strict=True),
    _k("dangky", _JOIN, _FIRST),
    _k("đăng ký nhận tin | đăng kí nhận tin", _JOIN, _ANY),
    _k("đăng ký | đăng kí", _JOIN, _WITH_CODE),
    # help
    _k("hd", _HELP, _FIRST, strict=True),  # not "hđ" (hợp đồng, hoá đơn)
    _k("help", _HELP, _ANY),
    _k("menu", _HELP, _FIRST),
    _k("hướng dẫn", _HELP, _ANY),
    _k("trợ giúp", _HELP, _ANY),
    _k("cú pháp", _HELP, _ANY),
)

# Skipped before the command position.
LEADING_FILLERS: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "re",
        "fw",
        "fwd",
        "tl",
        "alo",
        "a lo",
        "chao",
        "xin chao",
        "hi",
        "hello",
        "kinh gui",
        "cho hoi",
        "cho em hoi",
        "cho toi hoi",
        "cho minh hoi",
        "xin hoi",
        "toi muon",
        "em muon",
        "minh muon",
        "toi can",
        "vui long",
        "lam on",
    )
)
# Allowed after an ALONE keyword ("dừng nhé", "ngừng ạ").
POLITE = frozenset({"a", "ah", "ak", "nhe", "nha", "nhen", "di", "ok", "cam", "on", "thanks"})

"""Parts of unknown fate matched to receipts nobody knew the id of (modem.smpp.fates)."""

from __future__ import annotations

from modem.smpp.fates import SLACK_MS, Candidate, UnknownSubmit, match


def part(
    key: str, to: str = "+84901234567", since: int = 1000, text: str = "Ho so da xong"
) -> UnknownSubmit:
    return UnknownSubmit(key, to, since, text, quoted=True)


def receipt(
    key: str, to: str = "+84901234567", at: int = 2000, text: str = "Ho so da xong"
) -> Candidate:
    return Candidate(key, to, at, text)


def test_a_receipt_for_the_parts_phone_after_it_was_written_resolves_it() -> None:
    assert match([part("p")], [receipt("r")]) == {"p": "r"}


def test_another_phone_an_older_receipt_or_another_text_resolves_nothing() -> None:
    assert match([part("p")], [receipt("r", to="+84909999999")]) == {}
    assert match([part("p", since=10_000)], [receipt("r", at=10_000 - SLACK_MS - 1)]) == {}
    assert match([part("p")], [receipt("r", text="Ho so bi tra lai")]) == {}


def test_a_garbled_or_missing_quote_is_not_held_against_a_part() -> None:
    assert match([part("p")], [receipt("r", text="")]) == {"p": "r"}
    assert match([part("p")], [receipt("r", text="\x00H\x00o")]) == {"p": "r"}
    ucs2 = UnknownSubmit("p", "+84901234567", 1000, "Hồ sơ đã xong", quoted=False)
    assert match([ucs2], [receipt("r", text="garbage")]) == {"p": "r"}


def test_a_receipt_that_fits_two_parts_or_two_receipts_that_fit_one_part_resolve_nothing() -> None:
    assert match([part("p1"), part("p2")], [receipt("r")]) == {}
    assert match([part("p")], [receipt("r1"), receipt("r2")]) == {}


def test_unambiguous_pairs_are_resolved_next_to_ambiguous_ones() -> None:
    parts = [part("a", to="+84900000001"), part("b"), part("c")]
    receipts = [receipt("ra", to="+84900000001"), receipt("rb")]
    assert match(parts, receipts) == {"a": "ra"}

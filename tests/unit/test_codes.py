"""Dossier codes, short codes and secrets: normalisation of sloppy typing, checks, alphabets."""

from __future__ import annotations

import random
import secrets
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.codes import (
    CROCKFORD,
    SECRET_ALPHABET,
    SECRET_LENGTH,
    canonical_code,
    display_short_code,
    fold,
    is_short_code,
    looks_like_code,
    make_secret,
    new_short_code,
    normalise_secret,
    short_code,
)
from gateway.core.errors import InvalidCode

CODE = "000.00.20.H57-240423-0001"

codes = st.builds(
    lambda a, b, c, d, date, seq: f"{a}.{b}.{c}.{d}-{date}-{seq}",
    st.text("0123456789", min_size=3, max_size=3),
    st.text("0123456789", min_size=2, max_size=2),
    st.text("0123456789", min_size=2, max_size=2),
    st.builds(
        lambda x, y: x + y, st.sampled_from("GH"), st.text("0123456789", min_size=2, max_size=2)
    ),
    st.text("0123456789", min_size=6, max_size=6),
    st.text("0123456789", min_size=4, max_size=6),
)


def sloppy(code: str, rnd: random.Random) -> str:
    """The code as a person might type it on a phone."""
    out = []
    for ch in code:
        if ch in ".-" and rnd.random() < 0.5:
            out.append(rnd.choice(["", " ", "  ", "/", "_"]))
            continue
        if ch == "0" and rnd.random() < 0.3:
            ch = rnd.choice("Oo")
        elif ch == "1" and rnd.random() < 0.3:
            ch = rnd.choice("IiLl")
        elif rnd.random() < 0.3:
            ch = ch.lower()
        out.append(ch)
        if rnd.random() < 0.05:
            out.append(" ")
    return " " * rnd.randint(0, 2) + "".join(out) + " " * rnd.randint(0, 2)


@given(codes, st.randoms(use_true_random=False))
def test_a_sloppily_typed_code_folds_like_the_real_one(code: str, rnd: random.Random) -> None:
    assert fold(sloppy(code, rnd)) == fold(code)


@given(codes)
def test_folded_codes_are_recognised_as_codes(code: str) -> None:
    assert looks_like_code(code)
    assert looks_like_code(code.replace(".", "").replace("-", " ").lower())


def test_the_example_folds_to_letters_and_digits_only() -> None:
    assert fold("ooo.OO.2o.h57 - 24O423 - OOOl") == "0000020H572404230001"
    assert fold(CODE) == "0000020H572404230001"


@given(codes)
def test_canonical_code_accepts_the_national_pattern_in_any_case(code: str) -> None:
    assert canonical_code(f"  {code.lower()} ") == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "000.00.20.H57",
        "000.00.20.H57-240423",
        "0000020H572404230001",
        "000.00.20.H57-24O423-0001",
        "000.00.20.H57-240423-001",
        "000.00.20.H57-240423-0001-1",
        "HS 000.00.20.H57-240423-0001",
    ],
)
def test_canonical_code_refuses_anything_else(text: str) -> None:
    with pytest.raises(InvalidCode):
        canonical_code(text)


@given(st.integers(min_value=1, max_value=2**30 - 1))
def test_short_codes_carry_a_valid_check_character(n: int) -> None:
    code = short_code(n)
    assert len(code) == 7
    assert set(code) <= set(CROCKFORD)
    assert fold(code) == code  # folding never changes a short code
    assert is_short_code(code)
    assert is_short_code(display_short_code(code).lower())


@given(st.integers(min_value=1, max_value=2**30 - 1), st.integers(0, 6), st.sampled_from(CROCKFORD))
def test_any_single_typo_in_a_short_code_is_caught(n: int, position: int, replacement: str) -> None:
    code = short_code(n)
    typo = code[:position] + replacement + code[position + 1 :]
    assert is_short_code(typo) == (typo == code)


def test_short_codes_are_distinct_and_not_sequential() -> None:
    made = [short_code(n) for n in range(1, 20001)]
    assert len(set(made)) == len(made)
    assert made[0][:4] != made[1][:4]


def test_short_code_counter_must_be_in_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        short_code(0)
    with pytest.raises(ValueError, match="out of range"):
        short_code(2**30)


def test_secrets_use_only_unambiguous_characters() -> None:
    rnd = random.Random(7)
    secrets = {make_secret(rnd.randrange) for _ in range(2000)}
    assert len(secrets) == 2000
    for secret in secrets:
        assert len(secret) == SECRET_LENGTH >= 6
        assert set(secret) <= set(SECRET_ALPHABET)
    assert not set("01OILU") & set(SECRET_ALPHABET)


@given(st.text(alphabet=string.ascii_letters + string.digits + " -", max_size=20))
def test_normalised_secrets_are_upper_case_letters_and_digits(text: str) -> None:
    assert normalise_secret(text).isalnum() or normalise_secret(text) == ""
    assert normalise_secret(text) == normalise_secret(text).upper()


def test_new_short_codes_are_random_and_each_printed_half_holds_a_digit() -> None:
    draws = iter([0, 1])  # numbers 1 and 2: PAZC-GM6 has a half without a digit, CM4A-E9K not
    assert new_short_code(lambda _k: next(draws)) == "CM4AE9K"
    rolled = {new_short_code(secrets.randbelow) for _ in range(200)}
    assert len(rolled) >= 199  # two pairs alike among 200 of 5 * 10**8: about 1 in 10**9
    for code in rolled:
        assert is_short_code(code)
        assert any(c.isdigit() for c in code[:4])
        assert any(c.isdigit() for c in code[4:])

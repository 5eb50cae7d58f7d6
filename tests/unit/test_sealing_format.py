"""The sealed-value format (`gateway.store.sealing`): AES-GCM, a version byte, the master key's
id, and a context that opens the value only if it is exactly the one it was sealed with."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store.sealing import (
    HEADER_BYTES,
    NONCE_BYTES,
    VERSION,
    FixedKeys,
    MasterKey,
    SealBroken,
    encode_context,
    seal,
    sealed_by,
    unseal,
)

OLD, NEW = bytes(range(32)), bytes(range(1, 33))
CONTEXT = ("hoso api key", "dep_0123", "department", "tuphap", "", "ab12", "")

fields = st.lists(st.text(max_size=12), min_size=1, max_size=6)


@given(fields, fields)
def test_two_contexts_encode_alike_only_when_they_are_the_same_fields(
    a: list[str], b: list[str]
) -> None:
    assert (encode_context(a) == encode_context(b)) == (a == b)


def test_a_value_opens_with_its_context_and_names_its_key_and_version() -> None:
    keys = FixedKeys.of(OLD)
    sealed = seal(keys.sealing(), b"secret", CONTEXT)
    assert sealed[0] == VERSION
    assert sealed_by(sealed) == MasterKey.of(OLD).key_id
    assert unseal(keys, sealed, CONTEXT) == b"secret"
    assert (
        seal(keys.sealing(), b"secret", CONTEXT)[HEADER_BYTES:][:NONCE_BYTES]
        != sealed[HEADER_BYTES:][:NONCE_BYTES]
    )  # a fresh random nonce each time


@pytest.mark.parametrize(
    "other",
    [
        ("hoso api key", "dep_0123", "department", "diachinh", "", "ab12", ""),  # moved
        ("hoso api key", "dep_0123", "station", "tuphap", "", "ab12", ""),  # another kind
        ("hoso api key", "dep_0123", "department", "tuphap", "", "ab12", "2024-05-01"),
        ("hoso api key", "dep_0124", "department", "tuphap", "", "ab12", ""),  # another key id
        ("hoso api key", "dep_0123", "department", "tupha", "p", "ab12", ""),  # another split
    ],
)
def test_a_value_does_not_open_with_any_other_context(other: tuple[str, ...]) -> None:
    keys = FixedKeys.of(OLD)
    sealed = seal(keys.sealing(), b"secret", CONTEXT)
    with pytest.raises(SealBroken, match="does not verify"):
        unseal(keys, sealed, other)


def test_a_changed_byte_anywhere_breaks_the_seal() -> None:
    keys = FixedKeys.of(OLD)
    sealed = seal(keys.sealing(), b"secret", CONTEXT)
    for i in range(len(sealed)):
        changed = bytearray(sealed)
        changed[i] ^= 0x01
        with pytest.raises(SealBroken):
            unseal(keys, bytes(changed), CONTEXT)


def test_a_value_opens_under_whichever_held_key_sealed_it_and_no_other() -> None:
    under_old = seal(MasterKey.of(OLD), b"secret", CONTEXT)
    assert unseal(FixedKeys.of(NEW, OLD), under_old, CONTEXT) == b"secret"
    with pytest.raises(SealBroken, match="does not hold"):
        unseal(FixedKeys.of(NEW), under_old, CONTEXT)


def test_a_master_key_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MasterKey.of(bytes(31))

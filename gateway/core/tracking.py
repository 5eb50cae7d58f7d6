"""The tracking URL printed on receipts (text and QR code): the citizen lookup page with the
dossier's code filled in, ``<public URL>/?ma=<code>``.

Receipts print it with the short code; a URL with the full code (typed or from elsewhere) is the
same page. `code_in_url` reads the code back from any such URL, whatever its host, case or
encoding: a counter scanner reading the URL hands the code to the station.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

CODE_PARAM = "ma"  # the lookup form's field (gateway/http/lookup.py reads the same name)


def tracking_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/?{CODE_PARAM}={quote(code, safe='')}"


def code_in_url(text: str) -> str | None:
    """The value of the code parameter of an http(s) URL, as typed there; None if `text` is not
    such a URL or carries none."""
    stripped = text.strip()
    if not stripped.lower().startswith(("http://", "https://")) or any(
        c.isspace() for c in stripped
    ):
        return None
    try:
        query = urlsplit(stripped).query
    except ValueError:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.lower() == CODE_PARAM and value.strip():
            return value.strip()
    return None

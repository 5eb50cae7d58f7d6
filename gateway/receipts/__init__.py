"""Receipts (biên nhận) for thermal printers, and decoding of the barcodes printed on them.

`render_receipt` lays out a receipt as 1-bit PNG, SVG and HTML; `decode_image` and
`decode_frame` read the QR code (full dossier code) and the Code128 (short code) back from an
uploaded photo or a camera frame.
"""

from gateway.receipts.decode import Decoded, NotAnImage, decode_frame, decode_image
from gateway.receipts.layout import Receipt, render_receipt

__all__ = ["Decoded", "NotAnImage", "Receipt", "decode_frame", "decode_image", "render_receipt"]

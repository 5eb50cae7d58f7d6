"""Receipts (biên nhận) for thermal printers, and decoding of the barcodes printed on them.

`render_receipt` lays out a receipt as 1-bit PNG, SVG and HTML; `decode_image` and
`decode_frame` read the QR code (full dossier code) and the Code128 (short code) back from an
uploaded photo or a camera frame (`open_photo` then `decode_photo` when the header check and the
pixel decode must be told apart).
"""

from gateway.receipts.decode import Decoded, decode_frame, decode_image, decode_photo
from gateway.receipts.layout import PrintedReceipt, render_receipt
from gateway.receipts.photos import ImageTooLarge, NotAnImage, Photo, UnsupportedImage, open_photo

__all__ = [
    "Decoded",
    "ImageTooLarge",
    "NotAnImage",
    "Photo",
    "PrintedReceipt",
    "UnsupportedImage",
    "decode_frame",
    "decode_image",
    "decode_photo",
    "open_photo",
    "render_receipt",
]

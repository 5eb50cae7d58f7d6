"""What a citizen reads of a dossier's office, on its receipt and on the lookup page: the office's
name (accented), address, hotline, the lookup page's heading, and the number to text, which is
the office's first number, or the installation's (`[sms] number`) for an office that has none."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.offices import Office


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    heading: str
    address: str
    hotline: str
    number: str  # the number to text ("" when neither the office nor [sms] has one)


def contact_of(office: Office, sms_number: str) -> Contact:
    return Contact(
        name=office.name,
        heading=office.page_heading,
        address=office.address,
        hotline=office.hotline,
        number=office.number or sms_number,
    )

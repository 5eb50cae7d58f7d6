"""Which office an SMS is, and which modems it may leave from (pure).

A modem belongs to one office (`[[modems]] office = "..."`) or to the province's shared pool
(no office). The rules:

- A citizen's SMS is the office of the modem it arrived on; on a shared-pool modem, the office
  whose numbers include the modem's own number (when the modem tells it), else the default
  office (`inbound_office`).
- The reply leaves the way the question came (the routing rule's ``origin``), signed by the
  dossier's office when it is about one the citizen may see, else by the receiving office.
  In a province (more than one office), every SMS names the office that signs it: a template
  that does not name it (``{office}``) is sent with the office's name before it (`signed`).
- "The modems" of a routing rule (``modems``) are, for an office with modems of its own, its
  own pool (the queue `office_pool(office)`, which only its modems take from), then the
  province's shared pool only when the office allows it (`Office.shared_fallback`); for an
  office without modems, the shared pool (`expand`). Routing takes the shared pool only once
  every modem of the office is down; otherwise an SMS waits in its office's pool.
- A notification leaves from the modem its citizen last wrote to only when that modem is in
  the pool of the dossier's office: office A's notices never leave from office B's modems.

Queue names (`via`): "" the shared pool, a modem or link id its own queue, ``@<office>`` the
office's pool (ids of modems and links cannot hold ``@``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.core.offices import Office, sms_form
from gateway.core.routes import MessageKind, Route, RouteKind
from gateway.core.sms_text import Template

POOL_MARK = "@"


def office_pool(office: str) -> str:
    """The queue of an office's own modems."""
    return f"{POOL_MARK}{office}"


def pool_office(via: str) -> str | None:
    """The office whose pool a queue is, None for any other queue."""
    return via[len(POOL_MARK) :] if via.startswith(POOL_MARK) else None


def modem_pool(office: str) -> str:
    """The pool a modem of `office` ("" : the shared pool) takes work from, as a queue name."""
    return office_pool(office) if office else ""


def inbound_office(
    modem_office: str, own_number: str, office_of_number: Mapping[str, str], default: str
) -> str:
    """The office of a citizen's SMS: the modem's; on a shared-pool modem, the office that
    lists the modem's own number (as `office_of_number` spells it), else `default`."""
    if modem_office:
        return modem_office
    if own_number and own_number in office_of_number:
        return office_of_number[own_number]
    return default


def signature(office: Office, accented_if_free: bool) -> dict[str, str]:
    """The values that sign an office's SMS: ``{office}`` its SMS name (its accented name when
    accents may be sent and the SMS name is just the name unaccented: `render` strips it again
    unless accents are free), ``{hotline}`` its hotline, ``{number}`` the (first) number its
    citizens text."""
    name = office.sms_name
    if accented_if_free and office.sms_name == sms_form(office.name):
        name = office.name
    return {"office": name, "hotline": office.hotline, "number": office.number}


def signed(template: Template, several_offices: bool) -> Template:
    """The template as an office sends it: in a province (`several_offices`), one that does
    not name its office begins with it (``{office}: ``), so that a citizen who deals with two
    offices, or texts one about another's dossier, knows who answers; one office alone sends
    its templates as written."""
    if not several_offices or "office" in template.placeholders:
        return template
    return Template(template.name, "{office}: " + template.body, template.urgent)


def signing_office(receiving: str, dossier_office: str | None) -> str:
    """The office that signs a reply: the dossier's when the reply tells the citizen about one,
    else the office they wrote to."""
    return dossier_office or receiving


@dataclass(frozen=True, slots=True)
class Pools:
    """The modems' offices: modem id -> office ("" : the shared pool)."""

    modem_office: Mapping[str, str] = field(default_factory=dict)

    def pool_of(self, modem: str) -> str:
        return modem_pool(self.modem_office.get(modem, ""))

    def has_modems(self, office: str) -> bool:
        return bool(office) and office in self.modem_office.values()

    def members(self, via: str) -> list[str]:
        """The modems taking work from a pool queue ("" or ``@office``)."""
        return sorted(m for m in self.modem_office if self.pool_of(m) == via)

    def office_pools(self) -> list[str]:
        return sorted({office_pool(o) for o in self.modem_office.values() if o})


def expand(
    routes: Sequence[Route],
    origin: str,
    office: str,
    kind: MessageKind,
    pools: Pools,
    shared_fallback: bool,
) -> list[str]:
    """The queues a rule stands for, for an SMS of `office`, in order, each once (what
    `gateway.core.routes.queues` says for an installation without offices' modems)."""
    own = pools.has_modems(office)
    out: list[str] = []

    def add(via: str) -> None:
        if via not in out:
            out.append(via)

    for route in routes:
        if route.kind is RouteKind.ORIGIN:
            if not origin:
                continue
            if (
                kind is MessageKind.NOTIFICATION
                and origin in pools.modem_office
                and pools.pool_of(origin) != (office_pool(office) if own else "")
            ):
                continue  # another office's modem (or the shared pool's, for an office's notice)
            add(origin)
        elif route.kind is RouteKind.MODEMS:
            if own:
                add(office_pool(office))
                if shared_fallback:
                    add("")
            else:
                add("")
        else:
            add(route.target)
    return out

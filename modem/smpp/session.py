"""One SMPP 3.4 session (a TCP connection and its bind): the only user of smpplib.

smpplib encodes and decodes the PDUs and keeps the bind state and the sequence numbers (one
counter per session, 1 to 0x7FFFFFFF, wrapping). It has no window, no reconnection, and its
socket is not thread-safe (its issue #187; the ThreadSafeClient of PR #203 is unmerged), so the
link uses it from one thread: it writes submit_sm without waiting (`prepare_submit` gives the
sequence number the answer will carry, `send` writes it), and reads one PDU at a time when
select() says the socket is readable (`read`). Answers to the SMSC's requests (deliver_sm_resp,
enquire_link_resp, unbind_resp) are written by the link after it has done what they acknowledge.

Library errors become `LinkDown` (the connection is gone or unusable) or `BindRefused` (the SMSC
answered the bind with an error status).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from modem.smpp.errors import BindRefused, LinkDown

log = logging.getLogger(__name__)

# The deliver_sm fields `coding.read_deliver` looks at.
DELIVER_FIELDS = (
    "source_addr_ton",
    "source_addr_npi",
    "source_addr",
    "dest_addr_ton",
    "dest_addr_npi",
    "destination_addr",
    "esm_class",
    "data_coding",
    "short_message",
    "message_payload",
    "sar_msg_ref_num",
    "sar_total_segments",
    "sar_segment_seqnum",
    "receipted_message_id",
    "message_state",
)
BIND = {
    "transceiver": "bind_transceiver",
    "transmitter": "bind_transmitter",
    "receiver": "bind_receiver",
}
ESME_ROK = smpplib.consts.SMPP_ESME_ROK


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request PDU made and not yet written; its answer will carry `sequence`."""

    sequence: int
    pdu: object


@dataclass(frozen=True, slots=True)
class SmppAnswer:
    """A response PDU: submit_sm_resp, enquire_link_resp, unbind_resp, generic_nack."""

    command: str
    sequence: int
    status: int
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class SmppRequest:
    """A request from the SMSC: deliver_sm (with its fields), enquire_link, unbind."""

    command: str
    sequence: int
    fields: Mapping[str, object] = field(default_factory=dict)


class Session:
    def __init__(self, host: str, port: int, timeout: float, name: str) -> None:
        self.name = name
        self.mode = ""
        self._client = smpplib.client.Client(
            host,
            port,
            timeout=timeout,
            allow_unknown_opt_params=True,
            logger_name=f"modem.smpp.wire.{name}",
        )

    def open(self, mode: str, *, system_id: str, password: str, system_type: str = "") -> None:
        """Connects and binds as `mode` (transceiver, transmitter or receiver)."""
        try:
            self._client.connect()
            # Small PDUs, each waited for: no Nagle delay behind the SMSC's delayed ACKs.
            self._client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._client._bind(
                BIND[mode],
                system_id=system_id,
                password=password,
                system_type=system_type,
            )
        except smpplib.exceptions.PDUError as exc:
            self.close()
            status = exc.args[1] if len(exc.args) > 1 else -1
            raise BindRefused(self.name, int(status)) from exc
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            self.close()
            raise LinkDown(f"{self.name}: cannot connect and bind: {exc or 'refused'}") from exc
        self.mode = mode
        log.info("smpp.bound session=%s mode=%s", self.name, mode)

    def fileno(self) -> int:
        sock = self._client._socket
        if sock is None:
            raise LinkDown(f"{self.name}: not connected")
        return int(sock.fileno())

    def _send(self, pdu: object) -> None:
        try:
            self._client.send_pdu(pdu)
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as exc:
            raise LinkDown(f"{self.name}: send failed: {exc or 'connection lost'}") from exc

    def prepare_submit(self, fields: Mapping[str, object]) -> Outgoing:
        """A submit_sm with its sequence number, to record before it is written (`send`)."""
        pdu = smpplib.smpp.make_pdu("submit_sm", client=self._client, **fields)
        return Outgoing(int(pdu.sequence), pdu)

    def send(self, outgoing: Sequence[Outgoing]) -> None:
        """Writes prepared PDUs, all in one write."""
        try:
            data = b"".join(o.pdu.generate() for o in outgoing)  # type: ignore[attr-defined]
            sock = self._client._socket
            if sock is None:
                raise LinkDown(f"{self.name}: not connected")
            sock.sendall(data)
        except OSError as exc:
            raise LinkDown(f"{self.name}: send failed: {exc}") from exc

    def enquire_link(self) -> int:
        pdu = smpplib.smpp.make_pdu("enquire_link", client=self._client)
        self._send(pdu)
        return int(pdu.sequence)

    def answer(self, request: SmppRequest, status: int = ESME_ROK) -> None:
        """The response to the SMSC's request (deliver_sm_resp, enquire_link_resp, unbind_resp)."""
        pdu = smpplib.smpp.make_pdu(request.command + "_resp", client=self._client, status=status)
        pdu.sequence = request.sequence
        self._send(pdu)

    def read(self) -> SmppAnswer | SmppRequest | None:
        """One PDU (call it when the socket is readable); None for one the link does not need."""
        try:
            pdu = self._client.read_pdu()
        except TimeoutError as exc:
            raise LinkDown(f"{self.name}: a PDU stopped half-way") from exc
        except (
            smpplib.exceptions.ConnectionError,
            smpplib.exceptions.PDUError,
            smpplib.exceptions.UnknownCommandError,
            OSError,
        ) as exc:
            raise LinkDown(f"{self.name}: read failed: {exc or 'connection closed'}") from exc
        if pdu is None:
            return None
        command = str(pdu.command)
        if command in ("deliver_sm", "enquire_link", "unbind"):
            fields = (
                {k: getattr(pdu, k, None) for k in DELIVER_FIELDS}
                if command == "deliver_sm"
                else {}
            )
            return SmppRequest(command, int(pdu.sequence), fields)
        if command.endswith("_resp") or command == "generic_nack":
            raw = getattr(pdu, "message_id", None)
            message_id = (
                raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw or "")
            )
            return SmppAnswer(
                command, int(pdu.sequence), int(pdu.status or 0), message_id.strip("\0 ")
            )
        log.info("smpp.ignored session=%s command=%s", self.name, command)
        return None

    def unbind(self) -> None:
        """Asks the SMSC to end the session (its answer is not waited for)."""
        with contextlib.suppress(LinkDown):
            self._send(smpplib.smpp.make_pdu("unbind", client=self._client))

    def close(self) -> None:
        self._client.state = (
            smpplib.consts.SMPP_CLIENT_STATE_OPEN
        )  # no "closed while bound" warning
        with contextlib.suppress(OSError):
            self._client.disconnect()

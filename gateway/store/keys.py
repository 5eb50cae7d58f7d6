"""Every Redis key hoso uses is built here, and only here."""

from __future__ import annotations

PREFIX = "hoso"


def dossier(code: str) -> str:
    """Hash: the dossier's current state."""
    return f"{PREFIX}:dossier:{code}"


def history(code: str) -> str:
    """List: every event of the dossier, oldest first, append-only (JSON per entry)."""
    return f"{PREFIX}:dossier:{code}:history"


def event_ids(code: str) -> str:
    """Hash: event id -> the answer given for it (idempotency of department events)."""
    return f"{PREFIX}:dossier:{code}:events"


def lookup() -> str:
    """Hash: folded full code or short code -> the dossier's code."""
    return f"{PREFIX}:lookup"


def phone(e164: str) -> str:
    """Set: codes of the dossiers that name this phone."""
    return f"{PREFIX}:phone:{e164}"


def changes() -> str:
    """Stream: every state change, in order; what notifications are made from."""
    return f"{PREFIX}:changes"


def api_key(key_id: str) -> str:
    """Hash: one API credential (kind, owner, sealed secret...)."""
    return f"{PREFIX}:apikey:{key_id}"


def api_keys_of(kind: str, owner: str) -> str:
    """Set: key ids of one department or station."""
    return f"{PREFIX}:apikeys:{kind}:{owner}"


def used_signature(signature: str) -> str:
    """String with a TTL: a signature seen once (replay protection)."""
    return f"{PREFIX}:sig:{signature}"


def idempotency(client: str, key: str) -> str:
    """String with a TTL: the state and answer of one Idempotency-Key of one client."""
    return f"{PREFIX}:idem:{client}:{key}"


def ip_rate(purpose: str, address: str, window: int) -> str:
    """Counter with a TTL: unsigned requests of one IP address in one window (e.g. decoding)."""
    return f"{PREFIX}:ip-rate:{purpose}:{address}:{window}"


def rate(client: str, window: int) -> str:
    """Counter with a TTL: requests of one client in one window."""
    return f"{PREFIX}:rate:{client}:{window}"


# -- outbound SMS ------------------------------------------------------------------------------


def sms_prefix() -> str:
    """Prefix of the hash of one outbound SMS (the scripts append the id)."""
    return f"{PREFIX}:sms:"


def sms(message_id: str) -> str:
    """Hash: one outbound SMS, its state and its parts' references."""
    return sms_prefix() + message_id


def sms_attempts(message_id: str) -> str:
    """List: the append-only attempt log of one outbound SMS (JSON entries, oldest first); the
    scripts append the id to `sms_attempts("")`."""
    return f"{PREFIX}:sms-attempts:{message_id}"


def sms_counter() -> str:
    return f"{PREFIX}:counter:sms"


def sms_dedupe(key: str) -> str:
    """String: the id of the SMS enqueued under a caller's dedupe key (jobs run at least once)."""
    return f"{PREFIX}:sms-dedupe:{key}"


def outbox_shared() -> str:
    """Sorted set: SMS any modem may send, by priority then age."""
    return f"{PREFIX}:outbox:shared"


def outbox_pinned(modem: str) -> str:
    """Sorted set: SMS that should leave through this modem (replies go out where they came in)."""
    return f"{PREFIX}:outbox:pinned:{modem}"


def outbox_delayed() -> str:
    """Sorted set: SMS waiting for a retry time (score: when, in ms)."""
    return f"{PREFIX}:outbox:delayed"


def outbox_inflight(modem: str) -> str:
    """Set: SMS this modem has claimed and not finished submitting."""
    return f"{PREFIX}:outbox:inflight:{modem}"


def outbox_wake(modem: str) -> str:
    """List: a nudge for the modem's owner thread that work is waiting."""
    return f"{PREFIX}:outbox:wake:{modem}"


def delivery_ref(modem: str, reference: int, recipient: str) -> str:
    """String with a TTL: 'id:part' of the part sent with this TP-MR to this recipient."""
    return f"{PREFIX}:dr:{modem}:{reference}:{recipient}"


# -- inbound SMS -------------------------------------------------------------------------------


def inbound_prefix() -> str:
    return f"{PREFIX}:inbound:"


def inbound(message_id: str) -> str:
    """Hash: one inbound SMS, reassembled: sender, text, modem, times."""
    return inbound_prefix() + message_id


def inbound_counter() -> str:
    return f"{PREFIX}:counter:inbound"


def inbound_pending() -> str:
    """List: ids of inbound SMS persisted but not yet handed to the workers (a job)."""
    return f"{PREFIX}:inbound-pending"


def inbound_unanswered() -> str:
    """Sorted set: inbound SMS handed to the workers and not answered yet (score: when, ms)."""
    return f"{PREFIX}:inbound-unanswered"


def inbound_part_seen(modem: str, digest: str) -> str:
    """String with a TTL: this stored PDU was persisted (a delete from the SIM may fail)."""
    return f"{PREFIX}:inbound-part-seen:{modem}:{digest}"


def inbound_seen(digest: str) -> str:
    """String with a TTL: a message with this (sender, SMSC time, text) was taken in."""
    return f"{PREFIX}:inbound-seen:{digest}"


def reassembly(modem: str, sender: str, ref: int, total: int) -> str:
    """Hash: the parts so far of one concatenated inbound SMS (part number -> JSON)."""
    return f"{PREFIX}:reassembly:{modem}:{sender}:{ref}:{total}"


def reassembly_index() -> str:
    """Sorted set: reassembly hashes by when their first part came (for the timeout)."""
    return f"{PREFIX}:reassembly-index"


# -- the modem pool ----------------------------------------------------------------------------


def modem_config() -> str:
    """Hash: modem id -> JSON of the live settings administrators changed (over the file's)."""
    return f"{PREFIX}:modems:config"


def modem_offices() -> str:
    """Hash: modem id -> the office its modem service's file gives it ("": the shared pool), as
    the service last noted it (workers route by it: their own file may name no modem)."""
    return f"{PREFIX}:modems:offices"


def modem_ids() -> str:
    """Set: every modem id any modem service has driven (for dashboards)."""
    return f"{PREFIX}:modems:ids"


def modem_service(instance: str) -> str:
    """Hash with a TTL: a running modem service's heartbeat (its rounds, the modems it drives)."""
    return f"{PREFIX}:modem-service:{instance}"


def modem_health(modem: str) -> str:
    """Hash with a TTL: the latest health a modem's owner published."""
    return f"{PREFIX}:modem:{modem}:health"


def modem_balance(modem: str) -> str:
    """Hash: the SIM's last prepaid balance reading (USSD): vnd, valid_until, read_ms, low..."""
    return f"{PREFIX}:modem:{modem}:balance"


def modem_carriers(pool: str = "") -> str:
    """Hash: modem id -> the carrier of its SIM, as its owner last claimed with it; one per pool
    ("" the shared one, ``@<office>`` an office's): a reply spills only to a modem of its pool."""
    return f"{PREFIX}:modems:carriers" + (f":{pool}" if pool else "")


def modem_sent_times(modem: str) -> str:
    """Sorted set: when this modem's parts went out in the last hour (sliding send caps)."""
    return f"{PREFIX}:modem:{modem}:sent-times"


def modem_last_report(modem: str) -> str:
    """String with a TTL: when this modem last had a status report (ms): its reports come."""
    return f"{PREFIX}:modem:{modem}:last-report"


def modem_last_reference(modem: str) -> str:
    """String: the TP-MR of the last part this modem's network accepted (the next one's guess)."""
    return f"{PREFIX}:modem:{modem}:last-mr"


def modem_owner(modem: str) -> str:
    """String with a TTL: the modem service instance that drives this modem (a lease)."""
    return f"{PREFIX}:modem:{modem}:owner"


def modem_quarantine(modem: str) -> str:
    """String: why the SIM is quarantined (absent: it is not)."""
    return f"{PREFIX}:modem:{modem}:quarantine"


def modem_error_burst(modem: str) -> str:
    """Sorted set: times (ms) of the errors that count towards quarantine."""
    return f"{PREFIX}:modem:{modem}:error-burst"


def modem_sent(modem: str, window: str) -> str:
    """Counter with a TTL: parts sent in one minute / hour / day window."""
    return f"{PREFIX}:modem:{modem}:sent:{window}"


# -- citizens' SMS: opt-outs and limits ----------------------------------------------------------


def opted_out() -> str:
    """Set: phones (E.164) that asked for no more notifications (HUY / TD / STOP)."""
    return f"{PREFIX}:opted-out"


def sender_replies(phone: str, hour: str) -> str:
    """Counter with a TTL: replies sent to one phone in one hour."""
    return f"{PREFIX}:sender-replies:{phone}:{hour}"


def sender_limit_notice(phone: str, hour: str) -> str:
    """String with a TTL: the one 'too many requests' notice of this hour was sent."""
    return f"{PREFIX}:sender-limit-notice:{phone}:{hour}"


def sender_preferences(phone: str, hour: str) -> str:
    """Counter with a TTL: confirmations of HUY / DK sent to one phone in one hour."""
    return f"{PREFIX}:sender-preferences:{phone}:{hour}"


def sender_modem(phone: str) -> str:
    """String with a TTL: the modem this phone last wrote to."""
    return f"{PREFIX}:sender-modem:{phone}"


def reply_budget(day: str) -> str:
    """Counter with a TTL: replies sent by the office in one day."""
    return f"{PREFIX}:reply-budget:{day}"


def templates() -> str:
    """Hash: template name -> JSON {body, urgent} of the SMS texts administrators edited."""
    return f"{PREFIX}:templates"


def offices() -> str:
    """Hash: office id -> JSON of its fields (name, SMS name, hotline, numbers, address...)."""
    return f"{PREFIX}:offices"


def stations() -> str:
    """Hash: station id -> JSON of its settings (desk, implied status, allowed hours, name)."""
    return f"{PREFIX}:stations"


# -- notifications (gateway/store/notices.py, worker/notifier.py) ---------------------------------


def notice(code: str) -> str:
    """Hash: the pending notice of one dossier (status, version, first_ms, last_ms, seq)."""
    return f"{PREFIX}:notice:{code}"


def notices_due() -> str:
    """Sorted set: dossiers with a pending notice, by when it may go (ms; a lease while sent)."""
    return f"{PREFIX}:notices:due"


def notified(code: str) -> str:
    """Hash: what the dossier's phones were told -> ms: a status code, or a date notice for one
    appointment (`due_warning@<due ms>`, `rescheduled@...`, `overdue@...`; without `@...`:
    written before appointments could change)."""
    return f"{PREFIX}:notified:{code}"


def date_notices_due() -> str:
    """Sorted set: dossiers whose date notices need a look, by when (ms) (notices.py)."""
    return f"{PREFIX}:notices:dates"


def open_by_due() -> str:
    """Sorted set: every dossier not settled, by its appointment in force (ms), kept by the
    dossier scripts (store/scripts.py) whatever was sent: the overdue list's and the charts'
    index. (The key's name is older than that.)"""
    return f"{PREFIX}:notices:open-by-due"


def dossier_pattern() -> str:
    """SCAN pattern of dossier hashes (it also matches their :history and :events keys)."""
    return dossier("*")


# -- metrics (gateway/store/metrics.py; read by GET /metrics) --------------------------------------


def metrics_modems() -> str:
    """Set: modem ids that recorded metrics (with `modem_ids()`: the modems /metrics lists)."""
    return f"{PREFIX}:metrics:modems"


def metrics_modem(modem: str) -> str:
    """Hash: counters of one modem: sent (parts), received (messages), error:<class>."""
    return f"{PREFIX}:metrics:modem:{modem}"


def metrics_cmgs(modem: str) -> str:
    """Hash: AT+CMGS latency histogram of one modem: le:<bound> (not cumulative), sum, count."""
    return f"{PREFIX}:metrics:modem:{modem}:cmgs"


def metrics_replies() -> str:
    """Hash: template name -> replies to citizens' SMS enqueued with it."""
    return f"{PREFIX}:metrics:replies"


def metrics_notifications() -> str:
    """Counter: notification SMS enqueued (one per phone)."""
    return f"{PREFIX}:metrics:notifications"


def metrics_scans() -> str:
    """Hash: station id -> scans recorded (repeats not counted)."""
    return f"{PREFIX}:metrics:scans"


# -- admin users (gateway/store/users.py) --------------------------------------------------------


def admin_user(username: str) -> str:
    """Hash: one administrator account (role, password hash, session generation)."""
    return f"{PREFIX}:admin:user:{username}"


def admin_users() -> str:
    """Set: every administrator account's username."""
    return f"{PREFIX}:admin:users"


def admin_session(session_id: str) -> str:
    """String with a TTL: "<generation>:<username>" of a dashboard session (deleted at logout;
    dead once the account's generation moved on, at a password change)."""
    return f"{PREFIX}:admin:session:{session_id}"


def admin_login_pair(digest: str) -> str:
    """Hash with a TTL: failed logins of one (typed username, address) pair and when the next
    try may come (gateway/store/login_throttle.py); `digest` hides both."""
    return f"{PREFIX}:admin:login:pair:{digest}"


def admin_login_address(digest: str) -> str:
    """Hash with a TTL: failed logins from one address in the current period, and its end."""
    return f"{PREFIX}:admin:login:address:{digest}"


# -- SMS indexes (gateway/store/outbox.py) -------------------------------------------------------


def sms_by_phone(phone: str) -> str:
    """Sorted set: ids of the SMS sent to one number (normalised), scored by creation time (ms)."""
    return f"{PREFIX}:sms-by-phone:{phone}"


def sms_by_dossier(code: str) -> str:
    """Sorted set: ids of the SMS about one dossier, scored by creation time (ms)."""
    return f"{PREFIX}:sms-by-dossier:{code}"


def modem_pin_refused(modem: str) -> str:
    """String: a digest of the PIN this modem's SIM refused (never tried again; absent: none)."""
    return f"{PREFIX}:modem:{modem}:pin-refused"


# -- carrier links (SMPP: gateway/store/links.py, gateway/store/outbox.py) and routing ----------


def smpp_message(link: str, message_id: str) -> str:
    """String with a TTL: 'id:part' of the part the link's SMSC accepted under this message id
    (the id as `links.canonical_id` writes it)."""
    return f"{PREFIX}:smpp-msg:{link}:{message_id}"


def link_ids() -> str:
    """Set: every carrier link id a link process has run (for dashboards and /metrics)."""
    return f"{PREFIX}:links:ids"


def link_health(link: str) -> str:
    """Hash with a TTL: the latest health a link process published."""
    return f"{PREFIX}:link:{link}:health"


def link_owner(link: str) -> str:
    """String with a TTL: the link process instance that drives this link (a lease)."""
    return f"{PREFIX}:link:{link}:owner"


def link_orphans(link: str) -> str:
    """Sorted set: receipts for message ids the link did not know when they came (JSON), by
    when (ms): matched later (an answer that came after its receipt; a submit a crash left
    unanswered) or dropped after a day."""
    return f"{PREFIX}:link:{link}:orphan-receipts"


def metrics_link(link: str) -> str:
    """Hash: counters of one carrier link: submitted, throttled, receipts:<state>, received,
    error:<status>, reconnects, resent, resolved."""
    return f"{PREFIX}:metrics:link:{link}"


def routes() -> str:
    """Hash: "<office>|<kind>" -> the routes administrators set ("link:brand, modems"), over
    the configuration's [[routes]]."""
    return f"{PREFIX}:routes"


# -- the service index's figures (gateway/store/province.py, kept by store/scripts.py) ----------
# The dossier scripts build these names from the prefix (`tally` in scripts.py) exactly as the
# functions below do: `kind` is "o" (an office: `name` empty), "p" (a procedure of the office:
# `name` its code) or "d" (a desk of the office: `name` the desk, empty before any handoff).


def province_prefix() -> str:
    return f"{PREFIX}:province:"


def _province_name(kind: str, office: str, name: str) -> str:
    return f"{kind}:{office}" if kind == "o" else f"{kind}:{office}:{name}"


def province_figures(kind: str, office: str, name: str = "") -> str:
    """Hash: finished dossiers of an office, procedure or desk (f finished, t on time, s seconds
    of processing summed, h1..hN the histogram's buckets)."""
    return f"{province_prefix()}fig:{_province_name(kind, office, name)}"


def province_open(kind: str, office: str, name: str = "") -> str:
    """Sorted set: the open dossiers of an office, procedure or desk, by appointment (ms)."""
    return f"{province_prefix()}open:{_province_name(kind, office, name)}"


def province_offices() -> str:
    """Set: the offices with counted dossiers."""
    return f"{province_prefix()}offices"


def province_procedures(office: str) -> str:
    """Hash: procedure code -> name, of the office's counted dossiers."""
    return f"{province_prefix()}procedures:{office}"


def province_desks(office: str) -> str:
    """Set: the desks the office's counted dossiers have waited at ("" before any handoff)."""
    return f"{province_prefix()}desks:{office}"

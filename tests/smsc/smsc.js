#!/usr/bin/env node
// The SMSC that hoso's SMPP tests and benchmarks talk to: the server side of node-smpp (the npm
// package `smpp`, pinned in package-lock.json), with the behaviour of a carrier's SMSC around it.
//
//   node tests/smsc/smsc.js --port P --control-port C --ledger FILE --user ID:PASSWORD ...
//       [--host 127.0.0.1] [--ids hex|decimal] [--receipts text|tlv|both|none]
//       [--receipt-delay MS] [--packed] [--max-tps N]
//
// - Binds (transmitter, receiver, transceiver) are accepted for the configured users only:
//   ESME_RINVSYSID for an unknown system id, ESME_RINVPASWD for a wrong password.
// - submit_sm gets a message id (hex or decimal, unique across restarts); with
//   registered_delivery a delivery receipt follows (deliver_sm, esm_class 0x04) with the
//   standard receipt text ("id:... sub:001 dlvrd:001 submit date:... done date:... stat:DELIVRD
//   err:000 text:...") and/or the receipted_message_id and message_state TLVs, to a bound
//   receiver or transceiver of the same system id, kept until one is bound (store and forward).
// - Mobile-originated SMS (POST /mo) go out as deliver_sm: single, or long by UDH (esm_class 0x40),
//   by SAR TLVs or in message_payload; a deliver_sm is sent again until it is answered with
//   ESME_ROK (after a refusal, a lost connection, or no answer within 10 s).
// - On command it refuses the next submits with ESME_RTHROTTLED or ESME_RMSGQFUL (POST /throttle),
//   and with --max-tps it throttles any submit beyond N a second, as carriers do.
// - It keeps a ledger of what it received and answered: one JSON object per line, appended with a
//   write(2) per entry (a kill -9 of any process loses none), read back with GET /ledger.
// - data_coding 0 is the GSM default alphabet one septet per octet, or packed with --packed.
//
// Control (HTTP on --control-port, JSON bodies): GET /ledger?from=N, GET /status, POST /mo,
// POST /throttle, POST /fate, POST /receipts. It prints {"smpp": port, "control": port} on stdout
// once both listen. Kill it and start it again on the same ports and ledger to restart it.
'use strict';

const fs = require('fs');
const http = require('http');
const smpp = require('smpp');

// -- arguments ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1', port: 0, controlPort: 0, ledger: null, users: {}, ids: 'hex',
    receipts: 'both', receiptDelay: 0, packed: false, maxTps: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case '--host': opts.host = value(); break;
      case '--port': opts.port = Number(value()); break;
      case '--control-port': opts.controlPort = Number(value()); break;
      case '--ledger': opts.ledger = value(); break;
      case '--user': {
        const [id, ...rest] = value().split(':');
        opts.users[id] = rest.join(':');
        break;
      }
      case '--ids': opts.ids = value(); break;
      case '--receipts': opts.receipts = value(); break;
      case '--receipt-delay': opts.receiptDelay = Number(value()); break;
      case '--packed': opts.packed = true; break;
      case '--max-tps': opts.maxTps = Number(value()); break;
      default: throw new Error(`unknown argument ${name}`);
    }
  }
  if (!opts.ledger) throw new Error('--ledger FILE is required');
  if (!['hex', 'decimal'].includes(opts.ids)) throw new Error('--ids hex|decimal');
  if (!['text', 'tlv', 'both', 'none'].includes(opts.receipts)) {
    throw new Error('--receipts text|tlv|both|none');
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// -- the ledger ----------------------------------------------------------------------------------

const ledger = [];
if (fs.existsSync(opts.ledger)) {  // a restart: what the SMSC received before is still received
  for (const line of fs.readFileSync(opts.ledger, 'utf8').split('\n')) {
    if (line.trim()) {
      try { ledger.push(JSON.parse(line)); } catch (e) { /* a line cut by a kill */ }
    }
  }
}
const ledgerFd = fs.openSync(opts.ledger, 'a');

function record(entry) {
  entry.at = Date.now();
  ledger.push(entry);
  fs.writeSync(ledgerFd, JSON.stringify(entry) + '\n');
}

// -- the raw octets of short_message (node-smpp decodes them; the ledger wants both) -------------

const messageFilter = smpp.filters.message;
const decodeMessage = messageFilter.decode;
messageFilter.decode = function (value, skipUdh) {
  const result = decodeMessage.call(this, value, skipUdh);
  if (Buffer.isBuffer(value) && result && typeof result === 'object') {
    Object.defineProperty(result, 'raw', { value: Buffer.from(value), enumerable: false });
  }
  return result;
};

// -- GSM 03.38 packed septets (node-smpp reads data_coding 0 one septet per octet) -------------

function unpackSeptets(data) {
  let acc = 0n;
  for (let i = data.length - 1; i >= 0; i--) acc = (acc << 8n) | BigInt(data[i]);
  const count = Math.floor((data.length * 8) / 7);
  const septets = [];
  for (let i = 0; i < count; i++) septets.push(Number((acc >> BigInt(7 * i)) & 0x7Fn));
  if (count && (data.length * 8) % 7 === 0 && septets[count - 1] === 0x0D) {
    septets.pop();  // a CR filling the last octet's spare 7 bits (TS 23.038 6.1.2.3.1)
  }
  return septets;
}

function decodeText(dataCoding, octets, udhLength) {
  const coding = dataCoding & 0x0F;
  if (coding === 8) {
    const body = Buffer.from(octets.slice(udhLength));
    const even = body.slice(0, body.length & ~1);
    even.swap16();
    return even.toString('utf16le');
  }
  if (coding === 3) return smpp.encodings.LATIN1.decode(octets.slice(udhLength));
  if (coding === 0 && opts.packed) {
    // The header and its fill bits take whole septets at the start of the packed stream.
    const skip = udhLength ? Math.ceil((udhLength * 8) / 7) : 0;
    return smpp.gsmCoder.decode(Buffer.from(unpackSeptets(octets).slice(skip)), 0x00);
  }
  return smpp.encodings.ASCII.decode(octets.slice(udhLength));  // node-smpp's "ASCII": GSM 03.38
}

// -- message ids, unique across restarts -----------------------------------------------------------

let idCounter = 0;
const idEpoch = Date.now();
function nextId() {
  idCounter += 1;
  if (opts.ids === 'decimal') return (BigInt(idEpoch) * 1000000n + BigInt(idCounter)).toString();
  return idEpoch.toString(16) + idCounter.toString(16).padStart(6, '0');
}

// -- sessions and store-and-forward of deliver_sm ----------------------------------------------------

const sessions = new Set();
const pending = [];  // {systemId, kind, fields, label, inFlight: session|null, tries}
let throttle = { count: 0, status: 'ESME_RTHROTTLED' };
let holdReceipts = false;
const fates = {};  // destination_addr -> receipt stat (default DELIVRD)
const submitTimes = [];  // for --max-tps: times (ms) of the submits in the last second

const STATES = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6,
  UNKNOWN: 7, REJECTD: 8 };

function canReceive(session) {
  return session.bound && (session.mode === 'receiver' || session.mode === 'transceiver');
}

function canTransmit(session) {
  return session.bound && (session.mode === 'transmitter' || session.mode === 'transceiver');
}

function pump() {
  for (const item of pending) {
    if (item.inFlight || (item.kind === 'receipt' && holdReceipts) || item.notBefore > Date.now()) {
      continue;
    }
    const target = [...sessions].find((s) => canReceive(s) && s.systemId === item.systemId);
    if (!target) continue;
    item.inFlight = target;
    item.tries += 1;
    const sent = target.deliver_sm(Object.assign({}, item.fields), (resp) => {
      clearTimeout(item.timer);
      if (item.inFlight !== target) return;
      item.inFlight = null;
      record({ event: 'deliver_sm_resp', kind: item.kind, label: item.label,
        system_id: item.systemId, status: resp.command_status, tries: item.tries });
      if (resp.command_status === 0) {
        pending.splice(pending.indexOf(item), 1);
      } else {
        item.notBefore = Date.now() + 500;
        setTimeout(pump, 510);
      }
      pump();
    });
    if (!sent) {
      item.inFlight = null;
      continue;
    }
    record({ event: 'deliver_sm', kind: item.kind, label: item.label, system_id: item.systemId,
      tries: item.tries });
    item.timer = setTimeout(() => {  // no answer: send it again
      if (item.inFlight === target) {
        item.inFlight = null;
        pump();
      }
    }, 10000);
  }
}

function dateField(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return two(d.getFullYear() % 100) + two(d.getMonth() + 1) + two(d.getDate()) +
    two(d.getHours()) + two(d.getMinutes()) + two(d.getSeconds());
}

function queueReceipt(systemId, submit, messageId, text) {
  const stat = fates[submit.destination_addr] || 'DELIVRD';
  const now = Date.now();
  const fields = {
    source_addr_ton: submit.dest_addr_ton, source_addr_npi: submit.dest_addr_npi,
    source_addr: submit.destination_addr,
    dest_addr_ton: submit.source_addr_ton, dest_addr_npi: submit.source_addr_npi,
    destination_addr: submit.source_addr,
    esm_class: 0x04, data_coding: 0,
  };
  if (opts.receipts === 'text' || opts.receipts === 'both') {
    const done = stat === 'DELIVRD' ? '001' : '000';
    fields.short_message = Buffer.from(
      `id:${messageId} sub:001 dlvrd:${done} submit date:${dateField(now)} done date:` +
      `${dateField(now)} stat:${stat} err:${stat === 'DELIVRD' ? '000' : '001'} ` +
      `text:${text.slice(0, 20)}`, 'latin1');
  } else {
    fields.short_message = Buffer.alloc(0);
  }
  if (opts.receipts === 'tlv' || opts.receipts === 'both') {
    fields.receipted_message_id = messageId;
    fields.message_state = STATES[stat] || STATES.UNKNOWN;
  }
  const item = { systemId, kind: 'receipt', label: messageId, fields, inFlight: null, tries: 0,
    notBefore: now + opts.receiptDelay };
  pending.push(item);
  if (opts.receiptDelay) setTimeout(pump, opts.receiptDelay + 1);
}

function utf16be(text) {
  const buffer = Buffer.from(text, 'utf16le');
  buffer.swap16();
  return buffer;
}

function chunks(text, coding, size) {
  // Never split a UTF-16 surrogate pair (UCS-2) or a GSM escape pair (GSM-7).
  const out = [];
  let current = '';
  let used = 0;
  for (const ch of text) {
    const cost = coding === 'ucs2' ? ch.length : (smpp.gsmCoder.GSM.extChars.includes(ch) ? 2 : 1);
    if (used + cost > size) {
      out.push(current);
      current = '';
      used = 0;
    }
    current += ch;
    used += cost;
  }
  out.push(current);
  return out;
}

function queueMo(body) {
  const systemId = body.system_id || Object.keys(opts.users)[0];
  const coding = body.coding || 'gsm7';
  const encode = (t) => (coding === 'ucs2' ? utf16be(t) : smpp.encodings.ASCII.encode(t));
  const base = {
    source_addr_ton: body.source_ton === undefined ? 1 : body.source_ton,
    source_addr_npi: 1,
    source_addr: body.from,
    dest_addr_ton: body.dest_ton === undefined ? 0 : body.dest_ton,
    dest_addr_npi: 0,
    destination_addr: body.to,
    data_coding: coding === 'ucs2' ? 8 : 0,
    esm_class: 0,
  };
  const split = body.split || null;
  const size = body.part_size || (coding === 'ucs2' ? 67 : 153);
  const ref = body.ref === undefined ? Math.floor(Math.random() * 256) : body.ref;
  let items;
  if (!split) {
    items = [Object.assign({}, base, { short_message: encode(body.text) })];
  } else if (split === 'payload') {
    items = [Object.assign({}, base, { short_message: Buffer.alloc(0),
      message_payload: encode(body.text) })];
  } else {
    const parts = chunks(body.text, coding, size);
    items = parts.map((part, i) => {
      if (split === 'udh') {
        const udh = Buffer.from([0x05, 0x00, 0x03, ref & 0xFF, parts.length, i + 1]);
        return Object.assign({}, base, { esm_class: 0x40,
          short_message: Buffer.concat([udh, encode(part)]) });
      }
      return Object.assign({}, base, { short_message: encode(part), sar_msg_ref_num: ref,
        sar_total_segments: parts.length, sar_segment_seqnum: i + 1 });
    });
  }
  const order = body.reverse ? items.slice().reverse() : items;
  for (const fields of order) {
    pending.push({ systemId, kind: 'mo', label: body.label || body.text.slice(0, 20), fields,
      inFlight: null, tries: 0, notBefore: 0 });
  }
  record({ event: 'mo_queued', system_id: systemId, from: body.from, to: body.to,
    parts: items.length, split, coding, label: body.label || null });
  pump();
  return items.length;
}

// -- the SMPP server ---------------------------------------------------------------------------------

function bindHandler(session, mode) {
  return (pdu) => {
    const systemId = pdu.system_id;
    let status = 0;
    if (!(systemId in opts.users)) status = smpp.ESME_RINVSYSID;
    else if (opts.users[systemId] !== pdu.password) status = smpp.ESME_RINVPASWD;
    else if (session.bound) status = smpp.ESME_RALYBND;
    record({ event: 'bind', mode, system_id: systemId, system_type: pdu.system_type,
      interface_version: pdu.interface_version, status });
    session.send(pdu.response({ command_status: status, system_id: 'hoso-test-smsc' }));
    if (status === 0) {
      session.bound = true;
      session.mode = mode;
      session.systemId = systemId;
      pump();
    }
  };
}

const server = smpp.createServer((session) => {
  sessions.add(session);
  session.bound = false;
  session.on('bind_transmitter', bindHandler(session, 'transmitter'));
  session.on('bind_receiver', bindHandler(session, 'receiver'));
  session.on('bind_transceiver', bindHandler(session, 'transceiver'));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    record({ event: 'unbind', system_id: session.systemId || null });
    session.send(pdu.response());
    session.bound = false;
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    if (!canTransmit(session)) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    let status = 0;
    const now = Date.now();
    while (submitTimes.length && submitTimes[0] <= now - 1000) submitTimes.shift();
    if (throttle.count > 0) {
      throttle.count -= 1;
      status = smpp[throttle.status];
    } else if (opts.maxTps && submitTimes.length >= opts.maxTps) {
      status = smpp.ESME_RTHROTTLED;
    }
    if (!status) submitTimes.push(now);
    const sm = pdu.short_message || {};
    const raw = sm.raw || Buffer.alloc(0);
    const udhi = (pdu.esm_class & 0x40) !== 0;
    const udhLength = udhi && raw.length ? raw[0] + 1 : 0;
    let text;
    let payload = false;
    if (pdu.message_payload && pdu.message_payload.raw && pdu.message_payload.raw.length) {
      payload = true;
      const p = pdu.message_payload.raw;
      const pUdh = udhi && p.length ? p[0] + 1 : 0;
      text = decodeText(pdu.data_coding, p, pUdh);
    } else {
      text = decodeText(pdu.data_coding, raw, udhLength);
    }
    const messageId = status ? null : nextId();
    record({
      event: 'submit_sm', system_id: session.systemId, seq: pdu.sequence_number, status,
      message_id: messageId, source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton,
      source_addr_npi: pdu.source_addr_npi, destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
      esm_class: pdu.esm_class, data_coding: pdu.data_coding,
      registered_delivery: pdu.registered_delivery,
      udh: udhLength ? raw.slice(1, udhLength).toString('hex') : null,
      sar: pdu.sar_msg_ref_num !== undefined ? { ref: pdu.sar_msg_ref_num,
        total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum } : null,
      payload, octets: (payload ? pdu.message_payload.raw : raw).length, text,
    });
    if (status) {
      session.send(pdu.response({ command_status: status }));
      return;
    }
    session.send(pdu.response({ message_id: messageId }));
    if (pdu.registered_delivery & 0x01) {
      queueReceipt(session.systemId, pdu, messageId, text);
      if (!opts.receiptDelay) setImmediate(pump);
    }
  });
  session.on('deliver_sm_resp', () => {});
  session.on('generic_nack', (pdu) => record({ event: 'generic_nack', status: pdu.command_status }));
  session.on('error', () => {});
  session.on('close', () => {
    sessions.delete(session);
    for (const item of pending) {
      if (item.inFlight === session) {
        clearTimeout(item.timer);
        item.inFlight = null;
      }
    }
    record({ event: 'closed', system_id: session.systemId || null });
    setImmediate(pump);
  });
});

// -- control ------------------------------------------------------------------------------------------

function readJson(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => {
      try { resolve(data ? JSON.parse(data) : {}); } catch (e) { reject(e); }
    });
  });
}

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://control');
  const answer = (code, body) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    if (req.method === 'GET' && url.pathname === '/ledger') {
      return answer(200, ledger.slice(Number(url.searchParams.get('from') || 0)));
    }
    if (req.method === 'GET' && url.pathname === '/status') {
      return answer(200, {
        sessions: [...sessions].map((s) => ({ bound: s.bound, mode: s.mode || null,
          system_id: s.systemId || null })),
        pending: pending.length, throttle: throttle.count, hold_receipts: holdReceipts,
      });
    }
    const body = await readJson(req);
    if (req.method === 'POST' && url.pathname === '/mo') {
      return answer(200, { queued: queueMo(body) });
    }
    if (req.method === 'POST' && url.pathname === '/throttle') {
      throttle = { count: body.count || 0, status: body.status || 'ESME_RTHROTTLED' };
      return answer(200, throttle);
    }
    if (req.method === 'POST' && url.pathname === '/fate') {
      fates[body.destination] = body.stat;
      return answer(200, { destination: body.destination, stat: body.stat });
    }
    if (req.method === 'POST' && url.pathname === '/receipts') {
      holdReceipts = Boolean(body.hold);
      pump();
      return answer(200, { hold: holdReceipts });
    }
    return answer(404, { error: `no ${req.method} ${url.pathname}` });
  } catch (e) {
    return answer(400, { error: String(e) });
  }
});

let listening = 0;
function ready() {
  listening += 1;
  if (listening === 2) {
    process.stdout.write(JSON.stringify({ smpp: server.address().port,
      control: control.address().port }) + '\n');
  }
}
server.listen(opts.port, opts.host, ready);
control.listen(opts.controlPort, opts.host, ready);
process.on('SIGTERM', () => process.exit(0));

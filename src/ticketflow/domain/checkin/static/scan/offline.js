// Offline mode of the scanner page: when the server does not answer, the door decides alone.
//
// The scanner bundle (GET /events/{id}/scanner-bundle) brings the public keys that verify signed
// `tf2.` codes, the event, its gates and the revoked codes; it is kept in IndexedDB and refreshed
// with its cursor. Offline, a code is admitted when its Ed25519 signature verifies (WebCrypto), it
// names this event, it is not revoked, the gate admits its type, and this device has not admitted
// it before. Every offline scan is queued in IndexedDB and sent to POST /check-ins/sync when the
// server answers again (a staff account, which may not sync, replays its scans through validate).
// A paired scanner's scan keeps that scanner's token: handed in as the scanner that made it, even
// after the phone was paired again (another gate, another event) or signed out.
// What one offline door cannot know is what another offline door did: the server finds those
// double admissions at sync time.

const DB_NAME = "ticketflow-scan";
const CODE = /^tf2\.[A-Za-z0-9_-]{106}[AEIMQUYcgkosw048]$/;
const PAYLOAD_BYTES = 16;
const SIGNATURE_BYTES = 64;
const FORMAT = 1;
const SYNC_BATCH = 500;
const CLOCK_KEY = "ticketflow.scan.clock"; // how far this phone's clock is off the server's, in ms

function storedClockOffset() {
  try {
    return Number(localStorage.getItem(CLOCK_KEY)) || 0;
  } catch {
    return 0;
  }
}

function request(operation) {
  return new Promise((resolve, reject) => {
    operation.onsuccess = () => resolve(operation.result);
    operation.onerror = () => reject(operation.error);
  });
}

function openStore() {
  const opening = indexedDB.open(DB_NAME, 1);
  opening.onupgradeneeded = () => {
    const db = opening.result;
    db.createObjectStore("bundles", { keyPath: "eventId" });
    db.createObjectStore("queue", { keyPath: "client_id" });
    db.createObjectStore("seen", { keyPath: "key" });
  };
  return request(opening);
}

async function inStore(db, name, mode, work) {
  const transaction = db.transaction(name, mode);
  const done = new Promise((resolve, reject) => {
    transaction.oncomplete = resolve;
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
  const result = await work(transaction.objectStore(name));
  await done;
  return result;
}

function fromBase64Url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// What a signed code says, or null when it is not one (shape, format); the signature is checked apart.
export function readSignedCode(code) {
  if (!CODE.test(code)) return null;
  const bytes = fromBase64Url(code.slice(4));
  if (bytes.length !== PAYLOAD_BYTES + SIGNATURE_BYTES) return null;
  const view = new DataView(bytes.buffer);
  if (view.getUint8(0) !== FORMAT) return null;
  return {
    kid: view.getUint8(1),
    ticketId: view.getUint32(2),
    eventId: view.getUint32(6),
    ticketTypeId: view.getUint32(10) || null,
    version: view.getUint16(14),
    payload: bytes.slice(0, PAYLOAD_BYTES),
    signature: bytes.slice(PAYLOAD_BYTES),
  };
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// A valid Ed25519 public key (RFC 8032's first test vector), to ask the browser whether it can verify.
const ED25519_TEST_KEY = Uint8Array.from(
  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".match(/../g),
  (byte) => parseInt(byte, 16),
);

export class OfflineDoor {
  // `api(method, path, body)` is the page's fetch with its timeout; `session` the page's session.
  constructor(api, session) {
    // Every answer sets how far this phone's clock is off the server's: a phone running minutes
    // fast or slow would otherwise date its offline scans wrongly (and misorder them at sync).
    // Kept on the phone, so that a page opened again while the server is down still knows it.
    this.clockOffset = storedClockOffset();
    this.api = async (...args) => {
      const answer = await api(...args);
      if (answer.served) this.setClockOffset(answer.served - Date.now());
      return answer;
    };
    this.session = session;
    this.db = null;
    this.bundle = null;
    this.keys = new Map();
    this.revoked = new Map();
  }

  setClockOffset(offset) {
    const moved = Math.abs(offset - this.clockOffset) > 1000; // the Date header counts whole seconds
    this.clockOffset = offset;
    if (!moved) return;
    try {
      localStorage.setItem(CLOCK_KEY, String(Math.round(offset)));
    } catch {
      // storage refused: the offset is known until the page closes
    }
  }

  // Whether this browser verifies Ed25519 signatures (without it the door stays online only).
  static async supported() {
    try {
      await crypto.subtle.importKey("raw", ED25519_TEST_KEY, { name: "Ed25519" }, false, ["verify"]);
      return true;
    } catch {
      return false;
    }
  }

  // Codes this door can judge alone: signed ones (any other text waits for the server).
  canDecide(code) {
    return code.startsWith("tf2.");
  }

  get ready() {
    return this.bundle !== null && this.keys.size > 0;
  }

  async open() {
    this.db = await openStore();
    const stored = await inStore(this.db, "bundles", "readonly", (s) => request(s.get(this.session.eventId)));
    if (stored) await this.adopt(stored);
  }

  async adopt(bundle) {
    const keys = new Map();
    for (const key of bundle.keys) {
      const raw = fromBase64Url(key.public_key);
      keys.set(key.kid, await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]));
    }
    this.keys = keys;
    this.revoked = new Map(bundle.revoked.map((entry) => [entry.ticket_id, entry.version]));
    this.bundle = bundle;
  }

  // Fetch what changed since the kept copy (all of it the first time); false when unreachable.
  async refresh() {
    const since = this.bundle?.cursor ? `?since=${encodeURIComponent(this.bundle.cursor)}` : "";
    const answer = await this.api("GET", `/events/${this.session.eventId}/scanner-bundle${since}`);
    if (answer.status !== 200 || !answer.data?.keys) return false;
    const fresh = answer.data;
    if (!fresh.full && this.bundle) {
      const merged = new Map(this.revoked);
      for (const entry of fresh.revoked) {
        merged.set(entry.ticket_id, Math.max(entry.version, merged.get(entry.ticket_id) || 0));
      }
      fresh.revoked = [...merged].map(([ticket_id, version]) => ({ ticket_id, version }));
    }
    const bundle = { ...fresh, eventId: this.session.eventId, fetchedAt: new Date().toISOString() };
    await this.adopt(bundle);
    await inStore(this.db, "bundles", "readwrite", (s) => request(s.put(bundle)));
    return true;
  }

  async seen(ticketId) {
    const key = `${this.session.eventId}:${ticketId}`;
    return inStore(this.db, "seen", "readonly", (s) => request(s.get(key)));
  }

  // Now, by the server's clock as last seen.
  now() {
    return new Date(Date.now() + this.clockOffset);
  }

  // This device let the ticket in (online or offline) or out.
  async remember(ticketId, inside, at = this.now().toISOString()) {
    if (!this.db || !ticketId) return;
    const key = `${this.session.eventId}:${ticketId}`;
    await inStore(this.db, "seen", "readwrite", (s) => request(s.put({ key, inside, at })));
  }

  // The door's answer without the server: {result, reason, ticketId, usedAt}.
  async decide(code, direction) {
    const claims = readSignedCode(code);
    if (claims === null) return { result: "invalid", reason: "unknown" };
    const key = this.keys.get(claims.kid);
    const genuine =
      key !== undefined && (await crypto.subtle.verify({ name: "Ed25519" }, key, claims.signature, claims.payload));
    if (!genuine) return { result: "invalid", reason: "unknown" };
    const ticketId = claims.ticketId;
    if (claims.eventId !== this.session.eventId) return { result: "invalid", reason: "wrong_event", ticketId };
    if (this.bundle.event?.status === "cancelled") return { result: "invalid", reason: "event_cancelled", ticketId };
    if ((this.revoked.get(ticketId) || 0) >= claims.version) return { result: "invalid", reason: "revoked", ticketId };
    const gate = (this.bundle.gates || []).find((g) => g.id === this.session.gateId);
    if (gate && gate.ticket_type_ids.length > 0 && !gate.ticket_type_ids.includes(claims.ticketTypeId)) {
      return { result: "invalid", reason: "wrong_gate", ticketId };
    }
    const before = await this.seen(ticketId);
    // Let out whoever asks (this phone cannot know who came in at other doors), but remember an
    // exit only of a ticket it saw come in: a mistaken out-scan of an arriving guest must not
    // turn their in-scan amber.
    if (direction === "out") return { result: "exited", ticketId, wasInside: Boolean(before?.inside) };
    if (before?.inside) return { result: "already_used", ticketId, usedAt: before.at };
    if (before && !gate?.allow_reentry) return { result: "already_used", ticketId, usedAt: before.at };
    return { result: "valid", ticketId };
  }

  async enqueue(code, decision, direction) {
    const scan = {
      client_id: newClientId(),
      code: code.slice(0, 512),
      scanned_at: this.now().toISOString(),
      offline_result: decision.result,
      direction,
      eventId: this.session.eventId,
      kind: this.session.kind === "scanner" ? "scanner" : "staff",
    };
    if (scan.kind === "scanner") scan.token = this.session.token;
    if (this.session.gateId) scan.gate_id = this.session.gateId;
    await inStore(this.db, "queue", "readwrite", (s) => request(s.put(scan)));
    try {
      // queued, so recorded: the door's own memory of it may fail without undoing that
      if (decision.result === "valid") await this.remember(decision.ticketId, true, scan.scanned_at);
      if (decision.result === "exited" && decision.wasInside) {
        await this.remember(decision.ticketId, false, scan.scanned_at);
      }
    } catch (error) {
      console.warn(error);
    }
  }

  // Every queued scan, of any event and any session of this phone: what waits to be handed in.
  async waiting() {
    if (!this.db) return [];
    return inStore(this.db, "queue", "readonly", (s) => request(s.getAll()));
  }

  // The token a queued scan is handed in with: its own scanner's; "" for the session signed in now
  // (a staff scan while staff or an admin is signed in; a scan of this event queued before scans
  // said who made them); undefined while no session here may hand it in (it waits: a scanner's
  // token must not carry a staff member's scans, nor another event's).
  handedInWith(scan) {
    if (scan.kind === "scanner" && scan.token) return scan.token;
    if (scan.kind === "staff") return this.session.kind === "scanner" ? undefined : "";
    return scan.eventId === this.session.eventId ? "" : undefined;
  }

  async forget(clientIds) {
    await inStore(this.db, "queue", "readwrite", async (s) => {
      for (const id of clientIds) await request(s.delete(id));
    });
  }

  // Send the queue, each scanner's scans with its own token and the staff's through the session
  // signed in now, oldest first; returns how many scans were handed in. Throws when unreachable.
  async sync() {
    const queue = (await this.waiting()).sort((a, b) => a.scanned_at.localeCompare(b.scanned_at));
    const byToken = new Map(); // a scanner's token, or "" for the scans the session now hands in
    for (const scan of queue) {
      const token = this.handedInWith(scan);
      if (token === undefined) continue;
      if (!byToken.has(token)) byToken.set(token, []);
      byToken.get(token).push(scan);
    }
    let handed = 0;
    for (const [token, scans] of byToken) handed += await this.handIn(scans, token || null);
    return handed;
  }

  // One scanner's scans (`token`), or those the session signed in now hands in (`null`: staff
  // scans, and scans queued before scans carried their scanner).
  async handIn(scans, token) {
    const bySync = token !== null || this.session.kind === "scanner";
    let handed = 0;
    for (let start = 0; start < scans.length; start += SYNC_BATCH) {
      const batch = scans.slice(start, start + SYNC_BATCH);
      const count = bySync ? await this.syncBatch(batch, token ?? this.session.token) : await this.replay(batch);
      handed += count;
      if (count < batch.length) break; // the rest waits for the next round, in order
    }
    return handed;
  }

  async syncBatch(batch, token) {
    const scans = batch.map(({ client_id, code, scanned_at, offline_result, direction, gate_id }) => {
      const scan = { client_id, code, scanned_at, offline_result, direction };
      if (gate_id) scan.gate_id = gate_id;
      return scan;
    });
    const answer = await this.api("POST", "/check-ins/sync", { scans }, token);
    if (answer.status === 200) {
      await this.forget(batch.map((scan) => scan.client_id));
      return batch.length;
    }
    const refused = answer.data?.extra?.client_id;
    if (answer.status === 422 && refused) await this.forget([refused]); // a scan the server will never take
    if (answer.status === 401 && token !== this.session.token) {
      // an earlier scanner of this phone, revoked or past its last day to sync: never deliverable
      console.warn(`${batch.length} scans of a scanner that may no longer sync were dropped`);
      await this.forget(batch.map((scan) => scan.client_id));
    }
    return 0;
  }

  // A staff account may not sync: its offline admissions and exits are scanned again online, in
  // order (a refusal admitted no one: replaying it would admit the ticket now). A scan leaves the
  // queue once the server decided on it; on any other answer (a limit, a server error) the rest
  // waits for the next round.
  async replay(batch) {
    let handed = 0;
    for (const scan of batch) {
      if (scan.offline_result === "valid" || scan.offline_result === "exited") {
        const body = { event_id: scan.eventId, direction: scan.direction };
        if (scan.gate_id) body.gate_id = scan.gate_id;
        const answer = await this.api("POST", `/tickets/${encodeURIComponent(scan.code)}/validate`, body);
        const later = answer.status >= 500 || [401, 403, 429].includes(answer.status);
        if (!answer.data?.result && later) return handed; // a limit, a server error: the next round
      }
      await this.forget([scan.client_id]);
      handed += 1;
    }
    return handed;
  }
}

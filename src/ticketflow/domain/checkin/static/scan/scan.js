// The scanner page: sign in (door staff account or a pairing link), pick the event, scan.
// Decodes with the browser's BarcodeDetector where it reads QR codes, else with the vendored
// jsQR (loaded on demand). `?decoder=jsqr` forces jsQR. Texts come from the page's JSON block.

const TEXTS = JSON.parse(document.getElementById("scan-texts").textContent);
const STORE_KEY = "ticketflow.scan";
const TIMEOUT_MS = 3000;
const DEBOUNCE_MS = 2000;
const FRAME_INTERVAL_MS = 120;
const DECODE_WIDTH = 640;
const HIDE_AFTER_MS = { valid: 2500, exited: 2500, already_used: 4000, invalid: 4000 };
const REASONS = [
  "unknown",
  "cancelled",
  "unpaid",
  "wrong_event",
  "event_cancelled",
  "wrong_gate",
  "transferred",
  "revoked",
];
const OFFLINE_TICK_MS = 5000;
const BUNDLE_EVERY_MS = 60_000;
const ICONS = { valid: "✓", already_used: "!", invalid: "✕", exited: "→", offline: "⚠", error: "✕", checking: "…" };

const $ = (id) => document.getElementById(id);
const lang = document.documentElement.lang || undefined;

function t(key, values = {}) {
  const text = TEXTS[key] ?? key;
  return text.replace(/%\((\w+)\)s/g, (_, name) => values[name] ?? "");
}

// ---- stored session -------------------------------------------------------------------------

let session = load();

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY)) || {};
  } catch {
    return {};
  }
}

function save() {
  localStorage.setItem(STORE_KEY, JSON.stringify(session));
}

function signedIn() {
  return Boolean(session.token) && Date.now() < (session.expiresAt || 0);
}

function counts() {
  session.counts ||= {};
  const key = String(session.eventId);
  session.counts[key] ||= { admitted: 0, refused: 0 };
  return session.counts[key];
}

// ---- the API --------------------------------------------------------------------------------

class Unreachable extends Error {}

// `token`: the credential to send (the session's, unless a queued scan carries its own).
async function api(method, path, body, token = session.token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
      cache: "no-store",
      credentials: "omit",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (response.status >= 502 && response.status <= 504 && !data?.result) {
      // a proxy in front answered for a server it cannot reach, or the server is too busy to
      // decide: as good as unreachable (a scan's own answer always carries its `result`)
      throw new Error(`${response.status} from a proxy`);
    }
    // The server's clock (its Date header, to the second): offline scans are dated by it.
    const served = Date.parse(response.headers.get("Date") || "");
    return { status: response.status, data, served: Number.isNaN(served) ? null : served };
  } catch (error) {
    throw new Unreachable(String(error));
  } finally {
    clearTimeout(timer);
  }
}

async function sessionEnded(message) {
  stopCamera();
  const leaving = door;
  door = null; // no tick, and no second hand-in, from here on
  clearTimeout(offlineTimer);
  if (leaving && !syncing) {
    // Hand in what waits while the token may still sync (an expired scanner may, for a day).
    syncing = true;
    try {
      if ((await leaving.waiting()).length > 0) await leaving.sync();
    } catch {
      // unreachable or refused: the queue stays in this browser for the next sign-in
    } finally {
      syncing = false;
    }
  }
  const keep = session.counts;
  session = { counts: keep };
  save();
  showSignIn(message);
}

// ---- views ----------------------------------------------------------------------------------

function show(view) {
  for (const id of ["signin", "setup", "scanner"]) $(id).hidden = id !== view;
  if (view !== "scanner") stopCamera();
}

function showSignIn(message = "") {
  show("signin");
  $("signin-message").textContent = message;
  $("signin-submit").disabled = false;
  $("signin-submit").textContent = t("sign_in");
  $("signin-email").focus();
}

async function signIn(event) {
  event.preventDefault();
  unlockAudio();
  const email = $("signin-email").value.trim();
  const password = $("signin-password").value;
  if (!email || !password) return;
  $("signin-submit").disabled = true;
  $("signin-submit").textContent = t("signing_in");
  $("signin-message").textContent = "";
  try {
    session.token = null;
    const login = await api("POST", "/login", { email, password });
    if (login.status === 429) return showSignIn(t("sign_in_throttled"));
    if (login.status !== 200 || !login.data?.access_token) return showSignIn(t("sign_in_failed"));
    session.token = login.data.access_token;
    session.expiresAt = Date.now() + Number(login.data.expires_in || 3600) * 1000;
    const me = await api("GET", "/me");
    if (me.status !== 200 || !["staff", "admin"].includes(me.data?.role)) {
      return sessionEnded(t("role_refused"));
    }
    session.kind = "user";
    session.userName = me.data.name;
    save();
    $("signin-password").value = "";
    await showSetup();
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    showSignIn(`${t("offline")}. ${t("offline_detail")}`);
  }
}

function formatWhen(iso, withDate = true) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const time = when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  if (!withDate) return time;
  return `${when.toLocaleDateString(lang, { day: "numeric", month: "short" })} ${time}`;
}

async function doorEvents() {
  // Events not started yet, and the most recent started ones (a door stays open after the start).
  const upcoming = await api("GET", "/events?upcoming=true&limit=50");
  const started = await api("GET", "/events?upcoming=false&limit=1");
  let recent = [];
  const total = started.data?.total || 0;
  if (started.status === 200 && total > 0) {
    const page = await api("GET", `/events?upcoming=false&limit=20&offset=${Math.max(0, total - 20)}`);
    const since = Date.now() - 24 * 3600 * 1000;
    recent = (page.data?.items || []).filter(
      (e) => e.status === "scheduled" && Date.parse(e.ends_at || e.starts_at) > since,
    );
  }
  return [...recent, ...(upcoming.data?.items || [])];
}

async function showSetup() {
  if (!signedIn()) return sessionEnded(t("session_expired"));
  show("setup");
  const select = $("setup-event");
  $("setup-message").textContent = "";
  $("setup-gate-field").hidden = true;
  select.replaceChildren();
  try {
    const events = await doorEvents();
    for (const item of events) {
      const option = new Option(`${item.title} · ${formatWhen(item.starts_at)} · ${item.venue}`, item.id);
      option.dataset.title = item.title;
      select.append(option);
    }
    if (events.length === 0) $("setup-message").textContent = t("no_events");
    if (session.eventId) select.value = String(session.eventId);
    $("setup-submit").disabled = events.length === 0;
    await loadGates(select.value);
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    $("setup-message").textContent = `${t("offline")}. ${t("offline_detail")}`;
  }
}

let gates = null; // null: this server has no gates API

async function loadGates(eventId) {
  gates = null;
  const field = $("setup-gate-field");
  field.hidden = true;
  if (!eventId) return;
  const answer = await api("GET", `/events/${eventId}/gates`);
  if (answer.status !== 200) return;
  gates = Array.isArray(answer.data) ? answer.data : answer.data?.items || [];
  const select = $("setup-gate");
  select.replaceChildren(new Option(t("any_gate"), ""));
  for (const gate of gates) select.append(new Option(gate.name, gate.id));
  if (session.gateId) select.value = String(session.gateId);
  field.hidden = gates.length === 0;
}

function chooseEvent(event) {
  event.preventDefault();
  unlockAudio();
  const option = $("setup-event").selectedOptions[0];
  if (!option) return;
  session.eventId = Number(option.value);
  session.eventTitle = option.dataset.title;
  const gateId = $("setup-gate-field").hidden ? "" : $("setup-gate").value;
  session.gateId = gateId ? Number(gateId) : null;
  session.gateName = gateId ? $("setup-gate").selectedOptions[0].textContent : "";
  save();
  showScanner();
}

// `ended`: the session ended while the server cannot be reached; the door goes on deciding
// offline, and asks for a new sign-in once the server answers.
function showScanner(ended = false) {
  if (!signedIn() && !ended) return sessionEnded(t("session_expired"));
  show("scanner");
  showWhere();
  $("change-event").hidden = session.kind === "scanner";
  $("direction").hidden = !session.gateId;
  renderCounts();
  refreshGateCounts();
  startCamera();
  startOffline();
}

function showWhere() {
  $("scanner-event").textContent = session.eventTitle || `#${session.eventId}`;
  const scanner = session.kind === "scanner" ? `${t("paired_as")}: ${session.scanner?.name || ""}` : "";
  const gate = session.gateName ? `${t("gate")}: ${session.gateName}` : "";
  $("scanner-gate").textContent = [scanner, gate].filter(Boolean).join(" · ");
}

function renderCounts() {
  const mine = counts();
  $("count-admitted").textContent = mine.admitted;
  $("count-refused").textContent = mine.refused;
}

function renderGateCounts() {
  // The gate's counters as the last answer (or the gates list) gave them.
  const gate = session.gateId && session.gateCounts?.id === session.gateId ? session.gateCounts : null;
  $("gate-counters").hidden = !gate;
  if (!gate) return;
  if (!session.gateName && gate.name) {
    session.gateName = gate.name;
    showWhere();
  }
  $("count-gate").textContent = `${gate.admitted ?? 0} / ${gate.inside ?? 0} / ${gate.refused ?? 0}`;
}

async function refreshGateCounts() {
  // Every scan at a gate answers its counters; admins may read them before the first scan too.
  renderGateCounts();
  if (!session.gateId || session.kind === "scanner") return;
  try {
    const answer = await api("GET", `/events/${session.eventId}/gates`);
    const list = answer.status === 200 ? (Array.isArray(answer.data) ? answer.data : answer.data?.items) : null;
    const gate = (list || []).find((g) => g.id === session.gateId);
    if (gate) {
      session.gateCounts = gate;
      save();
      renderGateCounts();
    }
  } catch {
    // the counters stay as the last scan left them
  }
}

// ---- pairing (a scanner device opened with /scan#code=...) ------------------------------------

function pairingCode() {
  return new URLSearchParams(location.hash.slice(1)).get("code");
}

function dropPairingCode() {
  history.replaceState(null, "", location.pathname + location.search);
}

// Pair this phone with a link's code. A door that is scanning goes on scanning until the new
// pairing is made: a link opened while the server cannot be reached changes nothing.
async function pair(code) {
  const scanning = Boolean(session.eventId) && !$("scanner").hidden;
  if (!scanning) {
    show("signin");
    $("signin-message").textContent = t("pairing");
  }
  let answer;
  try {
    answer = await api("POST", "/scanners/pair", { code }, null);
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    if (!scanning) return showSignIn(`${t("offline")}. ${t("pairing_unreachable")}`);
    dropPairingCode();
    feedback("refused");
    showResult("offline", t("offline"), "", t("pairing_unreachable"));
    return;
  }
  dropPairingCode(); // the code is single-use
  const scanner = answer.data?.scanner;
  if (answer.status >= 300 || !answer.data?.access_token || !scanner) {
    if (!scanning) return showSignIn(t("pairing_failed"));
    feedback("refused");
    showResult("error", t("pairing_failed"));
    return;
  }
  stopCamera();
  session = {
    counts: session.counts,
    kind: "scanner",
    token: answer.data.access_token,
    expiresAt: Date.parse(scanner.expires_at) || Date.now() + 12 * 3600 * 1000,
    scanner,
    eventId: scanner.event_id,
    gateId: scanner.gate_id ?? null,
    gateName: "",
  };
  try {
    const event = await api("GET", `/events/${scanner.event_id}`);
    session.eventTitle = event.data?.title || "";
  } catch {
    session.eventTitle = "";
  }
  save();
  showScanner();
}

// ---- camera and decoding --------------------------------------------------------------------

let stream = null;
let decode = null;
let loopTimer = null;

function cameraMessage(text) {
  $("camera-message").textContent = text;
}

async function startCamera() {
  if (stream) return;
  const video = $("camera");
  if (!navigator.mediaDevices?.getUserMedia) {
    cameraMessage(window.isSecureContext ? t("camera_unavailable") : t("camera_insecure"));
    return;
  }
  cameraMessage(t("camera_starting"));
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (error) {
    stream = null;
    cameraMessage(error?.name === "NotAllowedError" ? t("camera_denied") : t("camera_unavailable"));
    return;
  }
  if ($("scanner").hidden) return stopCamera();
  video.srcObject = stream;
  await video.play().catch(() => {});
  decode ||= await chooseDecoder();
  cameraMessage("");
  scheduleFrame();
}

function stopCamera() {
  clearTimeout(loopTimer);
  loopTimer = null;
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("camera").srcObject = null;
}

async function chooseDecoder() {
  const forced = new URLSearchParams(location.search).get("decoder");
  if (forced !== "jsqr" && "BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        document.body.dataset.decoder = "barcode-detector";
        return async (video) => (await detector.detect(video))[0]?.rawValue || null;
      }
    } catch {
      // fall through to jsQR
    }
  }
  await loadScript(document.body.dataset.jsqr);
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  document.body.dataset.decoder = "jsqr";
  return async (video) => {
    const scale = Math.min(1, DECODE_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    return window.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" })?.data || null;
  };
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

function scheduleFrame() {
  clearTimeout(loopTimer);
  loopTimer = setTimeout(readFrame, FRAME_INTERVAL_MS);
}

async function readFrame() {
  const video = $("camera");
  if (!stream) return;
  if (video.readyState >= 2 && video.videoWidth > 0 && !busy) {
    try {
      const code = await decode(video);
      if (code) await scanned(code, "camera");
    } catch {
      // a frame that cannot be read: try the next one
    }
  }
  if (stream) scheduleFrame();
}

// ---- one scan -------------------------------------------------------------------------------

let busy = false;
let recent = { code: "", at: 0 };
let lastScan = null;

async function scanned(raw, source) {
  const code = raw.trim();
  if (!code || busy) return;
  const now = Date.now();
  if (code === recent.code && now - recent.at < DEBOUNCE_MS) {
    if (source === "camera") recent.at = now; // a code held in view is read once
    return;
  }
  recent = { code, at: now };
  await submit(code);
}

async function submit(code) {
  // a session that ended while the server could not be reached goes on deciding offline (below)
  if (!signedIn() && online) return sessionEnded(t("session_expired"));
  busy = true;
  lastScan = code;
  const body = { event_id: session.eventId };
  if (session.gateId) {
    body.gate_id = session.gateId;
    body.direction = document.querySelector("input[name=direction]:checked")?.value || "in";
  }
  const checking = setTimeout(() => showResult("checking", t("checking")), 300);
  let answer;
  try {
    answer = await api("POST", `/tickets/${encodeURIComponent(code)}/validate`, body);
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    answer = null;
  } finally {
    clearTimeout(checking);
    busy = false;
  }
  if (answer === null) {
    if (door?.ready && door.canDecide(code)) return decideOffline(code, body.direction || "in");
    feedback("refused");
    showResult("offline", t("offline"), "", t("offline_detail"), { retry: true });
    return;
  }
  if (answer.status === 401) {
    return sessionEnded(session.kind === "scanner" ? t("scanner_revoked") : t("session_expired"));
  }
  if (answer.status === 403) return sessionEnded(t("role_refused"));
  online = true;
  handleAnswer(answer);
  if (door && answer.data?.ticket?.id) {
    const result = answer.data.result;
    if (result === "valid" || result === "exited") await door.remember(answer.data.ticket.id, result === "valid");
  }
  offlineTick();
}

// ---- offline: the door decides alone, queues the scan, and hands it in later ------------------

let door = null; // the OfflineDoor of offline.js, once the bundle is loaded
let online = true;
let offlineTimer = null;
let bundleAt = 0;
let syncing = false;

async function startOffline() {
  clearTimeout(offlineTimer);
  const eventId = session.eventId;
  try {
    const { OfflineDoor } = await import(document.body.dataset.offline);
    if (eventId !== session.eventId) return;
    door = new OfflineDoor(api, session);
    await door.open();
    if (!(await OfflineDoor.supported())) throw new Error("no Ed25519 in this browser");
  } catch {
    door = null; // no IndexedDB or no Ed25519 in this browser: online only
    return;
  }
  await offlineTick();
}

async function offlineTick() {
  clearTimeout(offlineTimer);
  const current = door; // a session that ends meanwhile drops it: this tick then stops
  if (!current || syncing || $("scanner").hidden) return;
  syncing = true;
  // the hand-in and the bundle each on its own: a queue that cannot go yet never keeps the door
  // from its bundle
  const steps = [
    async () => {
      if ((await current.waiting()).length > 0) await current.sync();
    },
    async () => {
      if (!current.ready || Date.now() - bundleAt > BUNDLE_EVERY_MS) {
        if (await current.refresh()) bundleAt = Date.now();
      }
    },
  ];
  let reached = true;
  try {
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        if (error instanceof Unreachable) reached = false;
        else console.warn(error); // the server answered: online, whatever went wrong here
      }
    }
    online = reached;
  } finally {
    syncing = false;
  }
  if (door !== current) return;
  if (online && !signedIn()) return sessionEnded(t("session_expired")); // back, with a session that ended
  document.body.dataset.bundle = current.ready ? "ready" : "missing";
  if (current.ready && !session.eventTitle && current.bundle.event?.title) {
    session.eventTitle = current.bundle.event.title; // a paired device may not read the events API
    $("scanner-event").textContent = session.eventTitle;
    save();
  }
  await renderOffline();
  offlineTimer = setTimeout(offlineTick, OFFLINE_TICK_MS);
}

async function renderOffline() {
  const waiting = door ? (await door.waiting()).length : 0;
  const banner = $("offline-banner");
  banner.hidden = online && waiting === 0;
  banner.dataset.offline = String(!online);
  banner.dataset.waiting = String(waiting);
  $("offline-waiting").textContent = t("waiting_scans", { count: waiting });
  // how old the list of revoked codes is that the phone decides by while offline
  const fetchedAt = door?.bundle?.fetchedAt;
  $("offline-bundle").textContent = fetchedAt ? t("bundle_from", { time: formatUsedAt(fetchedAt) }) : "";
}

async function decideOffline(code, direction) {
  online = false;
  const current = door;
  let decision;
  try {
    decision = await current.decide(code, direction);
    await current.enqueue(code, decision, direction);
  } catch (error) {
    console.warn(error); // the browser's storage refused (full, private mode): nothing recorded
    feedback("refused");
    showResult("offline", t("offline"), "", t("offline_detail"), { retry: true });
    return;
  }
  const data = { result: decision.result, reason: decision.reason, offline: true };
  if (decision.ticketId) data.ticket = { id: decision.ticketId, used_at: decision.usedAt };
  if (decision.usedAt) data.used_at = decision.usedAt;
  handleAnswer({ status: 200, data });
  await renderOffline();
  clearTimeout(offlineTimer);
  offlineTimer = setTimeout(offlineTick, OFFLINE_TICK_MS);
}

function handleAnswer({ status, data }) {
  const result = data?.result;
  const ticket = data?.ticket || {};
  const name = ticket.holder_name || ticket.attendee_name || "";
  const type = ticket.ticket_type_name ? `${t("ticket_type")}: ${ticket.ticket_type_name}` : "";
  const mine = counts();
  const offlineNote = data?.offline ? t("offline_checked") : "";
  if (result === "valid") {
    mine.admitted += 1;
    feedback("ok");
    showResult("valid", t("valid"), name, type || offlineNote);
  } else if (result === "exited") {
    feedback("ok");
    showResult("exited", t("exited"), name, type);
  } else if (result === "already_used") {
    mine.refused += 1;
    feedback("refused");
    const when = data.used_at || ticket.used_at;
    showResult("already_used", t("already_used"), name, t("already_used_at", { time: formatUsedAt(when) }));
  } else if (result === "invalid" || status === 404) {
    mine.refused += 1;
    feedback("refused");
    const reason = data?.reason || "unknown";
    const words = REASONS.includes(reason) ? t(`reason_${reason}`) : `${t("reason_other")} (${reason})`;
    showResult("invalid", t("invalid"), name, words, { reason });
  } else {
    feedback("refused");
    showResult("error", t("server_error"), "", `HTTP ${status}`, { retry: true });
    return;
  }
  if (data?.gate) session.gateCounts = data.gate;
  save();
  renderCounts();
  renderGateCounts();
}

function formatUsedAt(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  const today = new Date().toDateString() === when.toDateString();
  const time = when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return today ? time : `${when.toLocaleDateString(lang)} ${time}`;
}

// ---- the answer on screen, in sound and in the hand -----------------------------------------

let hideTimer = null;

function showResult(state, title, name = "", detail = "", { retry = false, reason = "" } = {}) {
  const box = $("result");
  clearTimeout(hideTimer);
  box.dataset.state = state;
  box.dataset.reason = reason;
  $("result-icon").textContent = ICONS[state] || "";
  $("result-title").textContent = title;
  $("result-name").textContent = name;
  $("result-detail").textContent = detail;
  $("result-retry").hidden = !retry;
  box.hidden = false;
  if (state !== "checking") announce([title, name, detail].filter(Boolean).join(". "));
  if (HIDE_AFTER_MS[state]) hideTimer = setTimeout(hideResult, HIDE_AFTER_MS[state]);
}

function hideResult() {
  clearTimeout(hideTimer);
  $("result").hidden = true;
}

function announce(text) {
  const region = $("announce");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

let audio = null;

function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  audio ||= new Context();
  if (audio.state === "suspended") audio.resume().catch(() => {});
}

function beep(tones) {
  if (!audio || audio.state !== "running") return;
  let at = audio.currentTime;
  for (const [frequency, seconds] of tones) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + seconds + 0.02);
    at += seconds + 0.07;
  }
}

function feedback(kind) {
  if (kind === "ok") {
    beep([[1318, 0.12]]);
    navigator.vibrate?.(80);
  } else {
    beep([[196, 0.22], [196, 0.22]]);
    navigator.vibrate?.([250, 100, 250]);
  }
}

// ---- wiring ---------------------------------------------------------------------------------

function signOut() {
  sessionEnded("");
}

// A session that ended while the page was closed (expired, or the tab discarded): hand in what it
// queued before anything else (an expired scanner may still sync for a day; a new pairing could
// not hand in another scanner's scans). Unreachable or refused: the queue stays for later.
async function unreachable() {
  try {
    await api("GET", "/health", undefined, null);
    return false;
  } catch (error) {
    return error instanceof Unreachable;
  }
}

async function handInLeftovers() {
  try {
    const { OfflineDoor } = await import(document.body.dataset.offline);
    const leftover = new OfflineDoor(api, session);
    await leftover.open();
    if ((await leftover.waiting()).length > 0) await leftover.sync();
  } catch (error) {
    if (!(error instanceof Unreachable)) console.warn(error);
  }
}

// The page and its files kept on the phone (the service worker of `/scan-worker.js`): opened again
// without a network, the page still comes up and decides offline. Browsers without service workers
// (or on plain http off localhost) simply do without.
function keepPageOnPhone() {
  const { worker, scope } = document.body.dataset;
  if (!worker || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(worker, { scope }).catch((error) => console.warn(error));
}

async function start() {
  keepPageOnPhone();
  $("signin-form").addEventListener("submit", signIn);
  $("setup-form").addEventListener("submit", chooseEvent);
  $("setup-event").addEventListener("change", (e) => loadGates(e.target.value).catch(() => {}));
  $("change-event").addEventListener("click", () => showSetup());
  for (const button of document.querySelectorAll("[data-action=sign-out]")) button.addEventListener("click", signOut);
  $("manual-form").addEventListener("submit", (event) => {
    event.preventDefault();
    unlockAudio();
    const input = $("manual-code");
    const code = input.value;
    input.value = "";
    scanned(code, "manual");
  });
  $("result").addEventListener("click", (event) => {
    if (event.target.id !== "result-retry") hideResult(); // a tap anywhere goes back to scanning
  });
  $("result-retry").addEventListener("click", () => {
    hideResult();
    if (lastScan) submit(lastScan);
  });
  document.addEventListener("pointerdown", unlockAudio, { passive: true });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopCamera();
    else if (!$("scanner").hidden) startCamera();
  });

  // A pairing link opened while the page is open in this tab changes only the address's fragment:
  // the page stays, and pairs.
  window.addEventListener("hashchange", () => {
    const code = pairingCode();
    if (code) pair(code);
  });
  if (!signedIn() && session.token && session.eventId) await handInLeftovers();
  const code = pairingCode();
  if (code) return pair(code);
  if (!signedIn() && session.token && session.eventId && (await unreachable())) {
    online = false; // opened again without the server, its session over meanwhile: go on offline
    return showScanner(true);
  }
  if (!signedIn()) return showSignIn(session.token ? t("session_expired") : "");
  if (session.eventId) return showScanner();
  return showSetup();
}

start();

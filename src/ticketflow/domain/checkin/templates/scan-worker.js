// The scanner page's service worker: the page and its files stay on the phone, so the page opens
// again - and goes on deciding offline - when the venue's network or the server is down. Nothing
// else goes through it: API calls reach the network as if there were no worker.
// Rendered by the server (`scanner_page.render_worker`): new files, new cache, new worker.
const CACHE = {{ cache | tojson }};
const PAGE = {{ page | tojson }};
const FILES = {{ files | tojson }};
const PAGE_WAIT_MS = {{ page_wait_ms | tojson }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.add(PAGE);
      for (const url of FILES) {
        const answer = await fetch(url, { cache: "no-cache" });
        // a server of another version (a deploy under way) answers another file: install later
        if (!answer.ok || !(await carries(answer, url))) throw new Error(`${url} is not this version's`);
        await cache.put(url, answer);
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("scan-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) event.respondWith(page(request));
  else if (FILES.includes(url.pathname + url.search)) event.respondWith(file(request));
});

// The page from the server when it answers in time (kept for next time), else the one held.
// A proxy's 5xx in front of a server that is down counts as no answer.
async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    const answer = await within(fetch(request), PAGE_WAIT_MS);
    if (answer.ok) {
      await cache.put(PAGE, answer.clone());
      return answer;
    }
    if (answer.status < 500) return answer;
  } catch {
    // unreachable or too slow: the page held below
  }
  const held = await cache.match(PAGE, { ignoreSearch: true, ignoreVary: true });
  return held || Response.error();
}

// A file's address carries a hash of its content: the copy held is the file.
async function file(request) {
  const cache = await caches.open(CACHE);
  const held = await cache.match(request);
  if (held) return held;
  const answer = await fetch(request);
  if (answer.ok && (await carries(answer, request.url))) await cache.put(request, answer.clone());
  return answer;
}

// Whether the answer is the file its address names (`?v=`: the start of its SHA-256, in hex).
async function carries(answer, url) {
  const version = new URL(url, self.location.origin).searchParams.get("v");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await answer.clone().arrayBuffer()));
  const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return Boolean(version) && hex.startsWith(version);
}

function within(promise, ms) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("no answer in time")), ms)),
  ]);
}

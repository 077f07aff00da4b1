/* credencial phone wallet: the service worker. After the first visit the wallet opens offline.
 *
 * The wallet's own files are kept in one versioned cache, answered from the cache at once and
 * refreshed from the network behind (stale-while-revalidate), so a phone at the hospital door
 * opens the page, the credentials (IndexedDB) and the card QR with no network. Nothing else is
 * cached: API answers (credentials, status lists, logs) go to the network, and the page says
 * so when it is offline. */
"use strict";

const CACHE = "credencial-wallet-v1";
const FILES = [
  "/wallet/", "/wallet/wallet.css", "/wallet/wallet.js", "/wallet/wallet-core.js",
  "/wallet/vendor/jsQR.js", "/wallet/vendor/qrcode.js", "/wallet/icon.svg", "/wallet/icon-192.png", "/wallet/icon-512.png",
  "/wallet/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const key = url.pathname === "/wallet/index.html" || (request.mode === "navigate" && url.pathname === "/wallet/") ? "/wallet/" : url.pathname;
  if (!FILES.includes(key)) return;
  event.respondWith(caches.open(CACHE).then(async (cache) => {
    const cached = await cache.match(key);
    const fresh = fetch(key).then((response) => {
      if (response.ok) cache.put(key, response.clone());
      return response;
    });
    if (cached) {
      event.waitUntil(fresh.catch(() => undefined));
      return cached;
    }
    return fresh;
  }));
});

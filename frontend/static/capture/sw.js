// Field capture service worker: keeps the capture page and its files available offline.
// The page is fetched network-first (updates arrive when online) with the cached copy as the
// offline fallback; its static files are cache-first. API calls are never cached: uploads are
// queued by the page itself (IndexedDB) and sent when the network is back.
"use strict";
const CACHE = "tambon-capture-v6";
const SHELL = [
  "/capture/",
  "/static/style.css",
  "/static/signin.js",
  "/static/capture/schema.js",
  "/static/capture/templog.js",
  "/static/capture/capture.js",
  "/static/capture/capture.css",
  "/static/capture/manifest.webmanifest",
  "/static/capture/icon-192.png",
  "/static/capture/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/capture/" || url.pathname === "/capture") {
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put("/capture/", copy));
          }
          return response;
        })
        .catch(() => caches.match("/capture/"))
    );
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(request)));
  }
});

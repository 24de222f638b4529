{% load static %}// Ủy thác's service worker (organizations/views/offline.py). A collection sheet opened once opens again without a
// connection; no other page is kept on the device. What the officer types is kept by the page (IndexedDB).
importScripts("{% static 'vendor/workbox-sw/build/workbox-sw.js' %}");
const MODULES = {{ modules|safe }};
workbox.setConfig({ debug: false, modulePathCb: (name) => MODULES[name] });

const { registerRoute } = workbox.routing;
const { NetworkFirst, StaleWhileRevalidate } = workbox.strategies;
const { ExpirationPlugin } = workbox.expiration;

self.skipWaiting();
workbox.core.clientsClaim();

// Only a sheet itself, as the server sent it: never a login page the request was redirected to.
const onlyTheSheet = { cacheWillUpdate: async ({ response }) => (response && response.status === 200 && !response.redirected ? response : null) };
const SHEET = /^\/loans\/collections\/\d+\/$/;
registerRoute(
  ({ request, url }) => request.mode === "navigate" && url.origin === self.location.origin && SHEET.test(url.pathname),
  new NetworkFirst({
    cacheName: "uythac-sheets",
    networkTimeoutSeconds: 10,
    // By number only: a phone whose clock is wrong must still open the sheet it kept.
    plugins: [onlyTheSheet, new ExpirationPlugin({ maxEntries: 20 })],
  }),
);
registerRoute(
  ({ url }) => url.origin === self.location.origin && url.pathname.startsWith("{% get_static_prefix %}"),
  new StaleWhileRevalidate({ cacheName: "uythac-static", plugins: [new ExpirationPlugin({ maxEntries: 60 })] }),
);

// Signing out (or in as someone else) forgets the kept sheets.
self.addEventListener("message", (event) => {
  if (event.data === "forget-pages") event.waitUntil(caches.delete("uythac-sheets"));
});

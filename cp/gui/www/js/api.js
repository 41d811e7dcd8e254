// cp/gui/www/js/api.js: the Admin API client of Portico Manager: base URL from /config.js,
// Bearer token (admin_token), JSON requests, Kong's error bodies, pagination.
// SPDX-License-Identifier: Apache-2.0

const cfg = Object.assign(
  { apiUrl: "", apiPort: 8001, apiScheme: "http", tokenRequired: false, version: "" },
  window.PORTICO_CONFIG || {});

export const config = cfg;

const TOKEN_KEY = "portico.admin_token";

// The Admin API's base URL: admin_gui_api_url when set, else the host the UI was loaded from
// with admin_listen's port.
export function apiBase() {
  if (cfg.apiUrl) return cfg.apiUrl.replace(/\/+$/, "");
  const host = location.hostname.includes(":") && !location.hostname.startsWith("[")
    ? "[" + location.hostname + "]" : location.hostname;
  return cfg.apiScheme + "://" + host + ":" + cfg.apiPort;
}

export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
}

export function setToken(t) {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) { /* storage disabled: the token lives until reload */ }
  memToken = t || "";
}

let memToken = getToken();

// An error from the Admin API. status 0 = the API could not be reached. body is Kong's error
// object ({code, name, message, fields}) when there is one.
export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const listeners = { unauthorized: [], reachable: [] };

export function on(event, fn) { listeners[event].push(fn); }

function emit(event, arg) { for (const fn of listeners[event]) fn(arg); }

export const enc = encodeURIComponent;

// Sends one request. body (an object) is sent as JSON. Resolves with the parsed JSON (null for
// 204), rejects with ApiError.
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (memToken) headers.Authorization = "Bearer " + memToken;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(apiBase() + path, init);
  } catch (e) {
    emit("reachable", false);
    throw new ApiError(0, null, "Cannot reach the Admin API at " + apiBase());
  }
  emit("reachable", true);
  const text = res.status === 204 ? "" : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401) emit("unauthorized");
    let msg = data && typeof data.message === "string" ? data.message : "HTTP " + res.status;
    throw new ApiError(res.status, data, msg);
  }
  return data;
}

export const get = (p) => api("GET", p);
export const post = (p, b) => api("POST", p, b);
export const patch = (p, b) => api("PATCH", p, b);
export const put = (p, b) => api("PUT", p, b);
export const del = (p) => api("DELETE", p);

function withQuery(path, params) {
  const q = [];
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.push(enc(k) + "=" + enc(v));
  }
  if (!q.length) return path;
  return path + (path.includes("?") ? "&" : "?") + q.join("&");
}

// One page of a collection: {data, offset} (offset = token of the next page or null).
export async function listPage(path, { size = 25, offset, tags } = {}) {
  const r = await get(withQuery(path, { size, offset, tags }));
  return { data: (r && Array.isArray(r.data)) ? r.data : [], offset: (r && r.offset) || null, raw: r };
}

// Every item of a collection, following offsets, at most max items. Resolves
// {data, truncated}.
export async function listAll(path, max = 1000) {
  let out = [];
  let offset = null;
  for (;;) {
    const page = await listPage(path, { size: Math.min(1000, max), offset });
    out = out.concat(page.data);
    if (!page.offset || out.length >= max) {
      return { data: out.slice(0, max), truncated: !!page.offset || out.length > max };
    }
    offset = page.offset;
  }
}

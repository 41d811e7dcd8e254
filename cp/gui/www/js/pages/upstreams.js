// cp/gui/www/js/pages/upstreams.js: Upstreams: list, create with algorithm and health-check
// settings, view with targets and live health per data plane, edit, delete; targets: create,
// edit, delete.
// SPDX-License-Identifier: Apache-2.0
import { ApiError, enc, get, listAll, patch, post } from "../api.js";
import { h, badge, dash, entityForm, fmtAgo, fmtTime, healthBadge, pageHead, pagedList, table, tagList,
  toast } from "../ui.js";
import { deleteButton, editLink, viewLink } from "./common.js";

const ALGORITHMS = ["round-robin", "consistent-hashing", "least-connections", "latency"];
const HASH_ON = ["none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"];

function upstreamSpec() {
  const opts = (l) => l.map((x) => [x, x]);
  return [
    { name: "name", label: "Name", required: true,
      help: "A hostname (no IP, no port). Services use it as their host to load-balance over the targets." },
    { row: [
      { name: "algorithm", label: "Algorithm", type: "select", def: "round-robin", options: opts(ALGORITHMS) },
      { name: "slots", label: "Slots", type: "number", min: 10, max: 65536, placeholder: "10000" },
    ] },
    { group: "Hashing", collapsed: true, note: "Used by the consistent-hashing algorithm.", fields: [
      { row: [
        { name: "hash_on", label: "Hash on", type: "select", options: opts(HASH_ON) },
        { name: "hash_fallback", label: "Hash fallback", type: "select", options: opts(HASH_ON) },
      ] },
      { row: [
        { name: "hash_on_header", label: "Hash on header" },
        { name: "hash_fallback_header", label: "Hash fallback header" },
      ] },
      { row: [
        { name: "hash_on_cookie", label: "Hash on cookie" },
        { name: "hash_on_cookie_path", label: "Cookie path", placeholder: "/" },
      ] },
      { row: [
        { name: "hash_on_query_arg", label: "Hash on query argument" },
        { name: "hash_on_uri_capture", label: "Hash on URI capture" },
      ] },
    ] },
    { name: "host_header", label: "Host header", help: "Host header sent to the targets (optional)." },
    { group: "Health checks", collapsed: true,
      note: "Intervals and counters at 0 switch the corresponding check off (Kong's defaults).", fields: [
        { group: "Active (probes)", fields: [
          { row: [
            { name: "healthchecks.active.type", label: "Type", type: "select",
              options: opts(["http", "https", "tcp", "grpc", "grpcs"]) },
            { name: "healthchecks.active.http_path", label: "HTTP path", placeholder: "/" },
          ] },
          { row: [
            { name: "healthchecks.active.timeout", label: "Timeout (s)", type: "number", step: "any", placeholder: "1" },
            { name: "healthchecks.active.concurrency", label: "Concurrency", type: "number", placeholder: "10" },
          ] },
          { row: [
            { name: "healthchecks.active.healthy.interval", label: "Healthy interval (s)", type: "number", step: "any", placeholder: "0" },
            { name: "healthchecks.active.healthy.successes", label: "Healthy successes", type: "number", placeholder: "0" },
          ] },
          { name: "healthchecks.active.healthy.http_statuses", label: "Healthy HTTP statuses", type: "numlist", placeholder: "200, 302" },
          { row: [
            { name: "healthchecks.active.unhealthy.interval", label: "Unhealthy interval (s)", type: "number", step: "any", placeholder: "0" },
            { name: "healthchecks.active.unhealthy.http_failures", label: "HTTP failures", type: "number", placeholder: "0" },
          ] },
          { row: [
            { name: "healthchecks.active.unhealthy.tcp_failures", label: "TCP failures", type: "number", placeholder: "0" },
            { name: "healthchecks.active.unhealthy.timeouts", label: "Timeouts", type: "number", placeholder: "0" },
          ] },
          { name: "healthchecks.active.unhealthy.http_statuses", label: "Unhealthy HTTP statuses", type: "numlist",
            placeholder: "429, 404, 500, 501, 502, 503, 504, 505" },
        ] },
        { group: "Passive (circuit breaker)", fields: [
          { row: [
            { name: "healthchecks.passive.unhealthy.http_failures", label: "HTTP failures", type: "number", placeholder: "0" },
            { name: "healthchecks.passive.unhealthy.tcp_failures", label: "TCP failures", type: "number", placeholder: "0" },
          ] },
          { row: [
            { name: "healthchecks.passive.unhealthy.timeouts", label: "Timeouts", type: "number", placeholder: "0" },
            { name: "healthchecks.passive.healthy.successes", label: "Healthy successes", type: "number", placeholder: "0" },
          ] },
        ] },
        { name: "healthchecks.threshold", label: "Threshold (% of weight that must be healthy)", type: "number",
          step: "any", min: 0, max: 100, placeholder: "0" },
      ] },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ];
}

const crumbs = [["Upstreams", "#/upstreams"]];

export async function list(view) {
  const columns = [
    { label: "Name", render: (u) => h("a", { href: "#/upstreams/" + u.id }, u.name) },
    { label: "Algorithm", render: (u) => u.algorithm },
    { label: "Slots", render: (u) => dash(u.slots) },
    { label: "Health checks", render: (u) => (checksOn(u) ? badge("on", "ok") : badge("off")) },
    { label: "Tags", render: (u) => tagList(u.tags) },
    { label: "Actions", cls: "actions", render: (u) => [
      viewLink("#/upstreams/" + u.id, u.name),
      editLink("#/upstreams/" + u.id + "/edit", u.name),
      deleteButton("upstream", u.name, "/upstreams/" + u.id, () => lst.reload()),
    ] },
  ];
  const lst = pagedList("/upstreams", columns, { label: "upstreams",
    empty: "No upstreams yet. An upstream is a virtual hostname that load-balances over targets." });
  view.append(pageHead("Upstreams", { actions: h("a", { class: "btn btn-primary", href: "#/upstreams/new" }, "New Upstream") }), lst);
}

// Kong's rule: health checks run when an interval or a passive counter is non-zero.
function checksOn(u) {
  const hc = u.healthchecks || {};
  const a = hc.active || {}, p = hc.passive || {};
  const un = p.unhealthy || {};
  return !!((a.healthy && a.healthy.interval) || (a.unhealthy && a.unhealthy.interval) ||
    un.tcp_failures || un.timeouts || un.http_failures);
}

export async function create(view, params, query, ctx) {
  const form = entityForm(upstreamSpec(), {}, { mode: "create", cancelHref: "#/upstreams",
    onSubmit: async (body) => {
      const u = await post("/upstreams", body);
      toast("Upstream " + u.name + " created.");
      ctx.go("#/upstreams");
    } });
  view.append(pageHead("New Upstream", { crumbs }), form);
}

export async function edit(view, params, query, ctx) {
  const u = await get("/upstreams/" + enc(params.id));
  const form = entityForm(upstreamSpec(), u, { mode: "edit", cancelHref: "#/upstreams/" + u.id,
    onSubmit: async (body) => {
      const r = await patch("/upstreams/" + u.id, body);
      toast("Upstream " + r.name + " updated.");
      ctx.go("#/upstreams/" + r.id);
    } });
  view.append(pageHead("Edit Upstream " + u.name, { crumbs }), form);
}

// Health of one target entry as the control plane reports it. Portico's control plane returns
// the aggregate per target in `data` and each data plane's own report in the top-level
// `data_planes` ({node_id, hostname, stale, reported_at, targets: [...]}); loadHealth() joins
// them into `entry.dps`. Kong's single-node shape has only `health`.
function perDataPlane(entry) {
  return Array.isArray(entry.dps) ? entry.dps : [];
}

function healthCell(entry) {
  if (!entry) return h("span", { class: "muted" }, "no report");
  const dps = perDataPlane(entry);
  if (!dps.length) return healthBadge(entry.health);
  return h("ul", { class: "dp-list" }, dps.map((d) => h("li", {},
    healthBadge(d.health), " ", h("span", { class: "mono" }, d.hostname || String(d.id || d.node_id || "").slice(0, 8)),
    d.updated_at || d.last_seen ? h("span", { class: "muted" }, " · " + fmtAgo(d.updated_at || d.last_seen)) : null)));
}

export async function view(view, params, query, ctx) {
  const u = await get("/upstreams/" + enc(params.id));
  const base = "/upstreams/" + u.id;
  const healthBox = h("p", { class: "live", id: "health-status" });
  const targetsBox = h("div", { id: "targets" });
  let health = null;

  async function loadHealth() {
    try {
      const r = await get(base + "/health");
      health = { byTarget: new Map(), raw: r };
      for (const e of (r && Array.isArray(r.data) ? r.data : [])) {
        const entry = Object.assign({}, e, { dps: [] });
        health.byTarget.set(e.id, entry);
        health.byTarget.set(e.target, entry);
      }
      for (const dp of (r && Array.isArray(r.data_planes) ? r.data_planes : [])) {
        for (const t of (Array.isArray(dp.targets) ? dp.targets : [])) {
          const entry = health.byTarget.get(t.id) || health.byTarget.get(t.target);
          if (entry) entry.dps.push({ node_id: dp.node_id, hostname: dp.hostname,
            health: dp.stale ? "STALE" : t.health, updated_at: dp.reported_at });
        }
      }
      healthBox.textContent = "Health refreshed " + new Date().toLocaleTimeString() + " (every 3 s).";
    } catch (e) {
      health = null;
      healthBox.textContent = e instanceof ApiError && (e.status === 404 || e.status === 405)
        ? "Health is not reported by this control plane." : "Health unavailable: " + e.message;
    }
  }

  let shown = null;
  async function loadTargets() {
    const { data } = await listAll(base + "/targets", 1000);
    // Re-render only when something changed, so keyboard focus in the table survives refreshes.
    const sig = JSON.stringify([data, data.map((t) => health && (health.byTarget.get(t.id) || health.byTarget.get(t.target)))]);
    if (sig === shown) return;
    shown = sig;
    const columns = [
      { label: "Target", render: (t) => h("span", { class: "mono" }, t.target) },
      { label: "Weight", render: (t) => String(t.weight) + (t.weight === 0 ? " (disabled)" : "") },
      health ? { label: "Health", render: (t) => healthCell(health.byTarget.get(t.id) || health.byTarget.get(t.target)) } : null,
      { label: "Tags", render: (t) => tagList(t.tags) },
      { label: "Created", render: (t) => fmtTime(t.created_at) },
      { label: "Actions", cls: "actions", render: (t) => [
        editLink("#/upstreams/" + u.id + "/targets/" + t.id + "/edit", t.target),
        deleteButton("target", t.target, base + "/targets/" + t.id, refresh),
      ] },
    ];
    targetsBox.replaceChildren(table(columns.filter(Boolean), data, { empty: "No targets yet. Add one with New Target." }));
  }

  async function refresh() {
    await loadHealth();
    try { await loadTargets(); } catch (e) { targetsBox.replaceChildren(h("p", { class: "notice bad" }, e.message)); }
  }

  const hc = u.healthchecks || {};
  const act = hc.active || {};
  view.append(
    pageHead("Upstream " + u.name, { crumbs, actions: [
      h("a", { class: "btn", href: "#/upstreams/" + u.id + "/edit", "aria-label": "Edit " + u.name }, "Edit"),
      deleteButton("upstream", u.name, base, () => ctx.go("#/upstreams"), { linkStyle: false }),
    ] }),
    h("section", { class: "panel", "aria-label": "Upstream details" },
      h("dl", { class: "details" },
        h("dt", {}, "ID"), h("dd", { class: "mono" }, u.id),
        h("dt", {}, "Algorithm"), h("dd", {}, u.algorithm),
        h("dt", {}, "Hash on"), h("dd", {}, dash(u.hash_on) ),
        h("dt", {}, "Slots"), h("dd", {}, dash(u.slots)),
        h("dt", {}, "Health checks"), h("dd", {}, checksOn(u)
          ? "on — active " + (act.type || "http") + " " + (act.http_path || "/") +
            ", healthy every " + ((act.healthy || {}).interval || 0) + " s, unhealthy every " + ((act.unhealthy || {}).interval || 0) + " s"
          : "off"),
        h("dt", {}, "Tags"), h("dd", {}, tagList(u.tags)),
        h("dt", {}, "Updated"), h("dd", {}, fmtTime(u.updated_at)))),
    h("div", { class: "section-head" }, h("h2", {}, "Targets"),
      h("a", { class: "btn btn-primary", href: "#/upstreams/" + u.id + "/targets/new" }, "New Target")),
    healthBox,
    targetsBox);
  await refresh();
  ctx.every(3000, refresh);
}

// Target form: host and port are separate fields, sent as Kong's `target` ("host:port").
function targetSpec() {
  return [
    { row: [
      { name: "target", label: "Target", required: true, placeholder: "httpbin.org",
        help: "Hostname or IP address (host:port is accepted too).",
        transform: (v, form) => {
          if (v === null) return null;
          const port = form.elements.namedItem("port").value.trim();
          const hasPort = /^\[.*\]:\d+$/.test(v) || (/:\d+$/.test(v) && v.split(":").length === 2);
          if (port && !hasPort) {
            const host = v.includes(":") && !v.startsWith("[") ? "[" + v + "]" : v;
            return host + ":" + port;
          }
          return v;
        } },
      { name: "port", label: "Port", type: "number", min: 1, max: 65535, placeholder: "8000",
        help: "Kong's default is 8000.", transform: () => undefined },
    ] },
    { name: "weight", label: "Weight", type: "number", min: 0, max: 65535, placeholder: "100",
      help: "0 disables the target." },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ];
}

export async function createTarget(view, params, query, ctx) {
  const u = await get("/upstreams/" + enc(params.id));
  const form = entityForm(targetSpec(), {}, { mode: "create", cancelHref: "#/upstreams/" + u.id,
    onSubmit: async (body) => {
      const t = await post("/upstreams/" + u.id + "/targets", body);
      toast("Target " + t.target + " created.");
      ctx.go("#/upstreams/" + u.id);
    } });
  view.append(pageHead("New Target", { crumbs: crumbs.concat([[u.name, "#/upstreams/" + u.id]]) }), form);
}

export async function editTarget(view, params, query, ctx) {
  const u = await get("/upstreams/" + enc(params.id));
  const t = await get("/upstreams/" + u.id + "/targets/" + enc(params.tid));
  const values = Object.assign({}, t);
  const m = /^(.*):(\d+)$/.exec(t.target || "");
  if (m) { values.target = m[1].replace(/^\[(.*)\]$/, "$1"); values.port = Number(m[2]); }
  const form = entityForm(targetSpec(), values, { mode: "edit", cancelHref: "#/upstreams/" + u.id,
    onSubmit: async (body) => {
      const r = await patch("/upstreams/" + u.id + "/targets/" + t.id, body);
      toast("Target " + r.target + " updated.");
      ctx.go("#/upstreams/" + u.id);
    } });
  view.append(pageHead("Edit Target " + t.target, { crumbs: crumbs.concat([[u.name, "#/upstreams/" + u.id]]) }), form);
}


// cp/gui/www/js/pages/overview.js: Overview: entity counts, data planes connected, config
// revision and node information, refreshed live.
// SPDX-License-Identifier: Apache-2.0
import { apiBase, get, listAll } from "../api.js";
import { h, errorNotice, pageHead } from "../ui.js";
import { isConnected } from "./dataplanes.js";

const ENTITIES = [
  ["Services", "/services", "#/services"],
  ["Routes", "/routes", "#/routes"],
  ["Upstreams", "/upstreams", "#/upstreams"],
  ["Consumers", "/consumers", "#/consumers"],
  ["Plugins", "/plugins", "#/plugins"],
  ["Certificates", "/certificates", "#/certificates"],
];

async function count(path) {
  try {
    const r = await listAll(path, 1000);
    return r.data.length + (r.truncated ? "+" : "");
  } catch (e) {
    return "?";
  }
}

// The configuration revision: Portico reports it in GET / (or /status); failing that, the
// newest revision a data plane applied.
function revisionOf(root, status, dps) {
  for (const o of [root, status, root && root.configuration]) {
    if (!o) continue;
    for (const k of ["config_revision", "configuration_revision", "revision"]) {
      if (o[k] !== undefined && o[k] !== null) return String(o[k]);
    }
  }
  const applied = dps.map((d) => d.applied_revision).filter((x) => typeof x === "number");
  return applied.length ? Math.max(...applied) + " (applied)" : "—";
}

export async function show(view, params, query, ctx) {
  const cards = h("div", { class: "cards", id: "counts" });
  const cluster = h("div", { class: "cards", id: "cluster" });
  const node = h("section", { class: "panel", "aria-label": "Control plane" });
  const status = h("p", { class: "live" });
  let shown = null;

  async function load() {
    const [counts, root, st, dps] = await Promise.all([
      Promise.all(ENTITIES.map(([, p]) => count(p))),
      get("/").catch((e) => ({ error: e })),
      get("/status").catch(() => null),
      listAll("/clustering/data-planes", 1000).then((r) => r.data).catch(() => null),
    ]);
    if (!ctx.current()) return;
    status.textContent = "Refreshed " + new Date().toLocaleTimeString() + " (every 5 s).";
    // Re-render only on change, so keyboard focus on a card survives the refresh.
    const sig = JSON.stringify([counts, root.error ? String(root.error.message) : root, st,
      (dps || []).map((d) => [d.id, isConnected(d), d.config_hash, d.applied_revision])]);
    if (sig === shown) return;
    shown = sig;
    cards.replaceChildren(...ENTITIES.map(([label, , href], i) =>
      h("a", { class: "card", href }, h("span", { class: "num" }, counts[i]), h("span", { class: "label" }, label))));
    const list = dps || [];
    const connected = list.filter(isConnected).length;
    const hashes = new Set(list.filter(isConnected).map((d) => d.config_hash).filter(Boolean));
    cluster.replaceChildren(
      h("a", { class: "card", href: "#/data-planes" }, h("span", { class: "num", id: "dp-connected" }, dps ? String(connected) : "?"),
        h("span", { class: "label" }, "Data planes connected" + (dps ? " (of " + list.length + ")" : ""))),
      h("div", { class: "card" }, h("span", { class: "num", id: "config-revision" }, revisionOf(root.error ? null : root, st, list)),
        h("span", { class: "label" }, "Configuration revision")),
      h("div", { class: "card" }, h("span", { class: "num" }, hashes.size <= 1 ? (connected ? "in sync" : "—") : hashes.size + " hashes"),
        h("span", { class: "label" }, "Data plane config hashes")));
    if (root.error) {
      node.replaceChildren(errorNotice(root.error));
    } else {
      const db = st && st.database ? (st.database.reachable ? "reachable" : "unreachable") : "—";
      node.replaceChildren(h("dl", { class: "details" },
        h("dt", {}, "Admin API"), h("dd", { class: "mono" }, apiBase()),
        h("dt", {}, "Version"), h("dd", {}, String(root.version || "—")),
        h("dt", {}, "Hostname"), h("dd", {}, String(root.hostname || "—")),
        h("dt", {}, "Node ID"), h("dd", { class: "mono" }, String(root.node_id || "—")),
        h("dt", {}, "Database"), h("dd", {}, db)));
    }
  }
  view.append(pageHead("Overview"), status,
    h("h2", {}, "Configuration"), cards,
    h("h2", {}, "Cluster"), cluster,
    h("h2", {}, "Control plane"), node);
  await load();
  ctx.every(5000, load);
}

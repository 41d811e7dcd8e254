// cp/gui/www/js/pages/dataplanes.js: Data planes known to the cluster (GET
// /clustering/data-planes): hostname, version, connected, applied revision and hash, last
// error, certificate expiry, last seen. Refreshed live.
// SPDX-License-Identifier: Apache-2.0
import { listAll } from "../api.js";
import { h, badge, dash, errorNotice, fmtAgo, fmtTime, pageHead, table } from "../ui.js";
import { shortId } from "./common.js";

// A data plane counts as connected when the control plane says so (Portico's `connected`), or,
// for Kong's shape without that field, when it was seen in the last 60 s.
export function isConnected(dp) {
  if (typeof dp.connected === "boolean") return dp.connected;
  const seen = typeof dp.last_seen === "number" ? dp.last_seen * 1000 : Date.parse(dp.last_seen);
  return !isNaN(seen) && Date.now() - seen < 60000;
}

function certExpiry(dp) {
  const v = (dp.cert_details && dp.cert_details.expiry_timestamp) ?? dp.cert_expiry ?? null;
  if (v === null || v === undefined) return h("span", { class: "muted" }, "—");
  const days = Math.floor((v * 1000 - Date.now()) / 86400000);
  return badge(new Date(v * 1000).toISOString().slice(0, 10) + " (" + days + " days)",
    days < 0 ? "bad" : days < 30 ? "warn" : "ok");
}

function syncBadge(s) {
  if (!s) return h("span", { class: "muted" }, "—");
  return badge(s, s === "normal" ? "ok" : s === "unknown" ? "" : "bad");
}

export async function list(view, params, query, ctx) {
  const box = h("div", { id: "data-planes" });
  const status = h("p", { class: "live", id: "dp-refresh" });
  let shown = null;
  async function load() {
    try {
      const { data } = await listAll("/clustering/data-planes", 1000);
      const sig = JSON.stringify(data.map((d) => Object.assign({}, d, { last_seen: fmtAgo(d.last_seen) })));
      status.textContent = data.filter(isConnected).length + " of " + data.length + " connected · refreshed " +
        new Date().toLocaleTimeString() + " (every 3 s)";
      if (sig === shown) return;
      shown = sig;
      data.sort((a, b) => String(a.hostname).localeCompare(String(b.hostname)) || String(a.id).localeCompare(String(b.id)));
      const columns = [
        { label: "Hostname", cls: "nowrap", render: (d) => h("strong", {}, dash(d.hostname)) },
        { label: "ID", render: (d) => h("span", { class: "mono", title: d.id }, shortId(d.id)) },
        { label: "IP", render: (d) => dash(d.ip) },
        { label: "Version", render: (d) => dash(d.version) },
        { label: "Connected", render: (d) => (isConnected(d) ? badge("connected", "ok") : badge("disconnected", "bad")) },
        { label: "Sync", render: (d) => syncBadge(d.sync_status) },
        { label: "Applied revision", render: (d) => dash(d.applied_revision) },
        { label: "Config hash", render: (d) => (d.config_hash ? h("span", { class: "mono", title: d.config_hash }, String(d.config_hash).slice(0, 12)) : dash(null)) },
        { label: "Last error", render: (d) => (d.last_error ? h("span", { class: "badge bad" }, d.last_error) : dash(null)) },
        { label: "Cert expiry", cls: "nowrap", render: certExpiry },
        { label: "Last seen", cls: "nowrap", render: (d) => h("span", { title: fmtTime(d.last_seen) }, fmtAgo(d.last_seen)) },
      ];
      box.replaceChildren(table(columns, data, { empty: "No data plane has connected to this cluster yet." }));
    } catch (e) {
      shown = null;
      box.replaceChildren(errorNotice(e));
    }
  }
  view.append(pageHead("Data planes", { subtitle: "Data planes proxy traffic with the configuration this control plane pushes to them." }),
    status, box);
  await load();
  ctx.every(3000, load);
}

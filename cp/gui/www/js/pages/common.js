// cp/gui/www/js/pages/common.js: pieces shared by the entity pages: delete buttons, name
// display, option lists of services/routes/consumers/certificates for reference selects.
// SPDX-License-Identifier: Apache-2.0
import { del, listAll } from "../api.js";
import { h, confirmDialog, toast } from "../ui.js";

export const PROTOCOLS = ["http", "https", "grpc", "grpcs", "tcp", "tls", "tls_passthrough", "udp"];

export function displayName(e) {
  if (!e) return "—";
  return e.name || e.username || e.custom_id || e.target || e.id;
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "—";
}

// A button that asks, deletes `path`, reports and then calls after().
export function deleteButton(what, label, path, after, { linkStyle = true } = {}) {
  return h("button", { type: "button", class: linkStyle ? "linklike danger" : "btn btn-danger",
    "aria-label": "Delete " + label,
    onclick: async () => {
      if (!(await confirmDialog("Delete " + what + " " + label + "? This cannot be undone."))) return;
      try {
        await del(path);
        toast(what[0].toUpperCase() + what.slice(1) + " " + label + " deleted.");
        after();
      } catch (e) {
        toast("Could not delete " + label + ": " + e.message, true);
      }
    } }, "Delete");
}

export function viewLink(href, label) {
  return h("a", { href, "aria-label": "View " + label }, "View");
}

export function editLink(href, label) {
  return h("a", { href, "aria-label": "Edit " + label }, "Edit");
}

// Options [[id, label]] for a reference select, from a collection (at most 1000 entries).
export async function refOptions(path) {
  try {
    const { data } = await listAll(path, 1000);
    return data.map((e) => [e.id, displayName(e)]).sort((a, b) => a[1].localeCompare(b[1]));
  } catch (e) {
    return [];
  }
}

export function nameOf(options, id) {
  const o = options.find(([v]) => v === id);
  return o ? o[1] : shortId(id);
}

// cp/gui/www/js/pages/consumers.js: Consumers: list, create, edit, delete, view with key-auth
// credentials (list, create, delete) and the consumer's plugins.
// SPDX-License-Identifier: Apache-2.0
import { enc, get, patch, post } from "../api.js";
import { h, dash, entityForm, fmtTime, pageHead, pagedList, tagList, toast } from "../ui.js";
import { deleteButton, displayName, editLink, viewLink } from "./common.js";

function consumerSpec() {
  return [
    { name: "username", label: "Username", help: "Set a username, a custom ID, or both." },
    { name: "custom_id", label: "Custom ID", help: "An identifier from your own user store." },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ];
}

const crumbs = [["Consumers", "#/consumers"]];

export async function list(view) {
  const columns = [
    { label: "Username", render: (c) => h("a", { href: "#/consumers/" + c.id }, displayName(c)) },
    { label: "Custom ID", render: (c) => dash(c.custom_id) },
    { label: "Tags", render: (c) => tagList(c.tags) },
    { label: "Created", render: (c) => fmtTime(c.created_at) },
    { label: "Actions", cls: "actions", render: (c) => [
      viewLink("#/consumers/" + c.id, displayName(c)),
      editLink("#/consumers/" + c.id + "/edit", displayName(c)),
      deleteButton("consumer", displayName(c), "/consumers/" + c.id, () => lst.reload()),
    ] },
  ];
  const lst = pagedList("/consumers", columns, { label: "consumers",
    empty: "No consumers yet. A consumer is a client of your APIs, identified by its credentials." });
  view.append(pageHead("Consumers", { actions: h("a", { class: "btn btn-primary", href: "#/consumers/new" }, "New Consumer") }), lst);
}

export async function create(view, params, query, ctx) {
  const form = entityForm(consumerSpec(), {}, { mode: "create", cancelHref: "#/consumers",
    onSubmit: async (body) => {
      const c = await post("/consumers", body);
      toast("Consumer " + displayName(c) + " created.");
      ctx.go("#/consumers/" + c.id);
    } });
  view.append(pageHead("New Consumer", { crumbs }), form);
}

export async function edit(view, params, query, ctx) {
  const c = await get("/consumers/" + enc(params.id));
  const form = entityForm(consumerSpec(), c, { mode: "edit", cancelHref: "#/consumers/" + c.id,
    onSubmit: async (body) => {
      const u = await patch("/consumers/" + c.id, body);
      toast("Consumer " + displayName(u) + " updated.");
      ctx.go("#/consumers/" + u.id);
    } });
  view.append(pageHead("Edit Consumer " + displayName(c), { crumbs }), form);
}

export async function view(view, params, query, ctx) {
  const c = await get("/consumers/" + enc(params.id));
  const name = displayName(c);
  const base = "/consumers/" + c.id;
  const keyCols = [
    { label: "Key", render: (k) => h("code", {}, k.key) },
    { label: "Tags", render: (k) => tagList(k.tags) },
    { label: "Created", render: (k) => fmtTime(k.created_at) },
    { label: "Actions", cls: "actions", render: (k) =>
      deleteButton("key", (k.key || "").slice(0, 6) + "…", base + "/key-auth/" + k.id, () => keys.reload()) },
  ];
  const keys = pagedList(base + "/key-auth", keyCols, { tagFilter: false,
    empty: "No key-auth credentials. Add one below (leave the key empty to have one generated)." });
  const keyForm = entityForm([
    { row: [
      { name: "key", label: "Key", help: "Leave empty to generate a random key." },
      { name: "tags", label: "Tags", type: "tags" },
    ] },
  ], {}, { mode: "create", submitLabel: "Add key", id: "key-auth-form",
    onSubmit: async (body, form) => {
      await post(base + "/key-auth", body);
      toast("Key-auth credential added to " + name + ".");
      form.reset();
      keys.reload();
    } });
  const pluginCols = [
    { label: "Plugin", render: (p) => p.name },
    { label: "Enabled", render: (p) => (p.enabled ? "yes" : "no") },
    { label: "Actions", cls: "actions", render: (p) => [
      editLink("#/plugins/" + p.id + "/edit", p.name),
      deleteButton("plugin", p.name, "/plugins/" + p.id, () => plugins.reload()),
    ] },
  ];
  const plugins = pagedList(base + "/plugins", pluginCols, { tagFilter: false, empty: "No plugins for this consumer." });
  view.append(
    pageHead("Consumer " + name, { crumbs, actions: [
      h("a", { class: "btn", href: "#/consumers/" + c.id + "/edit", "aria-label": "Edit " + name }, "Edit"),
      deleteButton("consumer", name, base, () => ctx.go("#/consumers"), { linkStyle: false }),
    ] }),
    h("section", { class: "panel", "aria-label": "Consumer details" },
      h("dl", { class: "details" },
        h("dt", {}, "ID"), h("dd", { class: "mono" }, c.id),
        h("dt", {}, "Username"), h("dd", {}, dash(c.username)),
        h("dt", {}, "Custom ID"), h("dd", {}, dash(c.custom_id)),
        h("dt", {}, "Tags"), h("dd", {}, tagList(c.tags)),
        h("dt", {}, "Created"), h("dd", {}, fmtTime(c.created_at)))),
    h("h2", {}, "Key-auth credentials"),
    keys,
    h("section", { class: "panel", "aria-label": "New key-auth credential" }, keyForm),
    h("div", { class: "section-head" }, h("h2", {}, "Plugins"),
      h("a", { class: "btn", href: "#/plugins/new?consumer=" + c.id }, "New Plugin")),
    plugins);
}

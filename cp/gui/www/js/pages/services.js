// cp/gui/www/js/pages/services.js: Services: list, create, view (with its routes and plugins),
// edit, delete.
// SPDX-License-Identifier: Apache-2.0
import { enc, get, patch, post } from "../api.js";
import { h, dash, entityForm, fmtTime, pageHead, pagedList, tagList, toast } from "../ui.js";
import { PROTOCOLS, deleteButton, displayName, editLink, viewLink } from "./common.js";

export function serviceSpec(mode) {
  return [
    { name: "name", label: "Name", help: "Letters, digits and . - _ ~ only." },
    mode === "create" ? { name: "url", label: "URL",
      placeholder: "http://mockbin.org/request",
      help: "Shorthand for protocol, host, port and path; leave empty to set them below." } : null,
    { row: [
      { name: "protocol", label: "Protocol", type: "select", required: mode !== "create", def: "http",
        options: PROTOCOLS.map((p) => [p, p]) },
      { name: "host", label: "Host", required: mode !== "create",
        help: "A hostname, an IP address, or the name of an upstream to load-balance over." },
    ] },
    { row: [
      { name: "port", label: "Port", type: "number", min: 0, max: 65535, placeholder: "80" },
      { name: "path", label: "Path", placeholder: "/" },
    ] },
    { group: "Advanced", collapsed: true, fields: [
      { row: [
        { name: "retries", label: "Retries", type: "number", min: 0, max: 32767, placeholder: "5" },
        { name: "connect_timeout", label: "Connect timeout (ms)", type: "number", placeholder: "60000" },
      ] },
      { row: [
        { name: "write_timeout", label: "Write timeout (ms)", type: "number", placeholder: "60000" },
        { name: "read_timeout", label: "Read timeout (ms)", type: "number", placeholder: "60000" },
      ] },
    ] },
    { name: "enabled", label: "Enabled", type: "checkbox", def: true },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ].filter(Boolean);
}

const crumbs = [["Services", "#/services"]];

export async function list(view) {
  const columns = [
    { label: "Name", render: (s) => h("a", { href: "#/services/" + s.id }, displayName(s)) },
    { label: "Protocol", render: (s) => s.protocol },
    { label: "Host", render: (s) => s.host },
    { label: "Port", render: (s) => dash(s.port) },
    { label: "Path", render: (s) => dash(s.path) },
    { label: "Tags", render: (s) => tagList(s.tags) },
    { label: "Actions", cls: "actions", render: (s) => [
      viewLink("#/services/" + s.id, displayName(s)),
      editLink("#/services/" + s.id + "/edit", displayName(s)),
      deleteButton("service", displayName(s), "/services/" + s.id, () => lst.reload()),
    ] },
  ];
  const lst = pagedList("/services", columns, { label: "services",
    empty: "No services yet. A service is an upstream API that routes send traffic to." });
  view.append(pageHead("Services", { actions: h("a", { class: "btn btn-primary", href: "#/services/new" }, "New Service") }), lst);
}

export async function create(view, params, query, ctx) {
  const form = entityForm(serviceSpec("create"), {}, { mode: "create", cancelHref: "#/services",
    onSubmit: async (body) => {
      // The url shorthand replaces the separate fields (the Admin API derives them from it).
      if (body.url) for (const k of ["protocol", "host", "port", "path"]) delete body[k];
      const s = await post("/services", body);
      toast("Service " + displayName(s) + " created.");
      ctx.go("#/services/" + s.id);
    } });
  view.append(pageHead("New Service", { crumbs }), form);
}

export async function edit(view, params, query, ctx) {
  const s = await get("/services/" + enc(params.id));
  const form = entityForm(serviceSpec("edit"), s, { mode: "edit", cancelHref: "#/services/" + s.id,
    onSubmit: async (body) => {
      const u = await patch("/services/" + s.id, body);
      toast("Service " + displayName(u) + " updated.");
      ctx.go("#/services/" + u.id);
    } });
  view.append(pageHead("Edit Service " + displayName(s), { crumbs }), form);
}

export async function view(view, params, query, ctx) {
  const s = await get("/services/" + enc(params.id));
  const name = displayName(s);
  const routeCols = [
    { label: "Name", render: (r) => displayName(r) },
    { label: "Protocols", render: (r) => dash(r.protocols) },
    { label: "Hosts", render: (r) => dash(r.hosts) },
    { label: "Paths", render: (r) => dash(r.paths) },
    { label: "Methods", render: (r) => dash(r.methods) },
    { label: "Actions", cls: "actions", render: (r) => [
      editLink("#/routes/" + r.id + "/edit", displayName(r)),
      deleteButton("route", displayName(r), "/routes/" + r.id, () => routes.reload()),
    ] },
  ];
  const routes = pagedList("/services/" + s.id + "/routes", routeCols, { tagFilter: false,
    empty: "No routes: this service receives no traffic yet." });
  const pluginCols = [
    { label: "Plugin", render: (p) => p.name },
    { label: "Enabled", render: (p) => (p.enabled ? "yes" : "no") },
    { label: "Actions", cls: "actions", render: (p) => [
      editLink("#/plugins/" + p.id + "/edit", p.name),
      deleteButton("plugin", p.name, "/plugins/" + p.id, () => plugins.reload()),
    ] },
  ];
  const plugins = pagedList("/services/" + s.id + "/plugins", pluginCols, { tagFilter: false,
    empty: "No plugins on this service." });
  view.append(
    pageHead("Service " + name, { crumbs, actions: [
      h("a", { class: "btn", href: "#/services/" + s.id + "/edit", "aria-label": "Edit " + name }, "Edit"),
      deleteButton("service", name, "/services/" + s.id, () => ctx.go("#/services"), { linkStyle: false }),
    ] }),
    h("section", { class: "panel", "aria-label": "Service details" },
      h("dl", { class: "details" },
        h("dt", {}, "ID"), h("dd", { class: "mono" }, s.id),
        h("dt", {}, "Name"), h("dd", {}, dash(s.name)),
        h("dt", {}, "Protocol"), h("dd", {}, s.protocol),
        h("dt", {}, "Host"), h("dd", { id: "service-host" }, s.host),
        h("dt", {}, "Port"), h("dd", {}, dash(s.port)),
        h("dt", {}, "Path"), h("dd", {}, dash(s.path)),
        h("dt", {}, "Retries"), h("dd", {}, dash(s.retries)),
        h("dt", {}, "Timeouts (ms)"), h("dd", {}, [s.connect_timeout, s.write_timeout, s.read_timeout].join(" / ") + " (connect / write / read)"),
        h("dt", {}, "Enabled"), h("dd", {}, s.enabled === false ? "no" : "yes"),
        h("dt", {}, "Tags"), h("dd", {}, tagList(s.tags)),
        h("dt", {}, "Updated"), h("dd", {}, fmtTime(s.updated_at)))),
    h("div", { class: "section-head" }, h("h2", {}, "Routes"),
      h("a", { class: "btn", href: "#/routes/new?service=" + s.id }, "New Route")),
    routes,
    h("div", { class: "section-head" }, h("h2", {}, "Plugins"),
      h("a", { class: "btn", href: "#/plugins/new?service=" + s.id }, "New Plugin")),
    plugins);
}

// cp/gui/www/js/pages/routes.js: Routes: list (with their services), create, edit, delete.
// SPDX-License-Identifier: Apache-2.0
import { enc, get, patch, post } from "../api.js";
import { h, dash, entityForm, pageHead, pagedList, tagList, toast } from "../ui.js";
import { PROTOCOLS, deleteButton, displayName, editLink, nameOf, refOptions } from "./common.js";

function routeSpec(services) {
  return [
    { name: "name", label: "Name" },
    { name: "service", label: "Service", type: "ref", options: services, emptyLabel: "— none —" },
    { name: "protocols", label: "Protocols", type: "list", def: ["http", "https"],
      help: "Comma separated: " + PROTOCOLS.join(", ") + "." },
    { name: "methods", label: "Methods", type: "list", placeholder: "GET, POST", transform: (v) => v && v.map((m) => m.toUpperCase()) },
    { name: "hosts", label: "Hosts", type: "list", placeholder: "example.com, *.example.org" },
    { name: "paths", label: "Paths", type: "list", placeholder: "/mock, ~/items/\\d+$" },
    { row: [
      { name: "strip_path", label: "Strip path", type: "checkbox", def: true },
      { name: "preserve_host", label: "Preserve host", type: "checkbox", def: false },
    ] },
    { group: "Advanced", collapsed: true, fields: [
      { row: [
        { name: "regex_priority", label: "Regex priority", type: "number", placeholder: "0" },
        { name: "https_redirect_status_code", label: "HTTPS redirect status", type: "select",
          options: [426, 301, 302, 307, 308].map((c) => [c, String(c)]),
          transform: (v) => (v === null ? null : Number(v)) },
      ] },
      { name: "snis", label: "SNIs", type: "list" },
      { name: "headers", label: "Headers (JSON)", type: "json", rows: 3, placeholder: '{"x-version": ["2"]}' },
    ] },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ];
}

const crumbs = [["Routes", "#/routes"]];

export async function list(view) {
  const services = await refOptions("/services");
  const columns = [
    { label: "Name", render: (r) => h("a", { href: "#/routes/" + r.id + "/edit" }, displayName(r)) },
    { label: "Service", render: (r) => (r.service ? h("a", { href: "#/services/" + r.service.id }, nameOf(services, r.service.id)) : "—") },
    { label: "Protocols", render: (r) => dash(r.protocols) },
    { label: "Hosts", render: (r) => dash(r.hosts) },
    { label: "Paths", render: (r) => dash(r.paths) },
    { label: "Methods", render: (r) => dash(r.methods) },
    { label: "Tags", render: (r) => tagList(r.tags) },
    { label: "Actions", cls: "actions", render: (r) => [
      editLink("#/routes/" + r.id + "/edit", displayName(r)),
      deleteButton("route", displayName(r), "/routes/" + r.id, () => lst.reload()),
    ] },
  ];
  const lst = pagedList("/routes", columns, { label: "routes",
    empty: "No routes yet. A route matches requests (hosts, paths, methods) and sends them to a service." });
  view.append(pageHead("Routes", { actions: h("a", { class: "btn btn-primary", href: "#/routes/new" }, "New Route") }), lst);
}

export async function create(view, params, query, ctx) {
  const services = await refOptions("/services");
  const initial = query.service ? { service: { id: query.service } } : {};
  const back = query.service ? "#/services/" + query.service : "#/routes";
  const form = entityForm(routeSpec(services), initial, { mode: "create", cancelHref: back,
    onSubmit: async (body) => {
      const r = await post("/routes", body);
      toast("Route " + displayName(r) + " created.");
      ctx.go(r.service ? "#/services/" + r.service.id : "#/routes");
    } });
  view.append(pageHead("New Route", { crumbs }), form);
}

export async function edit(view, params, query, ctx) {
  const [r, services] = await Promise.all([get("/routes/" + enc(params.id)), refOptions("/services")]);
  const form = entityForm(routeSpec(services), r, { mode: "edit", cancelHref: "#/routes",
    onSubmit: async (body) => {
      const u = await patch("/routes/" + r.id, body);
      toast("Route " + displayName(u) + " updated.");
      ctx.go("#/routes");
    } });
  view.append(pageHead("Edit Route " + displayName(r), { crumbs, actions:
    deleteButton("route", displayName(r), "/routes/" + r.id, () => ctx.go("#/routes"), { linkStyle: false }) }), form);
}

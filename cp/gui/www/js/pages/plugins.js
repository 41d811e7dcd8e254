// cp/gui/www/js/pages/plugins.js: Plugins, global and scoped to a service, route or consumer:
// list, create and edit with forms for key-auth, rate-limiting and proxy-cache (a JSON editor
// for any other plugin), enable/disable, delete.
// SPDX-License-Identifier: Apache-2.0
import { enc, get, patch, post } from "../api.js";
import { h, badge, dash, entityForm, pageHead, pagedList, tagList, toast } from "../ui.js";
import { deleteButton, editLink, nameOf, refOptions } from "./common.js";

const KNOWN = ["key-auth", "rate-limiting", "proxy-cache"];

// config.* fields of the plugins with a form (Kong's schemas and defaults).
function configSpec(name) {
  const opts = (l) => l.map((x) => [x, x]);
  switch (name) {
  case "key-auth":
    return [
      { name: "config.key_names", label: "Key names", type: "list", def: ["apikey"],
        help: "Header, query or body parameter names that carry the key." },
      { row: [
        { name: "config.key_in_header", label: "Key in header", type: "checkbox", def: true },
        { name: "config.key_in_query", label: "Key in query", type: "checkbox", def: true },
        { name: "config.key_in_body", label: "Key in body", type: "checkbox", def: false },
      ] },
      { row: [
        { name: "config.hide_credentials", label: "Hide credentials from the upstream", type: "checkbox", def: false },
        { name: "config.run_on_preflight", label: "Run on preflight (OPTIONS)", type: "checkbox", def: true },
      ] },
      { name: "config.anonymous", label: "Anonymous consumer", help: "ID or username of the consumer used when no key is given (optional)." },
      { name: "config.realm", label: "Realm", help: "Sent in WWW-Authenticate (optional)." },
    ];
  case "rate-limiting":
    return [
      { row: ["second", "minute", "hour"].map((p) => ({ name: "config." + p, label: "Per " + p, type: "number", min: 0, step: "any" })) },
      { row: ["day", "month", "year"].map((p) => ({ name: "config." + p, label: "Per " + p, type: "number", min: 0, step: "any" })) },
      { row: [
        { name: "config.limit_by", label: "Limit by", type: "select", def: "consumer",
          options: opts(["consumer", "credential", "ip", "service", "header", "path"]) },
        { name: "config.policy", label: "Policy", type: "select", def: "local", options: opts(["local"]) },
      ] },
      { row: [
        { name: "config.header_name", label: "Header name", help: "When limiting by header." },
        { name: "config.path", label: "Path", help: "When limiting by path." },
      ] },
      { row: [
        { name: "config.error_code", label: "Error status", type: "number", placeholder: "429" },
        { name: "config.error_message", label: "Error message", placeholder: "API rate limit exceeded" },
      ] },
      { row: [
        { name: "config.fault_tolerant", label: "Fault tolerant", type: "checkbox", def: true },
        { name: "config.hide_client_headers", label: "Hide rate-limit headers", type: "checkbox", def: false },
      ] },
    ];
  case "proxy-cache":
    return [
      { row: [
        { name: "config.strategy", label: "Strategy", type: "select", required: true, def: "memory", options: opts(["memory"]) },
        { name: "config.cache_ttl", label: "Cache TTL (s)", type: "number", placeholder: "300" },
      ] },
      { name: "config.response_code", label: "Response codes", type: "numlist", def: [200, 301, 404] },
      { name: "config.request_method", label: "Request methods", type: "list", def: ["GET", "HEAD"] },
      { name: "config.content_type", label: "Content types", type: "list", def: ["text/plain", "application/json"] },
      { row: [
        { name: "config.vary_headers", label: "Vary headers", type: "list" },
        { name: "config.vary_query_params", label: "Vary query parameters", type: "list" },
      ] },
      { row: [
        { name: "config.cache_control", label: "Honour Cache-Control", type: "checkbox", def: false },
        { name: "config.ignore_uri_case", label: "Ignore URI case", type: "checkbox", def: false },
      ] },
    ];
  default:
    return [{ name: "config", label: "Configuration (JSON)", type: "json", rows: 10, placeholder: "{}" }];
  }
}

function pluginSpec(name, names, refs, onName, isEdit) {
  return [
    { name: "name", label: "Plugin", type: "select", required: true, readonly: isEdit,
      options: names.map((n) => [n, n]), onchange: onName },
    { name: "instance_name", label: "Instance name" },
    { group: "Scope", note: "Leave all three empty for a global plugin.", fields: [
      { row: [
        { name: "service", label: "Service", type: "ref", options: refs.services, emptyLabel: "— any —" },
        { name: "route", label: "Route", type: "ref", options: refs.routes, emptyLabel: "— any —" },
        { name: "consumer", label: "Consumer", type: "ref", options: refs.consumers, emptyLabel: "— any —" },
      ] },
    ] },
    { group: "Configuration: " + name, fields: configSpec(name) },
    { name: "protocols", label: "Protocols", type: "list", help: "Empty = the plugin's default (grpc, grpcs, http, https)." },
    { name: "enabled", label: "Enabled", type: "checkbox", def: true },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ];
}

async function loadRefs() {
  const [services, routes, consumers] = await Promise.all([refOptions("/services"), refOptions("/routes"), refOptions("/consumers")]);
  return { services, routes, consumers };
}

async function pluginNames() {
  let names = KNOWN.slice();
  try {
    const r = await get("/plugins/enabled");
    if (r && Array.isArray(r.enabled_plugins)) names = Array.from(new Set(names.concat(r.enabled_plugins)));
  } catch (e) { /* older control planes: the three known plugins */ }
  return names.sort();
}

function scopeOf(p, refs) {
  const parts = [];
  if (p.service) parts.push("service " + nameOf(refs.services, p.service.id));
  if (p.route) parts.push("route " + nameOf(refs.routes, p.route.id));
  if (p.consumer) parts.push("consumer " + nameOf(refs.consumers, p.consumer.id));
  return parts.length ? parts.join(", ") : "global";
}

const crumbs = [["Plugins", "#/plugins"]];

export async function list(view) {
  const refs = await loadRefs();
  const columns = [
    { label: "Plugin", render: (p) => h("a", { href: "#/plugins/" + p.id + "/edit" }, p.instance_name || p.name) },
    { label: "Name", render: (p) => p.name },
    { label: "Scope", render: (p) => scopeOf(p, refs) },
    { label: "Enabled", render: (p) => (p.enabled ? badge("enabled", "ok") : badge("disabled")) },
    { label: "Protocols", render: (p) => dash(p.protocols) },
    { label: "Tags", render: (p) => tagList(p.tags) },
    { label: "Actions", cls: "actions", render: (p) => [
      h("button", { type: "button", class: "linklike", onclick: async () => {
        try {
          await patch("/plugins/" + p.id, { enabled: !p.enabled });
          toast("Plugin " + p.name + (p.enabled ? " disabled." : " enabled."));
          lst.reload();
        } catch (e) { toast(e.message, true); }
      } }, p.enabled ? "Disable" : "Enable"),
      editLink("#/plugins/" + p.id + "/edit", p.name),
      deleteButton("plugin", p.name, "/plugins/" + p.id, () => lst.reload()),
    ] },
  ];
  const lst = pagedList("/plugins", columns, { label: "plugins",
    empty: "No plugins yet. Plugins add authentication, rate limiting, caching and more." });
  view.append(pageHead("Plugins", { actions: h("a", { class: "btn btn-primary", href: "#/plugins/new" }, "New Plugin") }), lst);
}

export async function create(view, params, query, ctx) {
  const [refs, names] = await Promise.all([loadRefs(), pluginNames()]);
  let name = query.name && names.includes(query.name) ? query.name : "key-auth";
  const initial = { name };
  for (const k of ["service", "route", "consumer"]) if (query[k]) initial[k] = { id: query[k] };
  const back = query.service ? "#/services/" + query.service : query.consumer ? "#/consumers/" + query.consumer : "#/plugins";
  const onName = (e) => {
    name = e.target.value;
    const current = {};
    for (const k of ["service", "route", "consumer"]) {
      const v = form.elements.namedItem(k).value;
      if (v) current[k] = { id: v };
    }
    current.name = name;
    form.refill(pluginSpec(name, names, refs, onName, false), current);
    form.elements.namedItem("name").focus();
  };
  const form = entityForm(pluginSpec(name, names, refs, onName, false), initial, { mode: "create", cancelHref: back,
    onSubmit: async (body) => {
      const p = await post("/plugins", body);
      toast("Plugin " + p.name + " added.");
      ctx.go(back);
    } });
  view.append(pageHead("New Plugin", { crumbs }), form);
}

export async function edit(view, params, query, ctx) {
  const [p, refs, names] = await Promise.all([get("/plugins/" + enc(params.id)), loadRefs(), pluginNames()]);
  const form = entityForm(pluginSpec(p.name, names, refs, null, true), p, { mode: "edit", cancelHref: "#/plugins",
    onSubmit: async (body) => {
      const u = await patch("/plugins/" + p.id, body);
      toast("Plugin " + u.name + " updated.");
      ctx.go("#/plugins");
    } });
  const sel = form.elements.namedItem("name");
  if (sel) sel.disabled = true;
  view.append(pageHead("Edit Plugin " + (p.instance_name || p.name), { crumbs, actions:
    deleteButton("plugin", p.name, "/plugins/" + p.id, () => ctx.go("#/plugins"), { linkStyle: false }) }), form);
}

// cp/gui/www/js/ui.js: DOM helpers of Portico Manager: element builder, tables with
// pagination and tag filter, forms built from field specs with Kong's field errors shown next
// to the fields they name, dialogs and notices.
// SPDX-License-Identifier: Apache-2.0
import { ApiError, listPage } from "./api.js";

// h("a", {href: "#/"}, "text", child...) builds an element. Attributes starting with "on" are
// event listeners; null/undefined/false attributes are skipped; children may be nested arrays.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function toast(message, bad = false) {
  const box = document.getElementById("toasts");
  const t = h("div", { class: "toast" + (bad ? " bad" : ""), role: bad ? "alert" : null }, message);
  box.appendChild(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
}

// Asks for confirmation with the native modal dialog (focus trapped, Escape cancels).
export function confirmDialog(text, okLabel = "Delete") {
  const dlg = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    const done = () => {
      dlg.removeEventListener("close", done);
      resolve(dlg.returnValue === "ok");
    };
    dlg.returnValue = "cancel";
    dlg.addEventListener("close", done);
    dlg.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

export function badge(text, kind) {
  return h("span", { class: "badge" + (kind ? " " + kind : "") }, text);
}

export function healthBadge(health) {
  const kinds = { HEALTHY: "ok", UNHEALTHY: "bad", DNS_ERROR: "bad", HEALTHCHECKS_OFF: "" };
  const labels = { HEALTHY: "Healthy", UNHEALTHY: "Unhealthy", DNS_ERROR: "DNS error",
                   HEALTHCHECKS_OFF: "Health checks off", MIXED: "Mixed", STALE: "Stale (disconnected)",
                   UNKNOWN: "No report" };
  return badge(labels[health] || health || "Unknown", kinds[health] ?? "warn");
}

export function tagList(tags) {
  if (!Array.isArray(tags) || !tags.length) return h("span", { class: "muted" }, "—");
  return tags.map((t) => h("span", { class: "tag" }, t));
}

// Unix seconds (or ms precision seconds) to a local date and time.
export function fmtTime(ts) {
  if (ts === null || ts === undefined || ts === "") return "—";
  let d;
  if (typeof ts === "number") d = new Date(ts * 1000);
  else d = new Date(ts);
  if (isNaN(d.getTime())) return String(ts);
  return d.toLocaleString();
}

export function fmtAgo(ts) {
  if (ts === null || ts === undefined || ts === "") return "—";
  const ms = typeof ts === "number" ? ts * 1000 : Date.parse(ts);
  if (isNaN(ms)) return String(ts);
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 0) return "just now";
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " d ago";
}

export function dash(v) {
  if (v === null || v === undefined || v === "") return h("span", { class: "muted" }, "—");
  if (Array.isArray(v)) return v.length ? v.join(", ") : h("span", { class: "muted" }, "—");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// A page heading with an optional breadcrumb and action buttons. The h1 takes focus after
// navigation so screen readers announce the new page.
export function pageHead(title, { crumbs, actions, subtitle } = {}) {
  return h("div", { class: "page-head" },
    h("div", { class: "titles" },
      crumbs ? h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
        crumbs.map(([label, href], i) => [i ? " / " : "", h("a", { href }, label)])) : null,
      h("h1", { tabindex: "-1" }, title),
      subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions ? h("div", { class: "actions" }, actions) : null);
}

export function errorNotice(err) {
  let text = err && err.message ? err.message : String(err);
  if (err instanceof ApiError && err.status === 404) text = "Not found.";
  return h("div", { class: "notice bad", role: "alert" }, text);
}

// A table: columns = [{label, render(row) -> node|string}], rows = array.
export function table(columns, rows, { caption, empty = "Nothing here yet." } = {}) {
  if (!rows.length) return h("div", { class: "table-wrap" }, h("p", { class: "empty" }, empty));
  return h("div", { class: "table-wrap" },
    h("table", {},
      caption ? h("caption", { class: "sr-only" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
      h("tbody", {}, rows.map((r) => h("tr", { dataset: { id: r.id || "" } },
        columns.map((c) => h("td", { class: c.cls || null }, c.render(r))))))));
}

// A paginated, tag-filtered list of a collection. Keeps the offsets of earlier pages so
// "Previous" works with Kong's forward-only offset tokens.
export function pagedList(path, columns, { size = 25, empty, tagFilter = true, label } = {}) {
  const box = h("div", { class: "paged-list" });
  const body = h("div", {});
  const pager = h("div", { class: "pager" });
  const state = { tags: "", stack: [], offset: null, next: null };
  let filter = null;
  if (tagFilter) {
    const input = h("input", { type: "search", id: "tag-filter", name: "tags",
      placeholder: "e.g. prod or a,b (all) or a/b (any)", "aria-describedby": "tag-filter-help" });
    const form = h("form", { class: "toolbar", role: "search",
      onsubmit: (e) => { e.preventDefault(); state.tags = input.value.trim(); state.stack = [];
        state.offset = null; load(); } },
      h("div", { class: "field" }, h("label", { for: "tag-filter" }, "Filter by tag"),
        h("div", { class: "inline" }, input, h("button", { type: "submit", class: "btn" }, "Filter")),
        h("p", { class: "help", id: "tag-filter-help" }, "Comma = all of the tags, slash = any of them. Empty = everything.")));
    filter = form;
  }
  async function load() {
    pager.replaceChildren();
    try {
      const page = await listPage(path, { size, offset: state.offset, tags: state.tags || undefined });
      state.next = page.offset;
      body.replaceChildren(table(columns, page.data, { empty: state.tags
        ? "No " + (label || "entries") + " with these tags." : empty }));
      const prev = h("button", { type: "button", class: "btn btn-small", disabled: !state.stack.length,
        onclick: () => { state.offset = state.stack.pop() ?? null; load(); } }, "Previous");
      const next = h("button", { type: "button", class: "btn btn-small", disabled: !state.next,
        onclick: () => { state.stack.push(state.offset); state.offset = state.next; load(); } }, "Next");
      pager.replaceChildren(prev, next,
        h("span", { class: "muted" }, "Page " + (state.stack.length + 1) + " · " + page.data.length + " shown"));
    } catch (e) {
      body.replaceChildren(errorNotice(e));
    }
  }
  box.append(filter || "", body, pager);
  box.reload = load;
  load();
  return box;
}

// ---------------------------------------------------------------------------------------------
// Forms

// Field spec: {name: "healthchecks.active.timeout", label, type, required, help, placeholder,
// options: [[value, label]], def (initial value when creating), min, max, step}.
// Types: text, number, select, checkbox, list (comma separated -> array), numlist (-> numbers),
// tags, textarea, json, ref (select of ids -> {id} or null), password.
// Group spec: {group: "Health checks", fields: [...], collapsed: true, note}.
// Row spec: {row: [...fields]}.

export function getPath(obj, path) {
  let o = obj;
  for (const k of path.split(".")) {
    if (o === null || o === undefined || typeof o !== "object") return undefined;
    o = o[k];
  }
  return o;
}

export function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    if (o[keys[i]] === null || typeof o[keys[i]] !== "object") o[keys[i]] = {};
    o = o[keys[i]];
  }
  o[keys[keys.length - 1]] = value;
}

const fid = (name) => "f-" + name.replace(/[^A-Za-z0-9_-]/g, "-");
const eid = (name) => "err-" + name.replace(/[^A-Za-z0-9_-]/g, "-");

function fieldNode(f, values, mode) {
  let v = getPath(values, f.name);
  if ((v === undefined || v === null) && mode === "create" && f.def !== undefined) v = f.def;
  const id = fid(f.name);
  const describedBy = [f.help ? id + "-help" : null, eid(f.name)].filter(Boolean).join(" ");
  const common = { id, name: f.name, "aria-describedby": describedBy, dataset: { ftype: f.type || "text" } };
  let input;
  switch (f.type) {
  case "checkbox":
    input = h("input", Object.assign(common, { type: "checkbox", checked: !!v }));
    return h("div", { class: "field check", dataset: { field: f.name } },
      h("label", { for: id }, input, f.label),
      f.help ? h("p", { class: "help", id: id + "-help" }, f.help) : null,
      h("p", { class: "field-error", id: eid(f.name) }));
  case "select":
  case "ref": {
    const opts = (f.options || []).slice();
    if (!f.required || f.type === "ref") opts.unshift(["", f.emptyLabel || "—"]);
    const cur = f.type === "ref" ? (v && v.id) || "" : v ?? "";
    if (cur !== "" && !opts.some(([o]) => String(o) === String(cur))) opts.push([cur, String(cur)]);
    input = h("select", common, opts.map(([o, l]) => h("option", { value: o, selected: String(o) === String(cur) }, l)));
    if (f.onchange) input.addEventListener("change", f.onchange);
    break;
  }
  case "textarea":
  case "json":
    input = h("textarea", Object.assign(common, { placeholder: f.placeholder, rows: f.rows || 6, spellcheck: "false" }));
    input.value = f.type === "json" ? (v === undefined || v === null ? "" : JSON.stringify(v, null, 2)) : (v ?? "");
    break;
  default: {
    const type = f.type === "number" ? "number" : f.type === "password" ? "password" : "text";
    input = h("input", Object.assign(common, { type, placeholder: f.placeholder, min: f.min, max: f.max,
      step: f.step, autocomplete: "off", spellcheck: "false" }));
    if (Array.isArray(v)) input.value = v.join(", ");
    else input.value = v ?? "";
  }
  }
  if (f.required) input.required = true;
  return h("div", { class: "field", dataset: { field: f.name } },
    h("label", { for: id }, f.label, f.required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null),
    input,
    f.help ? h("p", { class: "help", id: id + "-help" }, f.help) : null,
    h("p", { class: "field-error", id: eid(f.name) }));
}

function specNodes(spec, values, mode) {
  return spec.map((s) => {
    if (s.group) {
      const inner = [s.note ? h("p", { class: "help" }, s.note) : null, specNodes(s.fields, values, mode)];
      if (s.collapsed) return h("details", { class: "group" }, h("summary", {}, s.group), inner);
      return h("fieldset", {}, h("legend", {}, s.group), inner);
    }
    if (s.row) return h("div", { class: "row" }, specNodes(s.row, values, mode));
    if (s.node) return s.node;
    return fieldNode(s, values, mode);
  });
}

export function flatFields(spec) {
  const out = [];
  for (const s of spec) {
    if (s.group) out.push(...flatFields(s.fields));
    else if (s.row) out.push(...flatFields(s.row));
    else if (!s.node) out.push(s);
  }
  return out;
}

function splitList(s) {
  return s.split(/[,\n]/).map((x) => x.trim()).filter((x) => x.length);
}

// Reads the form into an entity body. mode "create" omits empty fields (the Admin API fills
// defaults); mode "edit" sends null for an emptied field so PATCH clears it.
export function collect(form, spec, mode) {
  const out = {};
  for (const f of flatFields(spec)) {
    if (f.readonly) continue;
    const el = form.elements.namedItem(f.name);
    if (!el) continue;
    let v;
    switch (f.type) {
    case "checkbox": v = el.checked; break;
    case "number": {
      const t = el.value.trim();
      v = t === "" ? null : Number(t);
      if (t !== "" && isNaN(v)) v = t;
      break;
    }
    case "list": case "tags": {
      const l = splitList(el.value);
      v = l.length ? l : null;
      break;
    }
    case "numlist": {
      const l = splitList(el.value).map((x) => (isNaN(Number(x)) ? x : Number(x)));
      v = l.length ? l : null;
      break;
    }
    case "ref": v = el.value ? { id: el.value } : null; break;
    case "json": {
      const t = el.value.trim();
      if (t === "") { v = null; break; }
      try { v = JSON.parse(t); } catch (e) {
        throw new FormError({ [f.name]: "invalid JSON: " + e.message });
      }
      break;
    }
    default: {
      const t = f.type === "textarea" ? el.value : el.value.trim();
      v = t === "" ? null : t;
    }
    }
    if (f.transform) v = f.transform(v, form);
    if (v === null && mode === "create") continue;
    if (v === undefined) continue;
    setPath(out, f.name, v);
  }
  return out;
}

// A client-side validation error with Kong-shaped fields.
export class FormError extends Error {
  constructor(fields) {
    super("invalid input");
    this.fields = fields;
  }
}

// Flattens Kong's nested `fields` object into {"a.b.c": "message"}. Leaf arrays of messages
// (set/array element errors) are joined; "@entity" stays a list.
export function flattenFieldErrors(fields, prefix = "", out = {}) {
  if (!fields || typeof fields !== "object") return out;
  for (const [k, v] of Object.entries(fields)) {
    const key = prefix ? prefix + "." + k : k;
    if (k === "@entity") {
      out[key] = [].concat(v).filter((x) => x !== null).map(String);
    } else if (typeof v === "string") {
      out[key] = v;
    } else if (Array.isArray(v)) {
      if (v.every((x) => x === null || typeof x === "string")) {
        out[key] = v.filter((x) => x !== null).join("; ");
      } else {
        v.forEach((x, i) => {
          if (typeof x === "string") out[key + "." + i] = x;
          else flattenFieldErrors(x, key + "." + i, out);
        });
      }
    } else if (v && typeof v === "object") {
      flattenFieldErrors(v, key, out);
    } else if (v !== null && v !== undefined) {
      out[key] = String(v);
    }
  }
  return out;
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const box = form.querySelector(".form-error");
  if (box) box.replaceChildren();
}

// Shows an Admin API (or FormError) error on the form: each message of Kong's `fields` next to
// the input it names (the nearest enclosing field for nested names), the rest in the summary at
// the top. Focuses the first invalid input.
export function showErrors(form, err) {
  clearErrors(form);
  const box = form.querySelector(".form-error");
  const fields = err instanceof FormError ? err.fields : (err && err.body && err.body.fields) || null;
  const flat = flattenFieldErrors(fields);
  const general = [];
  let first = null;
  for (const [name, msg] of Object.entries(flat)) {
    if (name.endsWith("@entity")) { general.push(...msg); continue; }
    // A nested error (config.minute.x) lands on the closest field the form has.
    let target = name;
    let errEl = null;
    for (;;) {
      errEl = form.querySelector("#" + CSS.escape(eid(target)));
      if (errEl || !target.includes(".")) break;
      target = target.slice(0, target.lastIndexOf("."));
    }
    if (!errEl) { general.push(name + ": " + msg); continue; }
    const text = target === name ? msg : name.slice(target.length + 1) + ": " + msg;
    errEl.textContent = errEl.textContent ? errEl.textContent + "; " + text : text;
    const input = form.querySelector("#" + CSS.escape(fid(target)));
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const det = input.closest("details");
      if (det) det.open = true;
      if (!first) first = input;
    }
  }
  let headline = err && err.message ? err.message : String(err);
  if (err instanceof FormError) headline = "Please correct the fields marked below.";
  else if (err instanceof ApiError && err.status === 0) headline = err.message;
  if (box) {
    box.replaceChildren(h("strong", {}, headline));
    if (general.length) box.append(h("ul", {}, general.map((g) => h("li", {}, g))));
  }
  if (first) first.focus();
  else if (box) box.focus();
}

// Builds a form from spec. onSubmit(body, form) returns a promise; its rejection is shown with
// showErrors. submitLabel is the button text ("Create", "Update").
export function entityForm(spec, values, { mode = "create", submitLabel, cancelHref, onSubmit, id }) {
  const form = h("form", { class: "entity", novalidate: true, id: id || null });
  const errBox = h("div", { class: "form-error", role: "alert", tabindex: "-1" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, submitLabel || (mode === "create" ? "Create" : "Update"));
  form.append(errBox, h("div", { class: "fields" }, specNodes(spec, values || {}, mode)),
    h("div", { class: "form-actions" }, submit,
      cancelHref ? h("a", { class: "btn", href: cancelHref }, "Cancel") : null));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    // Required fields are checked here (not by the browser) so the message sits next to the field
    // exactly like the Admin API's own errors.
    const missing = {};
    for (const f of flatFields(spec)) {
      if (!f.required || f.type === "checkbox") continue;
      const el = form.elements.namedItem(f.name);
      if (el && !String(el.value).trim()) missing[f.name] = "required field missing";
    }
    if (Object.keys(missing).length) { showErrors(form, new FormError(missing)); return; }
    submit.disabled = true;
    try {
      const body = collect(form, spec, mode);
      await onSubmit(body, form);
    } catch (err) {
      showErrors(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  form.refill = (s, v) => {
    spec = s;
    form.querySelector(".fields").replaceChildren(...specNodes(spec, v || {}, mode));
  };
  return form;
}

// cp/gui/www/js/pages/certificates.js: Certificates (list, create, view with SNIs, delete) and
// SNIs (list, create, delete). Expiry dates are read from the PEM in the browser.
// SPDX-License-Identifier: Apache-2.0
import { enc, get, post } from "../api.js";
import { h, badge, dash, entityForm, fmtTime, pageHead, pagedList, tagList, toast } from "../ui.js";
import { deleteButton, nameOf, refOptions, shortId, viewLink } from "./common.js";

// Reads notAfter and the subject CN of the first certificate of a PEM bundle with a minimal DER
// walker. Returns {notAfter: Date|null, cn: string|null}; never throws.
export function pemInfo(pem) {
  const out = { notAfter: null, cn: null };
  try {
    const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem || "");
    if (!m) return out;
    const bin = atob(m[1].replace(/\s+/g, ""));
    const b = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const read = (pos) => {
      const tag = b[pos];
      let len = b[pos + 1];
      let hdr = 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + b[pos + 2 + i];
        hdr = 2 + n;
      }
      return { tag, start: pos + hdr, end: pos + hdr + len };
    };
    const children = (el) => {
      const kids = [];
      for (let p = el.start; p < el.end;) { const k = read(p); kids.push(k); p = k.end; }
      return kids;
    };
    const tbs = children(read(0))[0];
    let f = children(tbs);
    if (f[0].tag === 0xa0) f = f.slice(1); // explicit version
    const validity = children(f[3]);
    const t = validity[1];
    const s = String.fromCharCode(...b.slice(t.start, t.end));
    let iso;
    if (t.tag === 0x17) { // UTCTime YYMMDDHHMMSSZ
      const yy = Number(s.slice(0, 2));
      iso = (yy >= 50 ? "19" : "20") + s.slice(0, 2) + "-" + s.slice(2, 4) + "-" + s.slice(4, 6) + "T" +
        s.slice(6, 8) + ":" + s.slice(8, 10) + ":" + s.slice(10, 12) + "Z";
    } else { // GeneralizedTime YYYYMMDDHHMMSSZ
      iso = s.slice(0, 4) + "-" + s.slice(4, 6) + "-" + s.slice(6, 8) + "T" + s.slice(8, 10) + ":" +
        s.slice(10, 12) + ":" + s.slice(12, 14) + "Z";
    }
    const d = new Date(iso);
    if (!isNaN(d.getTime())) out.notAfter = d;
    for (const rdn of children(f[4])) { // subject
      for (const atv of children(rdn)) {
        const [oid, val] = children(atv);
        const o = Array.from(b.slice(oid.start, oid.end)).join(".");
        if (o === "85.4.3") out.cn = new TextDecoder().decode(b.slice(val.start, val.end));
      }
    }
  } catch (e) { /* not a certificate we can read */ }
  return out;
}

export function expiryBadge(date) {
  if (!date) return h("span", { class: "muted" }, "—");
  const days = Math.floor((date.getTime() - Date.now()) / 86400000);
  const text = date.toISOString().slice(0, 10) + (days < 0 ? " (expired)" : " (" + days + " days)");
  return badge(text, days < 0 ? "bad" : days < 30 ? "warn" : "ok");
}

const crumbs = [["Certificates", "#/certificates"]];

export async function list(view) {
  const columns = [
    { label: "ID", render: (c) => h("a", { href: "#/certificates/" + c.id, class: "mono" }, shortId(c.id)) },
    { label: "Subject", render: (c) => dash(pemInfo(c.cert).cn) },
    { label: "SNIs", render: (c) => dash(c.snis) },
    { label: "Expires", render: (c) => expiryBadge(pemInfo(c.cert).notAfter) },
    { label: "Tags", render: (c) => tagList(c.tags) },
    { label: "Actions", cls: "actions", render: (c) => [
      viewLink("#/certificates/" + c.id, "certificate " + shortId(c.id)),
      deleteButton("certificate", shortId(c.id), "/certificates/" + c.id, () => lst.reload()),
    ] },
  ];
  const lst = pagedList("/certificates", columns, { label: "certificates", empty: "No certificates yet." });
  view.append(pageHead("Certificates", { actions: h("a", { class: "btn btn-primary", href: "#/certificates/new" }, "New Certificate") }), lst);
}

export async function create(view, params, query, ctx) {
  const spec = [
    { name: "cert", label: "Certificate (PEM)", type: "textarea", required: true, rows: 8, placeholder: "-----BEGIN CERTIFICATE-----" },
    { name: "key", label: "Private key (PEM)", type: "textarea", required: true, rows: 8, placeholder: "-----BEGIN PRIVATE KEY-----" },
    { group: "Alternate certificate", collapsed: true, note: "A second certificate with a different key type (RSA and ECDSA).", fields: [
      { name: "cert_alt", label: "Alternate certificate (PEM)", type: "textarea", rows: 6 },
      { name: "key_alt", label: "Alternate private key (PEM)", type: "textarea", rows: 6 },
    ] },
    { name: "snis", label: "SNIs", type: "list", help: "Host names served with this certificate, comma separated." },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ];
  const form = entityForm(spec, {}, { mode: "create", cancelHref: "#/certificates",
    onSubmit: async (body) => {
      const c = await post("/certificates", body);
      toast("Certificate " + shortId(c.id) + " created.");
      ctx.go("#/certificates/" + c.id);
    } });
  view.append(pageHead("New Certificate", { crumbs }), form);
}

export async function view(view, params, query, ctx) {
  const c = await get("/certificates/" + enc(params.id));
  const info = pemInfo(c.cert);
  const base = "/certificates/" + c.id;
  const sniCols = [
    { label: "Name", render: (s) => s.name },
    { label: "Created", render: (s) => fmtTime(s.created_at) },
    { label: "Actions", cls: "actions", render: (s) => deleteButton("SNI", s.name, "/snis/" + s.id, () => snis.reload()) },
  ];
  const snis = pagedList(base + "/snis", sniCols, { tagFilter: false, empty: "No SNIs for this certificate." });
  const sniForm = entityForm([{ name: "name", label: "SNI name", required: true, placeholder: "example.com" }], {},
    { mode: "create", submitLabel: "Add SNI", id: "sni-form",
      onSubmit: async (body, form) => {
        const s = await post(base + "/snis", body);
        toast("SNI " + s.name + " added.");
        form.reset();
        snis.reload();
      } });
  view.append(
    pageHead("Certificate " + shortId(c.id), { crumbs, actions:
      deleteButton("certificate", shortId(c.id), base, () => ctx.go("#/certificates"), { linkStyle: false }) }),
    h("section", { class: "panel", "aria-label": "Certificate details" },
      h("dl", { class: "details" },
        h("dt", {}, "ID"), h("dd", { class: "mono" }, c.id),
        h("dt", {}, "Subject CN"), h("dd", {}, dash(info.cn)),
        h("dt", {}, "Expires"), h("dd", {}, expiryBadge(info.notAfter)),
        h("dt", {}, "Alternate certificate"), h("dd", {}, c.cert_alt ? "yes" : "no"),
        h("dt", {}, "Tags"), h("dd", {}, tagList(c.tags)),
        h("dt", {}, "Created"), h("dd", {}, fmtTime(c.created_at)))),
    h("h2", {}, "SNIs"), snis,
    h("section", { class: "panel", "aria-label": "New SNI" }, sniForm));
}

export async function listSnis(view) {
  const columns = [
    { label: "Name", render: (s) => s.name },
    { label: "Certificate", render: (s) => (s.certificate ? h("a", { href: "#/certificates/" + s.certificate.id, class: "mono" }, shortId(s.certificate.id)) : "—") },
    { label: "Tags", render: (s) => tagList(s.tags) },
    { label: "Created", render: (s) => fmtTime(s.created_at) },
    { label: "Actions", cls: "actions", render: (s) => deleteButton("SNI", s.name, "/snis/" + s.id, () => lst.reload()) },
  ];
  const lst = pagedList("/snis", columns, { label: "SNIs", empty: "No SNIs yet." });
  view.append(pageHead("SNIs", { actions: h("a", { class: "btn btn-primary", href: "#/snis/new" }, "New SNI") }), lst);
}

export async function createSni(view, params, query, ctx) {
  const certs = await refOptions("/certificates");
  const spec = [
    { name: "name", label: "Name", required: true, placeholder: "example.com or *.example.com" },
    { name: "certificate", label: "Certificate", type: "ref", required: true, options: certs.map(([id]) => [id, shortId(id) + " (" + id + ")"]) },
    { name: "tags", label: "Tags", type: "tags", help: "Comma separated." },
  ];
  const form = entityForm(spec, {}, { mode: "create", cancelHref: "#/snis",
    onSubmit: async (body) => {
      const s = await post("/snis", body);
      toast("SNI " + s.name + " created (certificate " + nameOf(certs, s.certificate.id) + ").");
      ctx.go("#/snis");
    } });
  view.append(pageHead("New SNI", { crumbs: [["SNIs", "#/snis"]] }), form);
}

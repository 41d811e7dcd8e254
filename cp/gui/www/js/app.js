// cp/gui/www/js/app.js: Portico Manager's shell: hash router, navigation state, live-refresh
// timers, Admin API reachability and the admin_token sign-in.
// SPDX-License-Identifier: Apache-2.0
import { apiBase, config, get, getToken, on, setToken } from "./api.js";
import { h, errorNotice } from "./ui.js";
import * as overview from "./pages/overview.js";
import * as services from "./pages/services.js";
import * as routes from "./pages/routes.js";
import * as upstreams from "./pages/upstreams.js";
import * as consumers from "./pages/consumers.js";
import * as plugins from "./pages/plugins.js";
import * as certificates from "./pages/certificates.js";
import * as dataplanes from "./pages/dataplanes.js";

// [pattern, nav section, handler]. ":x" segments are parameters.
const ROUTES = [
  ["/", "overview", overview.show],
  ["/services", "services", services.list],
  ["/services/new", "services", services.create],
  ["/services/:id", "services", services.view],
  ["/services/:id/edit", "services", services.edit],
  ["/routes", "routes", routes.list],
  ["/routes/new", "routes", routes.create],
  ["/routes/:id/edit", "routes", routes.edit],
  ["/upstreams", "upstreams", upstreams.list],
  ["/upstreams/new", "upstreams", upstreams.create],
  ["/upstreams/:id", "upstreams", upstreams.view],
  ["/upstreams/:id/edit", "upstreams", upstreams.edit],
  ["/upstreams/:id/targets/new", "upstreams", upstreams.createTarget],
  ["/upstreams/:id/targets/:tid/edit", "upstreams", upstreams.editTarget],
  ["/consumers", "consumers", consumers.list],
  ["/consumers/new", "consumers", consumers.create],
  ["/consumers/:id", "consumers", consumers.view],
  ["/consumers/:id/edit", "consumers", consumers.edit],
  ["/plugins", "plugins", plugins.list],
  ["/plugins/new", "plugins", plugins.create],
  ["/plugins/:id/edit", "plugins", plugins.edit],
  ["/certificates", "certificates", certificates.list],
  ["/certificates/new", "certificates", certificates.create],
  ["/certificates/:id", "certificates", certificates.view],
  ["/snis", "snis", certificates.listSnis],
  ["/snis/new", "snis", certificates.createSni],
  ["/data-planes", "data-planes", dataplanes.list],
];

function match(path) {
  const segs = path.split("/").filter(Boolean);
  for (const [pattern, nav, fn] of ROUTES) {
    const ps = pattern.split("/").filter(Boolean);
    if (ps.length !== segs.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < ps.length; i++) {
      if (ps[i].startsWith(":")) params[ps[i].slice(1)] = decodeURIComponent(segs[i]);
      else if (ps[i] !== segs[i]) { ok = false; break; }
    }
    if (ok) return { nav, fn, params };
  }
  return null;
}

let timers = [];
let generation = 0;

// Context handed to a page: live refresh timers that stop on navigation or while the tab is
// hidden, navigation, and a check that the page is still the current one.
function makeCtx(gen) {
  return {
    every(ms, fn) {
      const id = setInterval(() => {
        if (gen !== generation || document.hidden) return;
        fn();
      }, ms);
      timers.push(id);
    },
    current: () => gen === generation,
    go: (hash) => { location.hash = hash; },
  };
}

async function render() {
  for (const t of timers) clearInterval(t);
  timers = [];
  const gen = ++generation;
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, qs] = raw.split("?");
  const query = Object.fromEntries(new URLSearchParams(qs || ""));
  const m = match(path);
  for (const a of document.querySelectorAll(".sidenav a")) {
    if (m && a.dataset.nav === m.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  if (!m) {
    main.replaceChildren(h("h1", { tabindex: "-1" }, "Page not found"),
      h("p", {}, h("a", { href: "#/" }, "Back to the overview")));
    document.title = "Not found · Portico Manager";
    return;
  }
  const ctx = makeCtx(gen);
  const view = h("div", { class: "view" });
  try {
    await m.fn(view, m.params, query, ctx);
  } catch (e) {
    view.replaceChildren(errorNotice(e));
  }
  if (gen !== generation) return;
  main.replaceChildren(view);
  const h1 = main.querySelector("h1");
  document.title = (h1 ? h1.textContent + " · " : "") + "Portico Manager";
  // Move focus to the new heading (announced by screen readers), but leave it where it is when
  // the page put it somewhere on purpose (a form's first field).
  if (!main.contains(document.activeElement) || document.activeElement === main) {
    const autofocus = main.querySelector("[data-autofocus]");
    (autofocus || h1 || main).focus();
  }
}

function setStatus(reachable) {
  const el = document.getElementById("api-status");
  if (reachable) {
    el.classList.remove("down");
    el.textContent = "Admin API: " + apiBase();
  } else {
    el.classList.add("down");
    el.textContent = "Admin API unreachable: " + apiBase();
  }
}

let lastReachable = null;
on("reachable", (ok) => {
  if (ok !== lastReachable) { lastReachable = ok; setStatus(ok); }
});

// admin_token: ask for it, check it against GET /, keep it in sessionStorage.
function askToken(message) {
  const dlg = document.getElementById("token-dialog");
  if (dlg.open) return;
  const err = document.getElementById("token-error");
  err.textContent = message || "";
  dlg.showModal();
  document.getElementById("token-input").focus();
}

on("unauthorized", () => {
  setToken("");
  document.getElementById("sign-out").hidden = true;
  askToken("The Admin API refused the request (401). Enter the admin token.");
});

function initToken() {
  const form = document.getElementById("token-form");
  const dlg = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  dlg.addEventListener("cancel", (e) => e.preventDefault());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken(input.value);
    try {
      await get("/");
      input.value = "";
      dlg.close();
      document.getElementById("sign-out").hidden = false;
      render();
    } catch (er) {
      setToken("");
      const msg = er.status === 401 ? "That token was refused." : er.message;
      // The 401 handler has already re-opened the prompt; only update its message.
      document.getElementById("token-error").textContent = msg;
      if (!dlg.open) dlg.showModal();
      input.focus();
    }
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    setToken("");
    document.getElementById("sign-out").hidden = true;
    askToken("Signed out.");
  });
}

document.getElementById("skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  const h1 = document.querySelector("#main h1");
  (h1 || document.getElementById("main")).focus();
});

window.addEventListener("hashchange", render);
initToken();
setStatus(true);
if (!window.PORTICO_CONFIG) {
  document.getElementById("main").replaceChildren(
    h("div", { class: "notice bad", role: "alert" }, "The runtime configuration (/config.js) is missing."));
} else if (!config.apiUrl && !config.apiPort) {
  document.getElementById("main").replaceChildren(
    h("div", { class: "notice bad", role: "alert" },
      "The Admin API is switched off (admin_listen = off) and admin_gui_api_url is not set."));
} else if (config.tokenRequired && !getToken()) {
  askToken();
} else {
  if (getToken()) document.getElementById("sign-out").hidden = false;
  render();
}

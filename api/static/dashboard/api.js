/* DripPulse dashboard: the JSON API client and small DOM helpers every page uses.
   The session cookie authenticates; every state-changing call sends the CSRF token. */
"use strict";

const DP = (() => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  class ApiError extends Error {
    constructor(status, body) {
      const err = (body && body.error) || {};
      super(err.message || `Request failed (${status})`);
      this.status = status;
      this.code = err.code || "error";
      this.details = err.details;
    }
  }

  function apiUrl(path, query) {
    const url = new URL(path.startsWith("/") ? path : `${page.api}/${path}`, location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "" && value !== false) {
        url.searchParams.set(key, value);
      }
    }
    return url;
  }

  async function api(path, { method = "GET", json, body, query, headers = {} } = {}) {
    const all = { Accept: "application/json", ...headers };
    if (!["GET", "HEAD"].includes(method)) all["X-CSRF-Token"] = csrf;
    if (json !== undefined) {
      all["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    const resp = await fetch(apiUrl(path, query), { method, headers: all, body, credentials: "same-origin" });
    if (resp.status === 401) {
      // The session ended (signed out elsewhere, user deactivated): back to the sign-in page.
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      throw new ApiError(401, null);
    }
    if (resp.status === 204) return null;
    let data = null;
    try { data = await resp.json(); } catch (_) { data = null; }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  /* h("a", {href: "/x", class: "y"}, "text", childNode): text is always set as text, never HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function flash(message, kind = "error") {
    const box = document.getElementById("flash");
    box.textContent = message;
    box.className = `flash ${kind}`;
    box.hidden = !message;
  }

  function fail(err) {
    console.error(err);
    flash(err.message || String(err));
  }

  function fmt(value) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value === "object") return JSON.stringify(value);
    if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) {
      const d = new Date(value);
      if (!Number.isNaN(d.getTime())) return d.toLocaleString();
    }
    return String(value);
  }

  function money(amount, currency) {
    if (amount === null || amount === undefined || amount === "") return "";
    const n = Number(amount);
    const text = Number.isFinite(n) ? n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : amount;
    return currency ? `${currency} ${text}` : text;
  }

  function recordTitle(entityName, row) {
    if (!row) return "";
    const person = [row.first_name, row.last_name].filter(Boolean).join(" ");
    return row.name || person || row.subject || row.email || row.company || row.public_id || row.id;
  }

  function recordHref(plural, row) {
    return `/app/crm/${plural}/${encodeURIComponent(row.public_id || row.id)}`;
  }

  const pluralOf = (name) => Object.values(page.entities).find((e) => e.name === name)?.plural;

  /* A reference as people read it: the referenced row's name (`<ref>_name` from the API)
     linking to it, its public_id on hover. Empty when nothing is referenced. */
  function refLink(ref, record) {
    const publicId = record[ref.public_field];
    if (!publicId) return "";
    const target = ref.target === "*" ? pluralOf(record.record_type) : pluralOf(ref.target);
    const label = record[`${ref.name}_name`] || publicId;
    return target ? h("a", { href: `/app/crm/${target}/${encodeURIComponent(publicId)}`, title: publicId }, label)
      : h("span", { title: publicId }, label);
  }

  /* Who made a change: the user's email when the API knows it, the raw actor on hover. */
  function actorLabel(event) {
    if (!event.actor) return "";
    return event.actor_email ? h("span", { title: event.actor, class: "actor" }, event.actor_email) : event.actor;
  }

  /* Every page of a list, following `next` cursors (used where a view needs all rows). */
  async function all(path, query = {}, max = 5000) {
    const rows = [];
    let cursor = null;
    do {
      const data = await api(path, { query: { ...query, cursor, limit: 500 } });
      rows.push(...data.items);
      cursor = data.next;
    } while (cursor && rows.length < max);
    return rows;
  }

  /* A table header row from [[key, label], ...]. */
  function head(table, columns) {
    const thead = table.tHead || table.createTHead();
    thead.replaceChildren(h("tr", {}, columns.map(([key, label]) => h("th", { dataset: { key } }, label))));
  }

  /* Narrow screens: the sidebar folds into the top bar's Menu button (CSS hides one or the other). */
  const menu = document.getElementById("menu-toggle");
  if (menu) {
    menu.addEventListener("click", () => {
      const open = menu.getAttribute("aria-expanded") !== "true";
      menu.setAttribute("aria-expanded", String(open));
      document.getElementById("sidebar").classList.toggle("open", open);
    });
  }

  return { page, csrf, api, apiUrl, ApiError, h, flash, fail, fmt, money, recordTitle, recordHref, pluralOf,
    refLink, actorLabel, all, head };
})();

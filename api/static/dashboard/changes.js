/* Change history: every create, update, delete and import, newest first, filterable by record. */
"use strict";

(() => {
  const { page, api, h, fmt, fail, head, pluralOf, actorLabel } = DP;
  const form = document.getElementById("filters");
  const table = document.getElementById("changes");
  const more = document.getElementById("more");
  let cursor = null;

  // pipeline admin events (record_type pipeline / pipeline_stage) link to the settings page
  const SETTINGS = { pipeline: "/app/crm/settings/pipelines", pipeline_stage: "/app/crm/settings/pipelines" };
  const types = [...Object.values(page.entities).map((e) => e.name), ...Object.keys(SETTINGS)];
  form.record_type.append(...types.map((t) => h("option", { value: t }, t)));
  form.record_type.value = page.filters.record_type;
  form.record_id.value = page.filters.record_id;
  head(table, [["occurred_at", "when"], ["event_type", "event"], ["record_type", "type"], ["record", "record"],
    ["actor", "actor"], ["changes", "changes"]]);

  function summary(changes) {
    if (!changes || typeof changes !== "object") return "";
    const keys = Object.keys(changes);
    return keys.length > 6 ? `${keys.slice(0, 6).join(", ")} … (+${keys.length - 6})` : keys.join(", ");
  }

  function row(e) {
    const plural = pluralOf(e.record_type);
    const id = e.public_id || e.record_id;
    // the record's name as people know it (`record_name`), its id on hover; the id alone when
    // the row is gone
    const label = e.record_name || id;
    const title = e.record_name ? id : undefined;
    const href = plural ? `/app/crm/${plural}/${encodeURIComponent(id)}` : SETTINGS[e.record_type];
    return h("tr", {}, h("td", {}, fmt(e.occurred_at)), h("td", {}, e.event_type), h("td", {}, e.record_type),
      h("td", { dataset: { testid: "record" } }, href ? h("a", { href, title }, label) : h("span", { title }, label)),
      h("td", { dataset: { testid: "actor" } }, actorLabel(e)), h("td", { title: JSON.stringify(e.changes || {}) }, summary(e.changes)));
  }

  async function load(reset) {
    try {
      if (reset) cursor = null;
      const data = await api("change_events", { query: {
        record_type: form.record_type.value, record_id: form.record_id.value.trim(), cursor, limit: 50 } });
      if (reset) table.tBodies[0].replaceChildren();
      table.tBodies[0].append(...data.items.map(row));
      cursor = data.next;
      more.hidden = !cursor;
    } catch (err) { fail(err); }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
    history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
    load(true);
  });
  more.addEventListener("click", () => load(false));
  load(true);
})();

/* One record: its fields, related rows, and its change history. */
"use strict";

(() => {
  const { page, api, h, fmt, fail, recordTitle, recordHref, head, refLink, actorLabel } = DP;
  const meta = page.entities[page.entity];
  const base = `${meta.plural}/${encodeURIComponent(page.record_id)}`;

  function renderFields(record) {
    const dl = document.getElementById("fields");
    const names = ["public_id", ...meta.fields.map((f) => f.name)];
    for (const ref of meta.references) {
      if (ref.target === "*") names.push("record_type");
      names.push(ref.public_field);
    }
    if (meta.name === "opportunity") names.push("pipeline_stage_name");
    names.push("external_system", "external_id", "custom_fields", "created_at", "updated_at", "deleted_at");
    for (const name of names) {
      let value = fmt(record[name]);
      const ref = meta.references.find((r) => r.public_field === name);
      if (ref && record[name]) value = refLink(ref, record);
      dl.append(h("dt", {}, name.replace(/_/g, " ")), h("dd", { dataset: { field: name } }, value));
    }
  }

  // Which lists belong on this record's page: children by reference, activities on any record.
  function relatedLists(record) {
    const lists = [];
    for (const other of Object.values(page.entities)) {
      for (const ref of other.references) {
        if (ref.target === meta.name) {
          const self = other.name === meta.name; // e.g. accounts whose parent is this account
          lists.push({ entity: other, filter: { [ref.column]: record.id }, column: ref.column, order: self ? 1 : 0,
            prefill: { [ref.public_field]: record.public_id }, title: self ? `Child ${other.plural}` : other.label });
        }
        if (ref.target === "*" && other.record_types.includes(meta.name)) {
          lists.push({ entity: other, filter: { record_type: meta.name, [ref.column]: record.id }, column: ref.column, order: 2,
            prefill: { record_type: meta.name, [ref.public_field]: record.public_id }, title: other.label });
        }
      }
    }
    return lists.sort((a, b) => a.order - b.order);
  }

  async function renderRelated(record) {
    const section = document.getElementById("related");
    for (const list of relatedLists(record)) {
      const table = h("table", { class: "grid", dataset: { related: list.entity.plural } }, h("tbody"));
      const params = new URLSearchParams(list.prefill);
      section.append(h("div", { class: "toolbar" }, h("h2", {}, list.title), h("span", { class: "spacer" }),
        h("a", { class: "button", href: `/app/crm/${list.entity.plural}/new?${params}` }, `Add ${list.entity.name}`)), table);
      const columns = [["title", list.entity.singular_label], ...list.entity.list_columns.slice(1).map((f) => [f, f.replace(/_/g, " ")])];
      head(table, columns);
      try {
        const data = await api(list.entity.plural, { query: { ...list.filter, limit: 100 } });
        // Filter again here so a list endpoint that ignores a filter cannot show unrelated rows.
        const rows = data.items.filter((r) => r[list.column] === record.id);
        table.tBodies[0].append(...rows.map((r) => h("tr", {}, columns.map(([key]) => h("td", {},
          key === "title" ? h("a", { href: recordHref(list.entity.plural, r) }, recordTitle(list.entity.name, r)) : fmt(r[key]))))));
        if (!rows.length) table.tBodies[0].append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "None yet.")));
      } catch (err) { fail(err); }
    }
  }

  function describeChanges(changes) {
    if (!changes || typeof changes !== "object") return "";
    return Object.entries(changes).map(([field, change]) => {
      if (change && typeof change === "object" && ("old" in change || "new" in change)) {
        return `${field}: ${fmt(change.old) || "∅"} → ${fmt(change.new) || "∅"}`;
      }
      if (Array.isArray(change) && change.length === 2) return `${field}: ${fmt(change[0]) || "∅"} → ${fmt(change[1]) || "∅"}`;
      return `${field}: ${fmt(change)}`;
    }).join("; ");
  }

  async function renderHistory(record) {
    const list = document.getElementById("history");
    try {
      const data = await api("change_events", { query: { record_type: meta.name, record_id: record.id, limit: 50 } });
      list.append(...data.items.map((e) => h("li", {}, h("strong", {}, e.event_type), " ", fmt(e.occurred_at),
        e.actor ? " by " : "", actorLabel(e), h("div", { class: "muted" }, describeChanges(e.changes)))));
      if (!data.items.length) list.append(h("li", { class: "muted" }, "No changes recorded."));
      if (data.next) {
        const params = new URLSearchParams({ record_type: meta.name, record_id: record.id });
        list.after(h("a", { href: `/app/changes?${params}` }, "Full history"));
      }
    } catch (err) { fail(err); }
  }

  document.getElementById("delete").addEventListener("click", async () => {
    if (!window.confirm("Delete this record? It stays in exports and history.")) return;
    try {
      await api(base, { method: "DELETE" });
      location.assign(`/app/crm/${meta.plural}`);
    } catch (err) { fail(err); }
  });

  (async () => {
    try {
      const record = await api(base, { query: { include_deleted: "true" } });
      document.getElementById("record-title").textContent = recordTitle(meta.name, record);
      document.getElementById("edit").href = `/app/crm/${meta.plural}/${encodeURIComponent(record.public_id)}/edit`;
      document.getElementById("delete").hidden = Boolean(record.deleted_at);
      renderFields(record);
      await Promise.all([renderRelated(record), renderHistory(record)]);
    } catch (err) {
      // Unknown id, or another organization's record (the API cannot tell them apart either).
      if (err.status === 404) return notFound();
      fail(err);
    }
  })();

  function notFound() {
    document.getElementById("record-title").textContent = "Not found";
    for (const id of ["edit", "delete", "fields"]) document.getElementById(id).hidden = true;
    document.getElementById("history").closest("section").hidden = true;
    document.getElementById("fields").after(h("p", { class: "muted", dataset: { testid: "not-found" } },
      `No ${meta.name} with this id in your organization. `,
      h("a", { href: `/app/crm/${meta.plural}` }, `All ${meta.plural}`)));
  }
})();

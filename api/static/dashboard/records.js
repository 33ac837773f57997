/* Record list: search (q), include deleted, and "Load more" following the API's next cursor. */
"use strict";

(() => {
  const { page, api, h, fmt, fail, recordTitle, recordHref, head, refLink } = DP;
  const meta = page.entities[page.entity];
  const table = document.getElementById("records");
  const tbody = table.tBodies[0];
  const more = document.getElementById("more");
  const empty = document.getElementById("empty");
  const form = document.getElementById("search");
  const refColumns = meta.references.map((r) => [r.public_field, r.name.replace(/_/g, " ")]);
  const columns = [["title", meta.singular_label], ...meta.list_columns.slice(1).map((f) => [f, f.replace(/_/g, " ")]),
    ...(meta.record_types.length ? [["record_type", "record type"]] : []), ...refColumns, ["updated_at", "updated"]];
  let cursor = null;
  let query = {};

  head(table, columns);

  function row(record) {
    const cells = columns.map(([key]) => {
      if (key === "title") {
        return h("td", {}, h("a", { href: recordHref(meta.plural, record) }, recordTitle(meta.name, record)),
          record.deleted_at ? h("span", { class: "badge" }, "deleted") : null);
      }
      const ref = meta.references.find((r) => r.public_field === key);
      if (ref) return h("td", { dataset: { ref: ref.name } }, refLink(ref, record));
      return h("td", {}, fmt(record[key]));
    });
    return h("tr", { dataset: { id: record.id } }, cells);
  }

  async function load(reset) {
    try {
      if (reset) cursor = null;
      const data = await api(meta.plural, { query: { ...query, cursor, limit: 25 } });
      if (reset) tbody.replaceChildren();
      tbody.append(...data.items.map(row));
      cursor = data.next;
      more.hidden = !cursor;
      empty.hidden = tbody.rows.length > 0;
    } catch (err) { fail(err); }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    query = { q: data.get("q").trim(), include_deleted: data.get("include_deleted") ? "true" : "" };
    const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v));
    history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
    load(true);
  });
  more.addEventListener("click", () => load(false));

  const initial = new URLSearchParams(location.search);
  form.q.value = initial.get("q") || "";
  form.include_deleted.checked = initial.get("include_deleted") === "true";
  query = { q: form.q.value, include_deleted: form.include_deleted.checked ? "true" : "" };
  load(true);
})();

/* Import wizard, the column-mapping screen of a generic CSV: per file an entity, an id column and
   per column a target (a field, a custom field, a reference, or nothing), suggested by fuzzy
   header matching; the choice becomes a file entry of the mapping document (docs/interop.md). */
"use strict";

const WizardMapping = (() => {
  const { api, h, fmt, page } = DP;
  const { norm } = WizardDetect;
  const SKIP = "";
  const CUSTOM = "custom";
  // Headers people use for our fields, per entity ("*" = any entity with that field).
  const ALIASES = {
    "*": { email: ["e mail", "email address", "mail"], phone: ["phone number", "telephone", "tel", "mobile"],
      website: ["url", "web", "homepage", "site"], domain: ["company domain", "domain name", "web domain"],
      title: ["job title", "position", "role"], first_name: ["first", "given name", "forename"],
      last_name: ["last", "surname", "family name"], employee_count: ["employees", "headcount", "number of employees", "staff"],
      annual_revenue: ["revenue", "turnover"], description: ["notes", "about"], industry: ["sector", "vertical"],
      created_at: ["created", "create date", "date created"], updated_at: ["modified", "last modified", "updated"] },
    accounts: { name: ["company", "company name", "account", "account name", "organization", "organisation"] },
    opportunities: { name: ["deal", "deal name", "opportunity", "opportunity name"], amount: ["value", "deal value", "price"],
      close_date: ["close", "closed", "expected close", "close date"], pipeline_stage_name: ["stage", "deal stage", "stage name"],
      currency: ["currency code", "ccy"] },
    leads: { company: ["company name", "organization", "account"], source: ["lead source", "origin"], status: ["lead status"] },
    activities: { subject: ["title", "summary"], body: ["notes", "description", "details"], type: ["activity type", "kind"],
      due_at: ["due", "due date"], occurred_at: ["date", "when", "occurred"], completed_at: ["completed", "done"] },
  };
  // Headers that name another record: [reference field, how the cell finds it].
  const REF_ALIASES = {
    "account_public_id": [[["company", "company name", "account", "account name", "organization"], "name"],
      [["company domain", "account domain"], "domain"], [["account id", "company id"], "external_id"]],
    "contact_public_id": [[["contact", "contact email", "primary contact"], "email"], [["contact id"], "external_id"]],
    "parent_account_public_id": [[["parent", "parent account", "parent company", "subsidiary of"], "name"]],
  };
  const ID_HEADERS = ["id", "key", "record id", "external id", "legacy id", "old id", "source id"];

  /* Similarity of two headers: Dice coefficient of their letter pairs (typo- and order-tolerant). */
  function similarity(a, b) {
    if (a === b) return 1;
    const pairs = (s) => { const out = []; for (let i = 0; i < s.length - 1; i += 1) out.push(s.slice(i, i + 2)); return out; };
    const pa = pairs(a.replace(/ /g, "")); const pb = pairs(b.replace(/ /g, ""));
    if (!pa.length || !pb.length) return 0;
    let hits = 0;
    const rest = [...pb];
    for (const p of pa) { const at = rest.indexOf(p); if (at >= 0) { hits += 1; rest.splice(at, 1); } }
    return (2 * hits) / (pa.length + pb.length);
  }

  /* The best target for one header: [score, value]; value is a field, "ref:<field>:<by>" or "". */
  function candidates(header, entity) {
    const n = norm(header);
    const targets = page.mapping_targets[entity];
    const out = [];
    for (const field of targets.fields) {
      const aliases = [...((ALIASES["*"] || {})[field] || []), ...((ALIASES[entity] || {})[field] || [])];
      const name = field.replace(/_/g, " ");
      out.push([Math.max(similarity(n, name), ...aliases.map((a) => (a === n ? 0.97 : similarity(n, a) * 0.9))), field]);
    }
    for (const ref of targets.references) {
      for (const [aliases, by] of REF_ALIASES[ref.field] || []) {
        if (ref.by.includes(by) && aliases.includes(n)) out.push([0.99, `ref:${ref.field}:${by}`]);
      }
    }
    return out.sort((a, b) => b[0] - a[0]);
  }

  /* Suggestions for a whole file: each field used once, the best-scoring header winning it. */
  function suggest(headers, entity) {
    const choice = Object.fromEntries(headers.map((hd) => [hd, CUSTOM]));
    const all = headers.flatMap((hd) => candidates(hd, entity).filter(([s]) => s >= 0.72).map(([s, v]) => [s, hd, v]));
    const used = new Set();
    const decided = new Set();
    for (const [, hd, v] of all.sort((a, b) => b[0] - a[0])) {
      const key = v.startsWith("ref:") ? v.split(":")[1] : v;
      if (decided.has(hd) || used.has(key)) continue;
      choice[hd] = v; decided.add(hd); used.add(key);
    }
    const idColumn = headers.find((hd) => ID_HEADERS.includes(norm(hd)) || norm(hd) === `${entity.replace(/s$/, "")} id`) || "";
    if (idColumn && choice[idColumn] === CUSTOM) choice[idColumn] = SKIP; // it becomes the external_id
    return { entity, idColumn, columns: choice };
  }

  /* A file's state → its entry in the mapping document. */
  function entry(file, state) {
    // what the screen does not show (values, constants, date_format, types of a mapping saved
    // through the API) goes back as it came
    const out = { ...(state.extra || {}), file: file.name, entity: state.entity, unmapped: "ignore", columns: {}, references: {} };
    if (state.idColumn) out.id_column = state.idColumn;
    for (const [column, value] of Object.entries(state.columns)) {
      if (!value) continue;
      if (value === CUSTOM) out.columns[column] = `custom_fields.${norm(column).replace(/ /g, "_") || "column"}`;
      else if (value.startsWith("ref:")) {
        const [, field, by] = value.split(":");
        out.references[field] = { column, by };
        if (field === "record_public_id") out.references[field].entity = state.recordEntity || "contacts";
      } else out.columns[column] = value;
    }
    if (!Object.keys(out.references).length) delete out.references;
    return out;
  }

  function targetOptions(entity, current) {
    const targets = page.mapping_targets[entity];
    const opt = (value, label) => h("option", { value, selected: value === current }, label);
    return [opt(SKIP, "don't import"), opt(CUSTOM, "custom field"),
      h("optgroup", { label: "field" }, targets.fields.map((f) => opt(f, f))),
      targets.references.length ? h("optgroup", { label: "reference to another record" },
        targets.references.flatMap((r) => r.by.map((by) => opt(`ref:${r.field}:${by}`,
          `${r.field.replace(/_public_id$/, "")} by ${by.replace("_", " ")}`)))) : null];
  }

  /* One file's mapping form; `state` is edited in place, `onChange` re-renders (entity changed). */
  function render(file, state, index, onChange) {
    const entities = Object.keys(page.mapping_targets);
    const entitySelect = h("select", { id: `map-entity-${index}`, dataset: { testid: "map-entity" },
      onchange: (e) => { Object.assign(state, suggest(file.headers, e.target.value), { extra: undefined, fromSaved: null }); onChange(); } },
    entities.map((p) => h("option", { value: p, selected: p === state.entity }, p)));
    const idSelect = h("select", { id: `map-id-${index}`, onchange: (e) => { state.idColumn = e.target.value; } },
      h("option", { value: "" }, "none"), file.headers.map((hd) => h("option", { value: hd, selected: hd === state.idColumn }, hd)));
    const rows = file.headers.map((hd, col) => h("tr", { dataset: { column: hd } },
      h("th", { scope: "row" }, h("label", { for: `map-${index}-${col}` }, hd)),
      h("td", { class: "muted sample" }, file.rows.map((r) => r[col]).filter(Boolean).slice(0, 2).join(" · ")),
      h("td", {}, h("select", { id: `map-${index}-${col}`, dataset: { testid: "map-target" },
        onchange: (e) => { state.columns[hd] = e.target.value; } }, targetOptions(state.entity, state.columns[hd])))));
    const recordEntity = state.entity === "activities"
      ? h("label", {}, "Records referenced are ", h("select", { onchange: (e) => { state.recordEntity = e.target.value; } },
        ["contacts", "accounts", "leads", "opportunities"].map((p) => h("option", { value: p, selected: p === state.recordEntity }, p))))
      : null;
    return h("fieldset", { class: "map-file card", dataset: { file: file.name } },
      h("legend", {}, file.name),
      state.fromSaved ? h("p", { class: "flash info", dataset: { testid: "saved-mapping" } },
        `Using the mapping saved in your organization for these columns ("${state.fromSaved.name}", ${fmt(state.fromSaved.updated_at)}).`) : null,
      h("div", { class: "inline wrap" },
        h("label", { for: entitySelect.id }, "Import as"), entitySelect,
        h("label", { for: idSelect.id }, "Id column (the row's id in the old system)"), idSelect, recordEntity),
      h("table", { class: "grid compact mapping" },
        h("thead", {}, h("tr", {}, h("th", {}, "column"), h("th", {}, "sample"), h("th", {}, "becomes"))),
        h("tbody", {}, rows)));
  }

  /* A saved file entry → the screen's state for a file with these headers (matched like the
     API matches them: ignoring case and surrounding spaces); null when the screen cannot show it. */
  function fromEntry(saved, headers) {
    const targets = page.mapping_targets[saved.entity];
    if (!targets) return null;
    const key = (s) => String(s).trim().toLowerCase();
    const find = (column) => (column == null ? undefined : headers.find((hd) => hd === column) ?? headers.find((hd) => key(hd) === key(column)));
    const idColumn = find(saved.id_column) || "";
    const unmapped = saved.unmapped === "ignore" ? SKIP : CUSTOM;
    const columns = Object.fromEntries(headers.map((hd) => [hd, hd === idColumn ? SKIP : unmapped]));
    const state = { entity: saved.entity, idColumn, columns };
    for (const [column, target] of Object.entries(saved.columns || {})) {
      const hd = find(column);
      const field = Array.isArray(target) ? target[0] : target;
      if (!hd || typeof field !== "string") continue;
      columns[hd] = field.startsWith("custom_fields.") ? CUSTOM : (targets.fields.includes(field) ? field : unmapped);
    }
    for (const [field, ref] of Object.entries(saved.references || {})) {
      const hd = find(ref && ref.column);
      if (!hd) continue;
      columns[hd] = `ref:${field}:${ref.by || "external_id"}`;
      if (field === "record_public_id") state.recordEntity = ref.entity || "contacts";
    }
    const extra = {};
    for (const k of ["values", "constants", "date_format", "types"]) if (saved[k] !== undefined) extra[k] = saved[k];
    state.extra = extra;
    return state;
  }

  /* The starting state of a file: the mapping the organization saved for its headers
     (GET mappings?headers=…: its one item, or no item when none yet), else the suggestions. */
  async function initial(file) {
    let saved = null;
    try {
      const found = await api("mappings", { query: { headers: JSON.stringify(file.headers) } });
      saved = (found && found.items && found.items[0]) || null;
    } catch (err) {
      console.warn("saved mapping not read:", err.message);
    }
    const state = saved && fromEntry(saved.mapping.files[0], file.headers);
    if (state) return { ...state, fromSaved: { name: saved.name, updated_at: saved.updated_at }, system: saved.mapping.external_system };
    return suggest(file.headers, file.object || "accounts");
  }

  /* Save a file's mapping for the organization, replacing what was saved for its headers. */
  function save(file, state, system) {
    return api("mappings", { method: "PUT", json: { headers: file.headers,
      mapping: { version: 1, external_system: system, files: [entry(file, state)] } } });
  }

  return { suggest, initial, render, entry, save, similarity };
})();

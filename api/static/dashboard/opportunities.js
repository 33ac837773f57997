/* Opportunities: pipeline selector, Kanban (drag a card to move it) or a sortable table.
   A move is a PATCH of pipeline_stage_id / stage_position, so it survives a reload. */
"use strict";

(() => {
  const { api, h, fmt, money, fail, flash, recordHref, all, head } = DP;
  const VIEW_KEY = "drippulse.opportunities.view";
  const PIPELINE_KEY = "drippulse.opportunities.pipeline";
  const select = document.getElementById("pipeline");
  const boardEl = document.getElementById("board");
  const table = document.getElementById("opp-table");
  let columns = []; // [{stage, items}]
  let sort = { key: "name", dir: 1 };

  const byPosition = (a, b) => (a.stage_position ?? Infinity) - (b.stage_position ?? Infinity)
    || String(a.created_at).localeCompare(String(b.created_at));

  /* The board endpoint gives columns of cards; older servers without it: stages + a filtered list. */
  async function loadColumns(pipelineId) {
    let data = null;
    try {
      data = await api(`pipelines/${pipelineId}/board`);
    } catch (err) {
      if (err.status !== 404 && err.status !== 405) throw err;
    }
    if (data) {
      const raw = data.columns || data.stages || data.items || [];
      return raw.map((c) => ({
        stage: c.stage || { id: c.id || c.stage_id, name: c.name, kind: c.kind, position: c.position },
        items: [...(c.items || c.opportunities || c.cards || [])].sort(byPosition),
        total: c.count ?? c.total ?? null,
      }));
    }
    const stageData = await api(`pipelines/${pipelineId}/stages`);
    const opps = await all("opportunities", { pipeline_id: pipelineId });
    return (stageData.items || stageData).map((stage) => ({
      stage,
      items: opps.filter((o) => o.pipeline_stage_id === stage.id).sort(byPosition),
      total: null,
    }));
  }

  function totals(items) {
    const sums = {};
    for (const o of items) {
      if (o.amount === null || o.amount === undefined) continue;
      const cur = o.currency || "";
      sums[cur] = (sums[cur] || 0) + Number(o.amount);
    }
    const parts = Object.entries(sums).map(([cur, sum]) => money(sum.toFixed(2), cur));
    return parts.length ? parts.join(" · ") : money("0", "");
  }

  function card(opp) {
    return h("article", { class: "opp-card", draggable: "true", dataset: { id: opp.id, testid: "opp-card" } },
      h("a", { href: recordHref("opportunities", opp), draggable: "false" }, opp.name),
      h("div", { class: "muted" }, money(opp.amount, opp.currency)),
      opp.account_public_id ? h("div", { class: "muted small" }, opp.account_public_id) : null);
  }

  function renderBoard() {
    boardEl.replaceChildren(...columns.map((col) => {
      const list = h("div", { class: "cards", dataset: { stageId: col.stage.id } }, col.items.map(card));
      return h("section", { class: `column ${col.stage.kind || ""}`, dataset: { stageId: col.stage.id, stageName: col.stage.name } },
        h("header", {}, h("h3", {}, col.stage.name),
          h("span", { class: "count", dataset: { testid: "column-count" } }, String(col.total ?? col.items.length)),
          h("div", { class: "total muted", dataset: { testid: "column-total" } }, totals(col.items))),
        list);
    }));
  }

  const TABLE_COLUMNS = [["name", "Name"], ["stage", "Stage"], ["amount", "Amount"], ["currency", "Currency"],
    ["close_date", "Close date"], ["status", "Status"], ["account_public_id", "Account"], ["updated_at", "Updated"]];

  function renderTable() {
    head(table, TABLE_COLUMNS);
    for (const th of table.tHead.rows[0].cells) {
      th.classList.toggle("sorted", th.dataset.key === sort.key);
      th.dataset.dir = th.dataset.key === sort.key ? (sort.dir > 0 ? "asc" : "desc") : "";
      th.addEventListener("click", () => {
        sort = { key: th.dataset.key, dir: sort.key === th.dataset.key ? -sort.dir : 1 };
        renderTable();
      });
    }
    const rows = columns.flatMap((col) => col.items.map((o) => ({ ...o, stage: col.stage.name, stageIndex: columns.indexOf(col) })));
    const value = (r) => (sort.key === "amount" ? (r.amount === null ? -Infinity : Number(r.amount))
      : sort.key === "stage" ? r.stageIndex : (r[sort.key] ?? ""));
    rows.sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      return (va < vb ? -1 : va > vb ? 1 : 0) * sort.dir;
    });
    table.tBodies[0].replaceChildren(...rows.map((r) => h("tr", {}, TABLE_COLUMNS.map(([key]) => h("td", {},
      key === "name" ? h("a", { href: recordHref("opportunities", r) }, r.name)
        : key === "amount" ? money(r.amount, "") : fmt(r[key]))))));
  }

  function showView(view) {
    localStorage.setItem(VIEW_KEY, view);
    boardEl.hidden = view !== "kanban";
    table.hidden = view !== "table";
    for (const b of document.querySelectorAll("[data-view]")) b.setAttribute("aria-pressed", String(b.dataset.view === view));
    if (view === "table") renderTable(); else renderBoard();
  }

  async function reload() {
    columns = await loadColumns(select.value);
    showView(localStorage.getItem(VIEW_KEY) || "kanban");
    boardEl.dataset.ready = "true";
  }

  /* Drag and drop: where in the target column the card lands follows the pointer. */
  let dragged = null;
  boardEl.addEventListener("dragstart", (event) => {
    dragged = event.target.closest(".opp-card");
    if (!dragged) return;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.id);
    dragged.classList.add("dragging");
  });
  boardEl.addEventListener("dragend", () => { if (dragged) dragged.classList.remove("dragging"); });

  function insertionPoint(list, y) {
    const others = [...list.querySelectorAll(".opp-card:not(.dragging)")];
    return others.find((el) => { const box = el.getBoundingClientRect(); return y < box.top + box.height / 2; }) || null;
  }

  boardEl.addEventListener("dragover", (event) => {
    const list = event.target.closest(".column")?.querySelector(".cards");
    if (!list || !dragged) return;
    event.preventDefault();
    list.insertBefore(dragged, insertionPoint(list, event.clientY));
  });

  boardEl.addEventListener("drop", async (event) => {
    const list = event.target.closest(".column")?.querySelector(".cards");
    if (!list || !dragged) return;
    event.preventDefault();
    list.insertBefore(dragged, insertionPoint(list, event.clientY));
    await persist(dragged.dataset.id, list);
  });

  async function persist(oppId, list) {
    const stageId = list.dataset.stageId;
    const order = [...list.querySelectorAll(".opp-card")].map((el) => el.dataset.id);
    const find = (id) => columns.flatMap((c) => c.items).find((o) => o.id === id);
    try {
      // The moved card first, then any neighbour whose position no longer matches its slot,
      // so the column reads the same after a reload whatever the server does with ties.
      await api(`opportunities/${oppId}`, { method: "PATCH", json: { pipeline_stage_id: stageId, stage_position: order.indexOf(oppId) } });
      for (const [index, id] of order.entries()) {
        const opp = find(id);
        if (id !== oppId && opp && opp.stage_position !== index) {
          await api(`opportunities/${id}`, { method: "PATCH", json: { stage_position: index } });
        }
      }
      flash("");
    } catch (err) {
      fail(err);
    }
    await reload();
  }

  for (const b of document.querySelectorAll("[data-view]")) b.addEventListener("click", () => showView(b.dataset.view));
  select.addEventListener("change", () => {
    localStorage.setItem(PIPELINE_KEY, select.value);
    reload().catch(fail);
  });

  (async () => {
    try {
      const pipelines = (await api("pipelines")).items;
      select.replaceChildren(...pipelines.map((p) => h("option", { value: p.id }, p.name)));
      const remembered = localStorage.getItem(PIPELINE_KEY);
      const chosen = pipelines.find((p) => p.id === remembered) || pipelines.find((p) => p.is_default) || pipelines[0];
      if (!chosen) { flash("This organization has no pipeline yet.", "info"); return; }
      select.value = chosen.id;
      await reload();
    } catch (err) { fail(err); }
  })();
})();

/* Opportunities: pipeline selector, Kanban (drag a card to move it) or a sortable table.
   A move is a PATCH of pipeline_stage_id / stage_position, so it survives a reload. */
"use strict";

(() => {
  const { api, h, fmt, money, fail, flash, recordHref, head } = DP;
  const VIEW_KEY = "drippulse.opportunities.view";
  const PIPELINE_KEY = "drippulse.opportunities.pipeline";
  const BOARD_LIMIT = 100;
  const select = document.getElementById("pipeline");
  const boardEl = document.getElementById("board");
  const table = document.getElementById("opp-table");
  let columns = []; // the board's columns: {stage, count, amount_by_currency, items, next}
  let sort = { key: "stage", dir: 1 };

  /* Columns in stage order, cards by stage_position; count and totals cover the whole column
     even when only its first BOARD_LIMIT cards are loaded ("more" fetches the next page). */
  async function loadColumns(pipelineId) {
    const data = await api(`pipelines/${pipelineId}/board`, { query: { limit: BOARD_LIMIT } });
    return data.columns.map((c) => ({ ...c, items: [...c.items] }));
  }

  async function loadMore(pipelineId, col) {
    const data = await api(`pipelines/${pipelineId}/board`,
      { query: { limit: BOARD_LIMIT, stage_id: col.stage.id, cursor: col.next } });
    col.items.push(...data.columns[0].items);
    col.next = data.columns[0].next;
    render();
  }

  function totals(col) {
    const parts = Object.entries(col.amount_by_currency || {}).map(([cur, sum]) => money(sum, cur));
    return parts.length ? parts.join(" · ") : money(col.amount_total || "0", "");
  }

  /* The keyboard (and touch) alternative to dragging: one "Move" button per card opens a menu
     of the other stages (arrow keys, Enter, Escape), so cards stay free of a select each. */
  function moveMenu(opp, col) {
    const button = h("button", { type: "button", class: "small menu-button", id: `move-${opp.id}`,
      "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `Move ${opp.name}`,
      dataset: { testid: "move-menu" } }, "Move…");
    const items = columns.filter((c) => c.stage.id !== col.stage.id).map((c) => h("button", {
      type: "button", role: "menuitem", tabindex: "-1", dataset: { stageId: c.stage.id },
      onclick: () => { close(false); moveTo(opp.id, c.stage.id).catch(fail); } }, c.stage.name));
    const menu = h("div", { class: "stage-menu", role: "menu", "aria-label": `Move ${opp.name} to`, hidden: true }, items);
    function close(refocus) {
      menu.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (refocus) button.focus();
    }
    function open() {
      for (const other of boardEl.querySelectorAll(".stage-menu:not([hidden])")) other.hidden = true;
      menu.hidden = false;
      button.setAttribute("aria-expanded", "true");
      items[0]?.focus();
    }
    button.addEventListener("click", () => (menu.hidden ? open() : close(true)));
    button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" && menu.hidden) { event.preventDefault(); open(); }
    });
    menu.addEventListener("keydown", (event) => {
      const at = items.indexOf(document.activeElement);
      const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
      if (step) { event.preventDefault(); items[(at + step + items.length) % items.length].focus(); }
      else if (event.key === "Home") { event.preventDefault(); items[0].focus(); }
      else if (event.key === "End") { event.preventDefault(); items[items.length - 1].focus(); }
      else if (event.key === "Escape" || event.key === "Tab") { event.preventDefault(); close(true); }
    });
    menu.addEventListener("focusout", (event) => {
      if (!menu.contains(event.relatedTarget) && event.relatedTarget !== button) close(false);
    });
    return [button, menu];
  }

  /* A referenced row by its name; its public_id on hover. */
  const named = (name, publicId, label) => (publicId
    ? h("div", { class: "muted small ref", title: publicId, dataset: { testid: `card-${label}` } }, name || publicId)
    : null);

  function card(opp, col) {
    const [menuButton, menu] = moveMenu(opp, col);
    return h("article", { class: "opp-card", draggable: "true", dataset: { id: opp.id, testid: "opp-card" } },
      h("div", { class: "card-top" },
        h("a", { href: recordHref("opportunities", opp), draggable: "false", class: "card-name" }, opp.name),
        menuButton),
      menu,
      opp.amount !== null && opp.amount !== undefined
        ? h("div", { class: "amount", dataset: { testid: "card-amount" } }, money(opp.amount, opp.currency)) : null,
      named(opp.account_name, opp.account_public_id, "account"),
      named(opp.contact_name, opp.contact_public_id, "contact"),
      opp.close_date ? h("div", { class: "muted small", dataset: { testid: "card-close" } },
        "Closes ", h("time", { datetime: opp.close_date }, closeDate(opp.close_date))) : null);
  }

  // a date-only value: formatted as a calendar day, never shifted by the time zone
  const closeDate = (day) => new Date(`${day}T00:00:00`).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });

  function renderBoard() {
    boardEl.replaceChildren(...columns.map((col) => h("section",
      { class: `column ${col.stage.kind || ""}`, dataset: { stageId: col.stage.id, stageName: col.stage.name } },
      h("header", {}, h("h3", {}, col.stage.name),
        h("span", { class: "count", dataset: { testid: "column-count" } }, String(col.count)),
        h("div", { class: "total muted", dataset: { testid: "column-total" } }, totals(col))),
      h("div", { class: "cards", dataset: { stageId: col.stage.id } }, col.items.map((o) => card(o, col))),
      col.next ? h("button", { class: "small more", onclick: () => loadMore(select.value, col).catch(fail) }, "more") : null)));
  }

  const TABLE_COLUMNS = [["name", "Name"], ["stage", "Stage"], ["amount", "Amount"], ["currency", "Currency"],
    ["close_date", "Close date"], ["status", "Status"], ["account_name", "Account"], ["updated_at", "Updated"]];

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
    // Stage sorts by the pipeline's order (then position in the column), not alphabetically.
    const rows = columns.flatMap((col, ci) => col.items.map((o, oi) => ({ ...o, stage: col.stage.name, rank: ci * 1e6 + oi })));
    const value = (r) => (sort.key === "amount" ? (r.amount === null ? -Infinity : Number(r.amount))
      : sort.key === "stage" ? r.rank : String(r[sort.key] ?? "").toLowerCase());
    rows.sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      return (va < vb ? -1 : va > vb ? 1 : 0) * sort.dir;
    });
    if (columns.some((c) => c.next)) {
      flash(`The table shows the first ${BOARD_LIMIT} opportunities of each stage; use the Kanban's "more" for the rest.`, "info");
    }
    table.tBodies[0].replaceChildren(...rows.map((r) => h("tr", { dataset: { id: r.id } }, TABLE_COLUMNS.map(([key]) => h("td", {},
      key === "name" ? h("a", { href: recordHref("opportunities", r) }, r.name)
        : key === "account_name" ? (r.account_public_id ? h("span", { title: r.account_public_id }, r.account_name || r.account_public_id) : "")
          : key === "amount" ? money(r.amount, "") : fmt(r[key]))))));
  }

  function render() {
    if (localStorage.getItem(VIEW_KEY) === "table") renderTable(); else renderBoard();
  }

  function showView(view) {
    localStorage.setItem(VIEW_KEY, view);
    boardEl.hidden = view !== "kanban";
    table.hidden = view !== "table";
    for (const b of document.querySelectorAll("[data-view]")) b.setAttribute("aria-pressed", String(b.dataset.view === view));
    render();
  }

  async function reload() {
    columns = await loadColumns(select.value);
    showView(localStorage.getItem(VIEW_KEY) === "table" ? "table" : "kanban");
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
    const moved = dragged;
    dragged = null;
    moved.classList.remove("dragging");
    await persist(moved.dataset.id, list);
  });

  async function persist(oppId, list) {
    // The server inserts the card at this 0-based slot and renumbers both columns.
    const position = [...list.querySelectorAll(".opp-card")].findIndex((el) => el.dataset.id === oppId);
    boardEl.dataset.ready = "false";
    try {
      await api(`opportunities/${oppId}`, { method: "PATCH",
        json: { pipeline_stage_id: list.dataset.stageId, stage_position: position } });
      flash("");
    } catch (err) {
      fail(err);
    }
    await reload();
  }

  /* Move to the end of another column, then keep the keyboard where it was: on that card's menu. */
  async function moveTo(oppId, stageId) {
    boardEl.dataset.ready = "false";
    try {
      await api(`opportunities/${oppId}`, { method: "PATCH", json: { pipeline_stage_id: stageId } });
      flash("");
    } catch (err) {
      fail(err);
    }
    await reload();
    document.getElementById(`move-${oppId}`)?.focus();
  }

  for (const b of document.querySelectorAll("[data-view]")) b.addEventListener("click", () => showView(b.dataset.view));
  select.addEventListener("change", () => {
    localStorage.setItem(PIPELINE_KEY, select.value);
    reload().catch(fail);
  });

  (async () => {
    try {
      const pipelines = (await api("pipelines", { query: { limit: 100 } })).items;
      select.replaceChildren(...pipelines.map((p) => h("option", { value: p.id }, p.name)));
      const remembered = localStorage.getItem(PIPELINE_KEY);
      const chosen = pipelines.find((p) => p.id === remembered) || pipelines.find((p) => p.is_default) || pipelines[0];
      if (!chosen) { flash("This organization has no pipeline yet.", "info"); return; }
      select.value = chosen.id;
      await reload();
    } catch (err) { fail(err); }
  })();
})();

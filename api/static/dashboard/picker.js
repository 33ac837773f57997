/* A searchable picker for a reference (the WAI-ARIA combobox pattern): the text box searches the
   target entity's list (`?q=…&limit=10`) and shows names; the chosen row's public_id is the value
   the form sends. Arrow keys move through the options, Enter picks, Escape closes (a second
   Escape restores the chosen name). */
"use strict";

const Picker = (() => {
  const { api, h, recordTitle } = DP;
  let counter = 0;

  /* A row as people tell rows apart: its title, then what else identifies it. */
  function describe(entityName, row) {
    const extra = row.email || row.domain || row.company || row.account_name || "";
    return { title: recordTitle(entityName, row), extra: extra === recordTitle(entityName, row) ? "" : extra };
  }

  /* target(): {name, plural} of the entity to search (it may change: an activity's record type). */
  function create({ id, target, placeholder }) {
    const listId = `${id}-options`;
    const input = h("input", { type: "text", id, role: "combobox", autocomplete: "off", placeholder,
      "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": listId, spellcheck: "false" });
    const list = h("ul", { id: listId, role: "listbox", class: "picker-options", hidden: true });
    const status = h("div", { class: "picker-status muted small", "aria-live": "polite" });
    const element = h("div", { class: "picker" }, input, list, status);
    let chosen = { value: null, label: "" };
    let options = [];
    let active = -1;
    let timer = null;
    let query = 0;

    function open(isOpen) {
      list.hidden = !isOpen;
      input.setAttribute("aria-expanded", String(isOpen));
      if (!isOpen) { active = -1; input.removeAttribute("aria-activedescendant"); }
    }

    function highlight(index) {
      active = index;
      [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
      const li = list.children[index];
      if (li && li.id) { input.setAttribute("aria-activedescendant", li.id); li.scrollIntoView({ block: "nearest" }); }
      else input.removeAttribute("aria-activedescendant");
    }

    function choose(index) {
      const row = options[index];
      if (!row) return;
      const { name } = target();
      set(row.public_id, describe(name, row).title);
      open(false);
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function render(rows) {
      options = rows;
      const { name } = target();
      list.replaceChildren(...rows.map((row, i) => {
        const { title, extra } = describe(name, row);
        return h("li", { id: `${listId}-${++counter}`, role: "option", "aria-selected": "false",
          title: row.public_id, dataset: { publicId: row.public_id },
          onmousedown: (e) => { e.preventDefault(); choose(i); } },  // before the input's blur
        h("span", {}, title), extra ? h("span", { class: "muted small" }, ` ${extra}`) : null);
      }));
      if (!rows.length) list.append(h("li", { class: "muted", role: "presentation" }, `No ${target().name} matches.`));
      status.textContent = rows.length ? `${rows.length} ${rows.length === 1 ? "match" : "matches"}, arrow keys to choose` : "";
      open(true);
      highlight(rows.length ? 0 : -1);
    }

    async function search() {
      const mine = ++query;
      const { plural } = target();
      if (!plural) return;
      try {
        const data = await api(plural, { query: { q: input.value.trim(), limit: 10 } });
        if (mine === query && document.activeElement === input) render(data.items);
      } catch (err) {
        if (mine === query) status.textContent = `Search failed: ${err.message}`;
      }
    }

    input.addEventListener("input", () => {
      // typing replaces the choice; nothing is sent until a row is picked (or the box is empty)
      chosen = { value: input.value.trim() ? undefined : null, label: "" };
      query++;  // an answer still on its way is for older text
      options = [];  // nor may Enter pick a row found for it
      active = -1;
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("focus", () => { if (!chosen.value) search(); });
    input.addEventListener("keydown", (e) => {
      const count = options.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (list.hidden) { search(); return; }
        if (!count) return;
        highlight(e.key === "ArrowDown" ? (active + 1) % count : (active - 1 + count) % count);
      } else if (e.key === "Enter" && !list.hidden) {
        e.preventDefault();  // picking, not submitting the form
        if (active >= 0) choose(active);
      } else if (e.key === "Escape") {
        if (!list.hidden) { e.preventDefault(); open(false); }
        else if (chosen.value === undefined) { e.preventDefault(); input.value = ""; chosen = { value: null, label: "" }; }
      } else if (e.key === "Tab") open(false);
    });
    input.addEventListener("blur", () => setTimeout(() => open(false), 100));

    function set(value, label) {
      chosen = { value: value || null, label: value ? (label || value) : "" };
      input.value = chosen.label;
      input.title = value || "";
    }

    return {
      element, input, id,
      /* null: nothing; undefined: text typed but no row picked (the form says so). */
      get value() { return chosen.value; },
      set,
      reset() { set(null); options = []; list.replaceChildren(); open(false); },
    };
  }

  return { create };
})();

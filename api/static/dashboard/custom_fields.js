/* Custom fields as key/value rows instead of a JSON textarea. A value is saved as text unless
   it reads as JSON (a number, true/false, null, an object or a list) and the row is left on
   "auto"; each row says which it will be, and "text" keeps e.g. a zip code "02139" a string. */
"use strict";

const CustomFields = (() => {
  const { h } = DP;
  let counter = 0;

  function interpret(text, mode) {
    if (mode === "text") return { value: text, kind: "text" };
    try {
      const value = JSON.parse(text);
      if (value === null) return { value, kind: "null" };
      if (typeof value === "number") return { value, kind: "number" };
      if (typeof value === "boolean") return { value, kind: "true/false" };
      if (typeof value === "object") return { value, kind: Array.isArray(value) ? "JSON list" : "JSON object" };
    } catch (_) { /* not JSON: text */ }
    return { value: text, kind: "text" };
  }

  function create({ id }) {
    const rows = h("div", { class: "kv-rows", role: "group", "aria-label": "custom fields" });
    const add = h("button", { type: "button", class: "link kv-add", id }, "+ Add field");
    const element = h("div", { class: "kv" }, rows, add,
      h("div", { class: "muted small" }, "“auto” saves numbers, true/false, null and {…}/[…] as JSON, anything else as text."));

    function addRow(key = "", value = undefined) {
      const n = ++counter;
      const isText = typeof value === "string";
      const shown = value === undefined ? "" : isText ? value : JSON.stringify(value);
      const keyInput = h("input", { type: "text", class: "kv-key", placeholder: "name", "aria-label": `field ${n} name`, value: key });
      const valueInput = h("input", { type: "text", class: "kv-value", placeholder: "value", "aria-label": `field ${n} value`, value: shown });
      // an existing string that reads as JSON stays a string
      const mode = h("select", { class: "kv-mode", "aria-label": `field ${n} saved as` },
        h("option", { value: "auto" }, "auto"), h("option", { value: "text" }, "text"));
      mode.value = isText && interpret(value, "auto").kind !== "text" ? "text" : "auto";
      const kind = h("span", { class: "kv-kind muted small", "aria-live": "polite" });
      const show = () => { kind.textContent = valueInput.value.trim() || mode.value === "text" ? `→ ${interpret(valueInput.value, mode.value).kind}` : ""; };
      valueInput.addEventListener("input", show);
      mode.addEventListener("change", show);
      const remove = h("button", { type: "button", class: "link kv-remove", "aria-label": `remove field ${n}` }, "Remove");
      const row = h("div", { class: "kv-row" }, keyInput, valueInput, mode, kind, remove);
      remove.addEventListener("click", () => { row.remove(); add.focus(); });
      rows.append(row);
      show();
      return keyInput;
    }
    add.addEventListener("click", () => addRow().focus());

    /* {object, problem}: the rows as the API's custom_fields object. */
    function read() {
      const object = {};
      for (const row of rows.querySelectorAll(".kv-row")) {
        const key = row.querySelector(".kv-key").value.trim();
        const text = row.querySelector(".kv-value").value;
        if (!key && !text.trim()) continue;
        if (!key) return { object, problem: "every value needs a name" };
        if (key in object) return { object, problem: `“${key}” is used twice` };
        object[key] = interpret(text, row.querySelector(".kv-mode").value).value;
      }
      return { object, problem: null };
    }

    return {
      element, id,
      /* The JSON text of the object ("" when empty), comparable with the stored value. */
      get value() {
        const { object } = read();
        return Object.keys(object).length ? JSON.stringify(object, null, 2) : "";
      },
      set value(text) {
        rows.replaceChildren();
        const object = text ? JSON.parse(text) : {};
        for (const [key, value] of Object.entries(object)) addRow(key, value);
      },
      problem: () => read().problem,
    };
  }

  return { create, interpret };
})();

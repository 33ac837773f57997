/* Create / edit a record through the API; the API's 422 field errors appear next to each field. */
"use strict";

(() => {
  const { page, api, h, fail, recordHref, recordTitle, pluralOf } = DP;
  const meta = page.entities[page.entity];
  const form = document.getElementById("record-form");
  const box = document.getElementById("fields");
  const formError = document.getElementById("form-error");
  const editing = Boolean(page.record_id);
  let original = {};

  const label = (name) => name.replace(/_/g, " ");

  // The entity a reference points at; an activity's record follows its record type.
  function targetOf(ref) {
    const name = ref.target === "*" ? inputs.record_type?.value : ref.target;
    return { name: name || "record", plural: name ? pluralOf(name) : null };
  }

  function control(spec) {
    if (spec.input === "picker") {
      return Picker.create({ id: `f-${spec.name}`, target: () => targetOf(spec.ref),
        placeholder: spec.ref.target === "*" ? "search by name (choose the record type first)" : `search ${spec.ref.target}s by name` });
    }
    if (spec.input === "json") return CustomFields.create({ id: `f-${spec.name}` });
    const attrs = { name: spec.name, id: `f-${spec.name}`, required: spec.required || null,
      maxlength: spec.max_length && spec.max_length <= 2048 ? spec.max_length : null };
    if (spec.input === "select") {
      const options = spec.required ? [] : [h("option", { value: "" }, "—")];
      return h("select", attrs, options, spec.choices.map((c) => h("option", { value: c }, c)));
    }
    if (spec.input === "textarea") return h("textarea", { ...attrs, rows: 3 });
    if (spec.input === "number") return h("input", { ...attrs, type: "number", step: 1, min: spec.kind === "count" ? 0 : null });
    return h("input", { ...attrs, type: spec.input });
  }

  function fieldRow(spec, input) {
    return h("div", { class: "field", dataset: { field: spec.name } },
      h("label", { for: input.id }, spec.label || label(spec.name), spec.required ? h("span", { class: "req" }, " *") : null),
      input.element || input, spec.hint ? h("div", { class: "field-hint muted small" }, spec.hint) : null,
      h("div", { class: "field-error", dataset: { errorFor: spec.name } }));
  }

  // Every field the API accepts, derived from the entity definition the server sent; the
  // minimal fields (shared/schemas.py MINIMUM) are marked required or explained.
  const minimum = meta.minimum || [];
  const requiredAlone = new Set(minimum.filter((r) => r.any_of.length === 1 || r.one_value).map((r) => r.field));
  const specs = meta.fields.map((f) => (requiredAlone.has(f.name) ? { ...f, required: true } : f));
  for (const ref of meta.references) {
    if (ref.target === "*") specs.push({ name: "record_type", input: "select", choices: meta.record_types, required: true });
    specs.push({ name: ref.public_field, label: ref.name.replace(/_/g, " "), input: "picker", ref,
      required: requiredAlone.has(ref.public_field) });
  }
  specs.push({ name: "external_system", input: "text" }, { name: "external_id", input: "text" },
    { name: "custom_fields", label: "custom fields", input: "json", kind: "object" });
  for (const rule of minimum.filter((r) => r.any_of.length > 1 && !r.one_value)) {
    box.append(h("p", { class: "muted small", dataset: { testid: "minimum" } },
      `A ${meta.name} needs at least one of: ${rule.any_of.map((f) => f.replace(/_/g, " ")).join(", ")}.`));
  }
  const inputs = {};
  for (const spec of specs) {
    inputs[spec.name] = control(spec);
    box.append(fieldRow(spec, inputs[spec.name]));
  }
  if (inputs.record_type) {
    // another record type: the chosen record belongs to the old one
    inputs.record_type.addEventListener("change", () => inputs.record_public_id.reset());
  }

  // Opportunities live in a pipeline stage: offer the organization's pipelines and stages.
  async function pipelineControls() {
    const pipeSpec = { name: "pipeline_id", label: "pipeline", input: "select", choices: [] };
    const stageSpec = { name: "pipeline_stage_id", label: "stage", input: "select", choices: [] };
    inputs.pipeline_id = control(pipeSpec);
    inputs.pipeline_stage_id = control(stageSpec);
    box.prepend(fieldRow(pipeSpec, inputs.pipeline_id), fieldRow(stageSpec, inputs.pipeline_stage_id));
    const pipelines = (await api("pipelines")).items;
    for (const p of pipelines) inputs.pipeline_id.append(h("option", { value: p.id }, p.name));
    const fillStages = async () => {
      inputs.pipeline_stage_id.replaceChildren(h("option", { value: "" }, "—"));
      if (!inputs.pipeline_id.value) return;
      const data = await api(`pipelines/${inputs.pipeline_id.value}/stages`);
      for (const s of data.items || data) inputs.pipeline_stage_id.append(h("option", { value: s.id }, s.name));
    };
    inputs.pipeline_id.addEventListener("change", fillStages);
    const wanted = original.pipeline_id || page.prefill.pipeline_id || pipelines.find((p) => p.is_default)?.id;
    if (wanted) inputs.pipeline_id.value = wanted;
    await fillStages();
    const stage = original.pipeline_stage_id || page.prefill.pipeline_stage_id;
    if (stage) inputs.pipeline_stage_id.value = stage;
  }

  function toInputValue(spec, value) {
    if (value === null || value === undefined) return "";
    if (spec.input === "json") return Object.keys(value).length ? JSON.stringify(value, null, 2) : "";
    if (spec.input === "datetime-local") {
      // The API speaks UTC with an offset; the input shows the browser's local time.
      const d = new Date(value);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    }
    return String(value);
  }

  async function fillPicker(spec, values) {
    const publicId = values[spec.name];
    if (!publicId) return;
    let label = values[`${spec.ref.name}_name`];
    const { name, plural } = targetOf(spec.ref);
    if (!label && plural) {  // a prefilled reference (from a record's page) comes without its name
      try { label = recordTitle(name, await api(`${plural}/${encodeURIComponent(publicId)}`)); } catch (_) { /* shown as its id */ }
    }
    inputs[spec.name].set(publicId, label);
  }

  async function fill(values) {
    for (const spec of specs) {
      if (spec.input === "picker") continue;
      if (values[spec.name] !== undefined) inputs[spec.name].value = toInputValue(spec, values[spec.name]);
      else if (!editing && spec.default !== undefined) inputs[spec.name].value = spec.default;
    }
    await Promise.all(specs.filter((s) => s.input === "picker").map((s) => fillPicker(s, values)));
  }

  function collect() {
    const body = {};
    const problems = {};
    const all = [...specs, ...(inputs.pipeline_id ? [{ name: "pipeline_id" }, { name: "pipeline_stage_id" }] : [])];
    for (const spec of all) {
      if (spec.input === "picker") {
        const value = inputs[spec.name].value;
        if (value === undefined) {
          problems[spec.name] = ["choose one from the list, or clear the box"];
        } else if (editing ? value !== (original[spec.name] || null) : value !== null) {
          body[spec.name] = value;
        }
        continue;
      }
      if (spec.input === "json" && inputs[spec.name].problem()) {
        problems[spec.name] = [inputs[spec.name].problem()];
        continue;
      }
      const raw = inputs[spec.name].value.trim();
      let value = raw === "" ? null : raw;
      if (value !== null && spec.input === "number") value = Number(value);
      if (value !== null && spec.input === "datetime-local") value = new Date(value).toISOString();
      if (spec.input === "json") value = value === null ? {} : JSON.parse(value);
      // Create: send what was filled in. Edit: send only what changed (PATCH semantics).
      if (editing) {
        const before = toInputValue(spec, original[spec.name]);
        if (raw !== before.trim()) body[spec.name] = value;
      } else if (value !== null && !(spec.input === "json" && Object.keys(value).length === 0)) {
        body[spec.name] = value;
      }
    }
    return { body, problems };
  }

  function showErrors(details, message) {
    form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll(".field.invalid").forEach((el) => el.classList.remove("invalid"));
    const unplaced = [];
    for (const [field, messages] of Object.entries(details || {})) {
      // `account` or `account_id` errors belong to the account picker
      const ref = `${field.replace(/_id$/, "")}_public_id`;
      const name = inputs[field] ? field : (inputs[ref] ? ref : null);
      const text = Array.isArray(messages) ? messages.join("; ") : String(messages);
      if (name) {
        form.querySelector(`[data-error-for="${name}"]`).textContent = text;
        form.querySelector(`.field[data-field="${name}"]`).classList.add("invalid");
      } else unplaced.push(`${field}: ${text}`);
    }
    formError.textContent = [message, ...unplaced].filter(Boolean).join(" — ");
    formError.hidden = !formError.textContent;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { body, problems } = collect();
    if (Object.keys(problems).length) return showErrors(problems, "Please correct the highlighted fields.");
    const save = document.getElementById("save");
    save.disabled = true;
    try {
      const saved = editing
        ? await api(`${meta.plural}/${encodeURIComponent(page.record_id)}`, { method: "PATCH", json: body })
        : await api(meta.plural, { method: "POST", json: body });
      location.assign(recordHref(meta.plural, saved));
    } catch (err) {
      if (err.status === 422 || err.status === 400 || err.status === 409) showErrors(err.details, err.message);
      else fail(err);
    } finally {
      save.disabled = false;
    }
  });

  document.getElementById("cancel").href = editing ? `/app/crm/${meta.plural}/${encodeURIComponent(page.record_id)}` : `/app/crm/${meta.plural}`;

  (async () => {
    try {
      if (editing) original = await api(`${meta.plural}/${encodeURIComponent(page.record_id)}`);
      if (meta.name === "opportunity") await pipelineControls();
      await fill(editing ? original : page.prefill);
      form.dataset.ready = "true";
    } catch (err) {
      if (err.status !== 404) return fail(err);
      // Unknown id, or another organization's record: nothing to edit, say so plainly.
      form.hidden = true;
      form.after(h("p", { class: "muted", dataset: { testid: "not-found" } },
        `No ${meta.name} with this id in your organization. `, h("a", { href: `/app/crm/${meta.plural}` }, `All ${meta.plural}`)));
    }
  })();
})();

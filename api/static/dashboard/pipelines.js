/* Pipelines settings: create pipelines, choose the default, rename/reorder/re-kind/add/delete
   stages. Deleting a stage or pipeline that holds opportunities asks where they go. Reordering
   uses Up/Down buttons, so it works the same from the keyboard. */
"use strict";

(() => {
  const { api, h, flash, fail } = DP;
  const select = document.getElementById("pipeline-select");
  const editor = document.getElementById("pipeline-editor");
  const list = document.getElementById("stages");
  const nameInput = document.getElementById("pipeline-name");
  const pipelinePanel = document.getElementById("delete-pipeline-panel");
  const KINDS = ["open", "won", "lost"];
  let pipelines = [];
  let current = null;
  let counts = {}; // stage id -> live opportunities (from the board)

  const plural = (n) => `${n} ${n === 1 ? "opportunity" : "opportunities"}`;

  async function load(wanted) {
    pipelines = await DP.all("pipelines");
    const id = wanted || current?.id || pipelines.find((p) => p.is_default)?.id;
    current = pipelines.find((p) => p.id === id) || pipelines[0];
    select.replaceChildren(...pipelines.map((p) => h("option", { value: p.id },
      p.is_default ? `${p.name} (default)` : p.name)));
    select.value = current.id;
    const board = await api(`pipelines/${current.id}/board`, { query: { limit: 1 } });
    counts = Object.fromEntries(board.columns.map((c) => [c.stage.id, c.count]));
    render();
  }

  function render() {
    nameInput.value = current.name;
    document.getElementById("default-badge").hidden = !current.is_default;
    document.getElementById("make-default").hidden = current.is_default;
    document.getElementById("delete-pipeline").hidden = current.is_default;
    pipelinePanel.hidden = true;
    const stages = current.stages;
    list.replaceChildren(...stages.map((s, i) => stageRow(s, i, stages.length)));
    editor.dataset.ready = "true";
  }

  function stageRow(stage, index, total) {
    const name = h("input", { value: stage.name, maxlength: 200, required: true,
      "aria-label": `Name of stage ${stage.name}`, dataset: { field: "name" } });
    const kind = h("select", { "aria-label": `Kind of stage ${stage.name}` },
      KINDS.map((k) => h("option", { value: k, selected: k === stage.kind }, k)));
    const panel = h("div", { class: "confirm", hidden: true });
    const save = () => patchStage(stage, { name: name.value.trim(), kind: kind.value });
    return h("li", { class: "stage-row", dataset: { stageId: stage.id, stageName: stage.name } },
      h("form", { class: "inline wrap", onsubmit: (e) => { e.preventDefault(); save().catch(fail); } },
        h("span", { class: "position muted" }, String(index + 1)),
        name, kind,
        h("span", { class: "muted small", "data-testid": "stage-count" }, plural(counts[stage.id] || 0)),
        h("button", { type: "submit", class: "small" }, "Save"),
        h("button", { type: "button", class: "small", disabled: index === 0,
          "aria-label": `Move ${stage.name} up`, onclick: () => move(stage, index - 1).catch(fail) }, "↑"),
        h("button", { type: "button", class: "small", disabled: index === total - 1,
          "aria-label": `Move ${stage.name} down`, onclick: () => move(stage, index + 1).catch(fail) }, "↓"),
        h("button", { type: "button", class: "small danger", disabled: total === 1,
          "aria-label": `Delete ${stage.name}`, onclick: () => askDeleteStage(stage, panel) }, "Delete")),
      panel);
  }

  async function patchStage(stage, body) {
    await api(`pipelines/${current.id}/stages/${stage.id}`, { method: "PATCH", json: body });
    flash(`Stage “${body.name || stage.name}” saved`, "ok");
    await load();
  }

  async function move(stage, position) {
    await api(`pipelines/${current.id}/stages/${stage.id}`, { method: "PATCH", json: { position } });
    await load();
    // keep the keyboard where it was: on the same button of the moved stage when it still exists
    const row = list.querySelector(`li[data-stage-id="${stage.id}"]`);
    const dir = position < stage.position ? "up" : "down";
    const button = row?.querySelector(`button[aria-label="Move ${stage.name} ${dir}"]`);
    (button && !button.disabled ? button : row?.querySelector("input"))?.focus();
  }

  /* The inline confirmation: where the opportunities go (when there are any), then Delete. */
  function confirmPanel(panel, { what, count, targets, onConfirm }) {
    const picker = h("select", { "aria-label": `Move its opportunities to` },
      targets.map((t) => h("option", { value: t.id }, t.name)));
    panel.replaceChildren(
      count ? h("label", {}, `${what} holds ${plural(count)}. Move them to `, picker)
        : h("span", {}, `${what} is empty.`),
      h("button", { type: "button", class: "danger small", onclick: () =>
        onConfirm(count ? picker.value : null).catch(fail) }, "Confirm delete"),
      h("button", { type: "button", class: "small", onclick: () => { panel.hidden = true; } }, "Cancel"));
    panel.hidden = false;
    (count ? picker : panel.querySelector("button")).focus();
  }

  function askDeleteStage(stage, panel) {
    confirmPanel(panel, {
      what: `Stage “${stage.name}”`, count: counts[stage.id] || 0,
      targets: current.stages.filter((s) => s.id !== stage.id),
      onConfirm: async (moveTo) => {
        await api(`pipelines/${current.id}/stages/${stage.id}`,
          { method: "DELETE", query: { move_to: moveTo } });
        flash(`Stage “${stage.name}” deleted`, "ok");
        await load();
      },
    });
  }

  document.getElementById("delete-pipeline").addEventListener("click", () => {
    const count = Object.values(counts).reduce((a, b) => a + b, 0);
    confirmPanel(pipelinePanel, {
      what: `Pipeline “${current.name}”`, count,
      targets: pipelines.filter((p) => p.id !== current.id),
      onConfirm: async (moveTo) => {
        await api(`pipelines/${current.id}`, { method: "DELETE", query: { move_to: moveTo } });
        flash(`Pipeline “${current.name}” deleted`, "ok");
        current = null;
        await load();
      },
    });
  });

  document.getElementById("make-default").addEventListener("click", async () => {
    try {
      await api(`pipelines/${current.id}`, { method: "PATCH", json: { is_default: true } });
      flash(`“${current.name}” is now the default pipeline`, "ok");
      await load();
    } catch (err) { fail(err); }
  });

  document.getElementById("pipeline-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`pipelines/${current.id}`, { method: "PATCH", json: { name: nameInput.value.trim() } });
      flash("Pipeline renamed", "ok");
      await load();
    } catch (err) { fail(err); }
  });

  document.getElementById("add-stage").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await api(`pipelines/${current.id}/stages`, { method: "POST", json: {
        name: document.getElementById("new-stage-name").value.trim(),
        kind: document.getElementById("new-stage-kind").value } });
      form.reset();
      await load();
    } catch (err) { fail(err); }
  });

  document.getElementById("new-pipeline").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      const name = document.getElementById("new-pipeline-name").value.trim();
      const created = await api("pipelines", { method: "POST", json: { name } });
      form.reset();
      flash(`Pipeline “${created.name}” created with the default stages`, "ok");
      await load(created.id);
    } catch (err) { fail(err); }
  });

  select.addEventListener("change", () => load(select.value).catch(fail));
  load().catch(fail);
})();

/* Undo an import from the Jobs page: first a preview (a dry-run revert: what would be deleted,
   restored, and which rows changed since stay as they are), then the revert itself. */
"use strict";

const Undo = (() => {
  const { api, h, fail } = DP;
  const FINISHED = ["succeeded", "completed_with_errors", "failed", "cancelled"];
  const COLUMNS = ["total", "deleted", "restored", "unchanged", "failed"];
  const LABELS = { failed: "changed since (left)" };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function until(job, container, note) {
    while (!FINISHED.includes(job.status)) {
      container.replaceChildren(h("p", { class: "muted" }, `${note} ${job.percent ?? 0}%`));
      await sleep(600);
      job = await api(`jobs/${job.id}`);
    }
    return job;
  }

  function table(job) {
    const rows = Object.entries(job.progress || {}).filter(([, p]) => p && p.total);
    return h("table", { class: "grid compact", dataset: { testid: "undo-summary" } },
      h("thead", {}, h("tr", {}, h("th", {}, "entity"), COLUMNS.map((c) => h("th", {}, LABELS[c] || c)))),
      h("tbody", {}, rows.map(([entity, p]) => h("tr", { dataset: { entity } }, h("td", {}, entity),
        COLUMNS.map((c) => h("td", { class: "num" }, String(p[c] ?? 0)))))));
  }

  function totals(job) {
    const sum = (key) => Object.values(job.progress || {}).reduce((n, p) => n + (p[key] || 0), 0);
    return { deleted: sum("deleted"), restored: sum("restored"), conflicts: sum("failed") };
  }

  async function preview(container, job) {
    container.replaceChildren(h("p", { class: "muted" }, "Checking what the undo would change…"));
    let dry = await api(`jobs/${job.id}/revert`, { method: "POST", query: { dry_run: "true" } });
    dry = await until(dry, container, "Checking what the undo would change…");
    const t = totals(dry);
    const force = h("input", { type: "checkbox", id: "undo-force" });
    const confirm = h("button", { class: "danger", dataset: { testid: "undo-confirm" }, onclick: () => run(container, job, force.checked).catch(fail) }, "Undo now");
    container.replaceChildren(...[
      h("h3", {}, "Undo this import"),
      h("p", { dataset: { testid: "undo-preview" } },
        `${t.deleted} row(s) the import created would be deleted and ${t.restored} row(s) it updated get their earlier values back.`,
        t.conflicts ? ` ${t.conflicts} row(s) were changed after the import and stay as they are.` : ""),
      table(dry),
      t.conflicts ? h("label", { for: "undo-force" }, force, " Also undo the rows changed since the import") : null,
      h("div", { class: "actions" }, confirm)].filter(Boolean));
  }

  async function run(container, job, force) {
    let revert;
    try {
      revert = await api(`jobs/${job.id}/revert`, { method: "POST", query: { force: force ? "true" : "" } });
    } catch (err) { fail(err); return; }
    revert = await until(revert, container, "Undoing…");
    const t = totals(revert);
    container.replaceChildren(
      h("h3", {}, "Import undone"),
      h("p", { dataset: { testid: "undo-result" } }, `${revert.status.replace(/_/g, " ")}: ${t.deleted} deleted, ${t.restored} restored` + (t.conflicts ? `, ${t.conflicts} left as changed since` : "") + "."),
      table(revert));
  }

  /* Offer the undo under a finished import that wrote something. */
  function offer(container, job) {
    const can = job.kind === "import" && FINISHED.includes(job.status) && !job.dry_run;
    container.hidden = !can;
    if (!can) return;
    container.replaceChildren(
      h("button", { dataset: { testid: "undo-import" }, onclick: () => preview(container, job).catch(fail) }, "Undo this import…"),
      h("span", { class: "muted" }, " See what it would change before anything is changed."));
  }

  return { offer };
})();

/* Import & export: upload a bundle (multipart) or start an export, and watch the job run.
   The job being watched is remembered per organization in localStorage, so leaving the page and
   coming back picks it up again (or shows how it ended). */
"use strict";

(() => {
  const { api, fail, flash, head } = DP;
  const orgId = document.querySelector("[data-org-id]")?.dataset.orgId || "";
  const storeKey = (kind) => `drippulse.${orgId}.${kind}.job`;
  const form = document.getElementById("import-form");
  const importBox = document.getElementById("import-job");
  const exportBox = document.getElementById("export-job");
  const exportButton = document.getElementById("export-start");
  const recent = document.getElementById("recent-jobs");

  // a followed job refreshes its row in Recent jobs, so both show the same percentage
  const watch = (box, job) => Jobs.follow(box, job, (next) => Jobs.updateRow(recent.tBodies[0], next, rowHandlers));
  const rowHandlers = { onSelect: (j) => watch(j.kind === "export" ? exportBox : importBox, j).catch(fail) };

  async function loadRecent() {
    try {
      const data = await api("jobs", { query: { limit: 10 } });
      head(recent, Jobs.LIST_COLUMNS);
      recent.tBodies[0].replaceChildren(...data.items.map((job) => Jobs.listRow(job, rowHandlers)));
    } catch (err) { fail(err); }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("import-file").files[0];
    if (!file) return flash("Choose a .json or .json.gz bundle first.");
    const body = new FormData();
    body.append("file", file, file.name);
    const submit = document.getElementById("import-submit");
    submit.disabled = true;
    flash("");
    try {
      const job = await api("import", { method: "POST", body, query: { dry_run: document.getElementById("dry-run").checked ? "true" : "" } });
      localStorage.setItem(storeKey("import"), job.id);
      loadRecent();
      const done = await watch(importBox, job);
      flash(`Import ${done.status.replace(/_/g, " ")}.`, done.status === "succeeded" ? "ok" : "info");
    } catch (err) {
      fail(err);
    } finally {
      submit.disabled = false;
      loadRecent();
    }
  });

  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    flash("");
    try {
      const job = await api("exports", { method: "POST", json: {
        gzip: document.getElementById("export-gzip").checked,
        include_deleted: document.getElementById("export-deleted").checked } });
      localStorage.setItem(storeKey("export"), job.id);
      loadRecent();
      await watch(exportBox, job);
    } catch (err) {
      fail(err);
    } finally {
      exportButton.disabled = false;
      loadRecent();
    }
  });

  /* The job to show on arrival: the one this browser last started, else the organization's
     newest running or queued job of that kind (started elsewhere, e.g. by the CLI). */
  async function jobToResume(kind) {
    const remembered = localStorage.getItem(storeKey(kind));
    if (remembered) {
      try {
        return await api(`jobs/${encodeURIComponent(remembered)}`);
      } catch (err) {
        if (err.status !== 404) throw err;
        localStorage.removeItem(storeKey(kind)); // expired or purged: forget it
      }
    }
    for (const status of ["running", "queued"]) {
      const data = await api("jobs", { query: { kind, status, limit: 1 } });
      if (data.items.length) return data.items[0];
    }
    return null;
  }

  async function resume(kind, box, button) {
    const job = await jobToResume(kind);
    if (!job) return;
    if (Jobs.finished(job)) {
      Jobs.render(box, job);
      await Jobs.renderErrors(box, job);
      return;
    }
    button.disabled = true;
    try {
      await watch(box, job);
    } finally {
      button.disabled = false;
      loadRecent();
    }
  }

  loadRecent();
  resume("import", importBox, document.getElementById("import-submit")).catch(fail);
  resume("export", exportBox, exportButton).catch(fail);
})();

/* Import & export: upload a bundle (multipart) or start an export, and watch the job run. */
"use strict";

(() => {
  const { api, fail, flash, head } = DP;
  const form = document.getElementById("import-form");
  const importBox = document.getElementById("import-job");
  const exportBox = document.getElementById("export-job");
  const exportButton = document.getElementById("export-start");
  const recent = document.getElementById("recent-jobs");

  async function loadRecent() {
    try {
      const data = await api("jobs", { query: { limit: 10 } });
      head(recent, Jobs.LIST_COLUMNS);
      recent.tBodies[0].replaceChildren(...data.items.map((job) => Jobs.listRow(job, {
        onSelect: (j) => Jobs.follow(importBox, j).catch(fail),
      })));
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
      loadRecent();
      const done = await Jobs.follow(importBox, job);
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
      loadRecent();
      await Jobs.follow(exportBox, job);
    } catch (err) {
      fail(err);
    } finally {
      exportButton.disabled = false;
      loadRecent();
    }
  });

  loadRecent();
})();

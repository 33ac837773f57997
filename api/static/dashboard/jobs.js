/* Jobs: every import and export of the organization, newest first, with cancel; each links to
   its own page (/app/jobs/<id>: progress, errors, undo). */
"use strict";

(() => {
  const { api, fail, head } = DP;
  const table = document.getElementById("jobs");
  const more = document.getElementById("more");
  let cursor = null;
  let refresh = null;

  async function cancel(job) {
    try {
      await api(`jobs/${job.id}/cancel`, { method: "POST" });
      await load(true);
    } catch (err) { fail(err); }
  }

  async function load(reset) {
    try {
      if (reset) cursor = null;
      const data = await api("jobs", { query: { cursor, limit: 25 } });
      if (reset) table.tBodies[0].replaceChildren();
      table.tBodies[0].append(...data.items.map((job) => Jobs.listRow(job, { onCancel: cancel })));
      cursor = data.next;
      more.hidden = !cursor;
      // Keep the first page live while something runs (not once the user paged further).
      clearTimeout(refresh);
      if (!cursor && data.items.some((job) => !Jobs.finished(job))) refresh = setTimeout(() => load(true), 2000);
    } catch (err) { fail(err); }
  }

  head(table, Jobs.LIST_COLUMNS);
  more.addEventListener("click", () => load(false));
  load(true);
})();

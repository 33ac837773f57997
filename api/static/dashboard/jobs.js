/* Jobs: every import and export of the organization, newest first, with cancel. */
"use strict";

(() => {
  const { api, fail, head } = DP;
  const table = document.getElementById("jobs");
  const more = document.getElementById("more");
  const detail = document.getElementById("job-detail");
  const undo = document.getElementById("undo");
  let cursor = null;
  let refresh = null;

  async function cancel(job) {
    try {
      await api(`jobs/${job.id}/cancel`, { method: "POST" });
      await load(true);
    } catch (err) { fail(err); }
  }

  const select = (job) => {
    undo.hidden = true;
    return Jobs.follow(detail, job).then((done) => { Undo.offer(undo, done || job); return load(true); }).catch(fail);
  };

  async function load(reset) {
    try {
      if (reset) cursor = null;
      const data = await api("jobs", { query: { cursor, limit: 25 } });
      if (reset) table.tBodies[0].replaceChildren();
      table.tBodies[0].append(...data.items.map((job) => Jobs.listRow(job, { onCancel: cancel, onSelect: select })));
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

/* Rendering and polling of import/export jobs, shared by Import & export and Jobs pages. */
"use strict";

const Jobs = (() => {
  const { api, h, fmt, head } = DP;
  const FINISHED = ["succeeded", "completed_with_errors", "failed", "cancelled"];
  const COUNTERS = ["processed", "total", "created", "updated", "unchanged", "failed"];

  const finished = (job) => FINISHED.includes(job.status);

  /* Why a job failed, in words (the job's error is {code, message} or, from old rows, text). */
  const reason = (job) => (!job.error ? ""
    : typeof job.error === "object" ? (job.error.message || JSON.stringify(job.error)) : String(job.error));

  /* Its entities in the order they are imported (accounts first), not the order the JSON
     happens to carry; only those the job touched. */
  function entityRows(job) {
    const order = Object.keys(DP.page.entities || {});
    const rank = (e) => (order.includes(e) ? order.indexOf(e) : order.length);
    return Object.entries(job.progress || {}).filter(([, p]) => p && (p.total || p.processed))
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  }

  function bar(processed, total, label) {
    const pct = total ? Math.min(100, Math.round((processed * 100) / total)) : 0;
    const fill = h("span");
    fill.style.width = `${pct}%`; // CSSOM, not a style attribute: the CSP forbids inline styles
    return h("div", { class: "bar", role: "progressbar", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct }, fill);
  }

  /* Bytes as the CLI prints them (1 KB = 1024 bytes), so both say the same figures. */
  function humanBytes(n) {
    const units = ["B", "KB", "MB", "GB"];
    let unit = 0;
    while (Math.abs(n) >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
    return unit === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[unit]}`;
  }

  /* While an import reads its upload (its spool phase, before any row is applied and while
     the percentage stays 0): how far it got. The job JSON's `reading` is null otherwise. */
  function readingLine(job) {
    const r = job.reading;
    if (!r) return null;
    const of = r.bytes_total
      ? ` of ${humanBytes(r.bytes_total)} (${Math.floor((r.bytes * 100) / r.bytes_total)}%)` : "";
    return h("p", { class: "muted reading", dataset: { testid: "job-reading" } },
      `Reading the upload… ${humanBytes(r.bytes)}${of} · ${Number(r.rows).toLocaleString()} rows`);
  }

  /* The job as a card: status, overall bar, one bar and counts per entity, then its errors. */
  function render(container, job) {
    container.hidden = false;
    container.dataset.status = job.status;
    container.dataset.jobId = job.id;
    const rows = entityRows(job);
    // an export only reads rows: created/updated/unchanged/failed would be a table of zeros
    const counters = job.kind === "export" ? ["processed", "total"] : COUNTERS;
    const children = [
      h("div", { class: "job-head" },
        h("strong", {}, `${job.kind}${job.dry_run ? " (dry run)" : ""}`), " ",
        h("span", { class: `status ${job.status}`, dataset: { testid: "job-status" } }, job.status.replace(/_/g, " ")),
        " ", h("span", { class: "muted" }, `${job.percent ?? 0}%`),
        job.rows_per_second !== null && job.rows_per_second !== undefined
          ? h("span", { class: "muted rate", dataset: { testid: "job-rate" } },
            ` · ${Number(job.rows_per_second).toLocaleString()} rows/s${finished(job) ? " average" : ""}`)
          : null),
      readingLine(job),
      bar(job.percent ?? 0, 100, "overall progress"),
      rows.length ? h("table", { class: "grid compact" },
        h("thead", {}, h("tr", {}, h("th", {}, "entity"), h("th", {}, "progress"), counters.map((c) => h("th", {}, c)))),
        h("tbody", {}, rows.map(([entity, p]) => h("tr", { dataset: { entity } },
          h("td", {}, entity), h("td", {}, bar(p.processed || 0, p.total || 0, entity)),
          counters.map((c) => h("td", { class: "num" }, String(p[c] ?? 0))))))) : null,
      job.error ? h("p", { class: "error", dataset: { testid: "job-error" } }, reason(job)) : null,
      job.error_count ? h("p", {}, `${job.error_count} row error(s):`) : null,
      errorDownloads(job),
      h("div", { class: "job-errors" }),
      job.links && job.links.download
        ? h("p", {}, h("a", { class: "button", href: job.links.download, download: "", dataset: { testid: "download-link" } }, "Download file"))
        : null,
    ];
    container.replaceChildren(...children.filter(Boolean)); // replaceChildren would print "null"
  }

  /* Every failed row as a file (the page shows only the first 100). Plain links: the session
     cookie rides along on a GET, and the API answers with Content-Disposition: attachment. */
  function errorDownloads(job) {
    if (!finished(job) || !job.error_count || !job.links || !job.links.errors) return null;
    return h("p", { class: "error-downloads" }, "Download the failed rows: ",
      h("a", { href: `${job.links.errors}?format=csv`, download: "", dataset: { testid: "errors-csv" } }, "CSV"),
      " · ",
      h("a", { href: `${job.links.errors}?format=jsonl`, download: "", dataset: { testid: "errors-jsonl" } }, "JSON lines"));
  }

  async function renderErrors(container, job) {
    if (!job.error_count || !job.links || !job.links.errors) return;
    const data = await api(job.links.errors, { query: { limit: 100 } });
    const table = h("table", { class: "grid compact errors" }, h("tbody"));
    // a converted row (another system's export) says where it is in the source: file and row
    const where = (e) => (e.file ? `${e.file} ${e.row !== undefined ? `row ${e.row}` : `record ${e.record}`}` : "");
    const converted = data.items.some((e) => e.file);
    head(table, [["entity", "entity"], ["index", "row"], ...(converted ? [["file", "in the source"]] : []), ["public_id", "public_id"], ["field", "field"], ["message", "message"]]);
    table.tBodies[0].append(...data.items.map((e) => h("tr", {},
      h("td", {}, fmt(e.entity)), h("td", {}, fmt(e.index)), converted ? h("td", {}, where(e)) : null,
      ["public_id", "field", "message"].map((k) => h("td", {}, fmt(e[k]))))));
    container.querySelector(".job-errors").replaceChildren(table,
      data.next ? h("p", { class: "muted" }, "Showing the first 100 errors.") : "");
  }

  /* The job's event stream (GET jobs/{id}/events: one event per change); resolves with the
     finished job, or null when the server has no stream for us (busy, or it ended early). */
  function stream(job, onJob) {
    return new Promise((resolve) => {
      if (!window.EventSource) { resolve(null); return; }
      const source = new EventSource(`${job.links.self}/events`);
      source.onmessage = (event) => {
        const next = JSON.parse(event.data);
        onJob(next);
        if (finished(next)) { source.close(); resolve(next); }
      };
      source.onerror = () => { source.close(); resolve(null); };
    });
  }

  /* Follow the job until it finishes — its event stream when the server has one, else polling —
     re-rendering on each change; resolves with the finished job. */
  async function follow(container, job, onUpdate) {
    let delay = 400;
    const seen = (next) => { job = next; render(container, next); if (onUpdate) onUpdate(next); };
    render(container, job);
    while (!finished(job)) {
      if (await stream(job, seen)) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(2000, delay * 1.25);
      seen(await api(job.links.self));
    }
    await renderErrors(container, job);
    return job;
  }

  /* A row of a table of jobs: its kind links to the job's own page (/app/jobs/<id>); a failed
     job says why right there; an export has no row errors to count. `onSelect`, when given,
     shows the job in place instead (a modified click still opens its page). */
  function listRow(job, { onCancel, onSelect } = {}) {
    const open = (e) => {
      if (!onSelect || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      onSelect(job);
    };
    const why = ["failed", "cancelled"].includes(job.status) && job.error
      ? h("div", { class: "reason error small", dataset: { testid: "job-reason" } }, reason(job)) : null;
    return h("tr", { dataset: { jobId: job.id, status: job.status } },
      h("td", {}, h("a", { href: `/app/jobs/${encodeURIComponent(job.id)}`, onclick: open }, job.kind),
        job.dry_run ? h("span", { class: "badge" }, "dry run") : null),
      h("td", {}, h("span", { class: `status ${job.status}` }, job.status.replace(/_/g, " ")), why),
      h("td", { class: "num", dataset: { testid: "job-percent" } }, `${job.percent ?? 0}%`),
      h("td", { class: "num" }, job.kind === "export" ? "" : String(job.error_count ?? 0)),
      h("td", {}, fmt(job.created_at)),
      h("td", {}, fmt(job.finished_at)),
      h("td", {}, job.links && job.links.download ? h("a", { href: job.links.download }, "download") : "",
        !finished(job) && onCancel ? h("button", { class: "small", onclick: () => onCancel(job) }, "Cancel") : ""));
  }

  /* Replace a job's row in a list with its newer state (a followed job updates its list row too,
     so the list and the card never show two different percentages). */
  function updateRow(tbody, job, handlers) {
    const row = tbody.querySelector(`tr[data-job-id="${CSS.escape(job.id)}"]`);
    if (row) row.replaceWith(listRow(job, handlers));
  }

  const LIST_COLUMNS = [["kind", "kind"], ["status", "status"], ["percent", "%"], ["errors", "errors"],
    ["created_at", "created"], ["finished_at", "finished"], ["actions", ""]];

  return { finished, reason, render, renderErrors, follow, listRow, updateRow, LIST_COLUMNS };
})();

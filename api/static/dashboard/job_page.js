/* One job at its own URL (/app/jobs/<id>): its card, live while it runs, its row errors and,
   for a finished import, the offer to undo it. */
"use strict";

(() => {
  const { api, h, fail, page } = DP;
  const box = document.getElementById("job-page");
  const undo = document.getElementById("undo");

  (async () => {
    let job;
    try {
      job = await api(`jobs/${encodeURIComponent(page.job_id)}`);
    } catch (err) {
      if (err.status !== 404 && err.status !== 422) throw err;
      // unknown, purged, malformed or another organization's: the same answer for all
      box.hidden = false;
      box.dataset.status = "missing";
      box.replaceChildren(h("p", { dataset: { testid: "job-missing" } },
        "No job with this id in your organization. ", h("a", { href: "/app/jobs" }, "See all jobs")));
      return;
    }
    document.title = `${job.kind} job · DripPulse`;
    document.querySelector("main h1").textContent = `${job.kind[0].toUpperCase()}${job.kind.slice(1)} job`;
    const done = await Jobs.follow(box, job);
    Undo.offer(undo, done || job);
  })().catch(fail);
})();

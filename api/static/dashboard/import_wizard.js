/* Import wizard: upload → detected source and objects → (generic CSV) column mapping → preview
   from a dry run → the import with live progress → results. Every step talks to the same
   POST import?source=… the CLI uses; the wizard only builds the request. */
"use strict";

(() => {
  const { api, h, fail, flash } = DP;
  const $ = (id) => document.getElementById(id);
  const steps = ["upload", "detected", "mapping", "preview", "run"];
  const SOURCE_LABELS = { bundle: "DripPulse bundle", salesforce: "Salesforce", hubspot: "HubSpot", csv: "Any CSV (with a mapping)" };
  let upload = null; // {files, source, zip}
  let states = []; // per CSV file: its mapping state
  let chosen = []; // the File objects as picked

  function show(step) {
    // one step at a time (Back buttons go back); the recap says what is being imported
    for (const s of steps) $(`step-${s}`).hidden = s !== step;
    $("wizard-recap").hidden = step === "upload";
    if (upload) {
      $("wizard-recap").textContent = `${SOURCE_LABELS[upload.source]}: ${upload.files.map((f) => f.path).join(", ")}`;
    }
    document.querySelectorAll("#wizard-steps li").forEach((li) => {
      li.classList.toggle("current", li.dataset.step === step);
      if (li.dataset.step === step) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
    $(`step-${step}`).scrollIntoView({ block: "start" });
  }

  const needsMapping = () => upload.source === "csv" && !upload.files.some((f) => f.source === "mapping");
  const csvFiles = () => upload.files.filter((f) => f.source !== "mapping" && /\.csv$/i.test(f.name));

  $("wizard-files").addEventListener("change", async (event) => {
    chosen = [...event.target.files];
    flash("");
    if (!chosen.length) return;
    try {
      upload = await WizardDetect.detect(chosen);
      renderDetected();
      show("detected");
    } catch (err) { fail(err); }
  });

  function renderDetected() {
    $("wizard-source").value = upload.source;
    $("detected-source").textContent = SOURCE_LABELS[upload.source];
    const objectLabel = (f) => (upload.source === "csv" && f.source !== "mapping" ? f.object || "?" : f.object);
    $("detected-files").tBodies[0].replaceChildren(...upload.files.map((f) => h("tr", { dataset: { file: f.name } },
      h("td", {}, f.path), h("td", {}, SOURCE_LABELS[f.source] || f.source), h("td", { dataset: { testid: "object" } }, objectLabel(f)),
      h("td", { class: "num" }, f.headers.length ? String(f.headers.length) : ""))));
    const mixed = new Set(upload.files.filter((f) => f.source !== "mapping").map((f) => f.source)).size > 1;
    $("detected-mixed").hidden = !mixed;
  }

  $("wizard-source").addEventListener("change", (e) => {
    upload.source = e.target.value;
    $("detected-source").textContent = SOURCE_LABELS[upload.source];
  });

  $("detected-next").addEventListener("click", async () => {
    if (!needsMapping()) { startPreview(); return; }
    if (!csvFiles().length) { flash("Any CSV needs .csv files (or a zip with mapping.json)."); return; }
    states = await Promise.all(csvFiles().map((f) => WizardMapping.initial(f)));
    // a saved mapping brings its old system's name (the rows' external ids belong to it),
    // unless the user already typed one
    const system = states.find((s) => s.system)?.system;
    if (system && $("wizard-system").value.trim() === "csv") $("wizard-system").value = system;
    renderMapping();
    show("mapping");
  });

  function renderMapping() {
    $("mapping-files").replaceChildren(...csvFiles().map((f, i) => WizardMapping.render(f, states[i], i, renderMapping)));
  }

  $("mapping-next").addEventListener("click", () => startPreview());
  $("detected-back").addEventListener("click", () => show("upload"));
  $("mapping-back").addEventListener("click", () => show("detected"));
  $("preview-back").addEventListener("click", () => show(needsMapping() ? "mapping" : "detected"));

  function mappingDocument() {
    return { version: 1, external_system: $("wizard-system").value.trim() || "csv",
      files: csvFiles().map((f, i) => WizardMapping.entry(f, states[i])) };
  }

  /* The request: the files (or the zip) as multipart parts, plus the mapping for csv. */
  function send(dryRun) {
    const body = new FormData();
    for (const f of chosen) body.append("file", f, f.name);
    if (needsMapping()) body.append("mapping", new Blob([JSON.stringify(mappingDocument())], { type: "application/json" }), "mapping.json");
    return api("import", { method: "POST", body, query: { source: upload.source, dry_run: dryRun ? "true" : "",
      create_stages: $("create-stages").checked ? "true" : "" } });
  }

  /* A refused mapping lists every problem with its path: show them where the user can act. */
  function problems(err) {
    const list = err.details && err.details.problems;
    if (!list) return fail(err);
    flash(err.message);
    $("mapping-problems").hidden = false;
    $("mapping-problems").replaceChildren(h("p", {}, "The API refused the mapping:"),
      h("ul", {}, list.map((p) => h("li", {}, `${p.path}: ${p.message}`))));
    return null;
  }

  async function startPreview() {
    flash("");
    $("mapping-problems").hidden = true;
    let job;
    try { job = await send(true); } catch (err) { problems(err); return; }
    show("preview");
    $("preview-summary").replaceChildren();
    $("run-start").disabled = true;
    try {
      const done = await Jobs.follow($("preview-job"), job);
      await summarize($("preview-summary"), done, "would be");
      $("run-start").disabled = done.status === "failed";
    } catch (err) { fail(err); }
  }

  /* The import accepted the mapping: save each file's part for the organization (PUT mappings),
     so anyone uploading the same columns later starts from it. */
  async function saveMappings() {
    if (!needsMapping()) return;
    const system = $("wizard-system").value.trim() || "csv";
    try {
      await Promise.all(csvFiles().map((f, i) => WizardMapping.save(f, states[i], system)));
    } catch (err) {
      flash(`The import started, but the mapping could not be saved: ${err.message}`, "info");
    }
  }

  /* What the job did (or would do) per entity, its unresolved references and stage fallbacks. */
  async function summarize(box, job, verb) {
    const rows = Object.entries(job.progress || {}).filter(([, p]) => p && (p.total || p.processed));
    const refErrors = job.error_count && job.links && job.links.errors
      ? (await api(job.links.errors, { query: { limit: 100 } })).items.filter((e) => /reference/.test(e.code || "")) : [];
    const fallbacks = (job.warnings || []).filter((w) => w.code === "stage_fallback");
    const other = (job.warnings || []).filter((w) => w.code !== "stage_fallback");
    box.replaceChildren(...[
      h("table", { class: "grid compact", dataset: { testid: "summary" } },
        h("thead", {}, h("tr", {}, ["entity", ...["created", "updated"].map((c) => (verb ? `${verb} ${c}` : c)), "unchanged", "failed"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows.map(([entity, p]) => h("tr", { dataset: { entity } }, h("td", {}, entity),
          ["created", "updated", "unchanged", "failed"].map((c) => h("td", { class: "num", dataset: { count: c } }, String(p[c] ?? 0))))))),
      refErrors.length ? h("div", { dataset: { testid: "unresolved" } }, h("h3", {}, "Unresolved references"),
        h("ul", {}, refErrors.map((e) => h("li", {}, `${e.file ? `${e.file} row ${e.row ?? e.record}: ` : ""}${e.message}`)))) : null,
      fallbacks.length ? h("div", { dataset: { testid: "stage-fallbacks" } }, h("h3", {}, "Stages not in your pipeline"),
        h("ul", {}, fallbacks.map((w) => h("li", {}, w.message))),
        h("p", { class: "muted" }, "Tick \"Create missing stages\" to add them instead.")) : null,
      other.length ? h("div", {}, h("h3", {}, "Warnings"), h("ul", {}, other.map((w) => h("li", {}, w.message)))) : null,
    ].filter(Boolean)); // replaceChildren would print "null"
  }

  $("run-start").addEventListener("click", async () => {
    $("run-start").disabled = true;
    flash("");
    let job;
    try { job = await send(false); } catch (err) { problems(err); $("run-start").disabled = false; return; }
    await saveMappings();
    show("run");
    $("run-summary").replaceChildren();
    try {
      const done = await Jobs.follow($("run-job"), job);
      await summarize($("run-summary"), done, "");
      $("run-links").hidden = false;
      $("run-job-link").href = `/app/jobs/${encodeURIComponent(done.id)}`;
      flash(`Import ${done.status.replace(/_/g, " ")}.`, done.status === "succeeded" ? "ok" : "info");
    } catch (err) { fail(err); }
  });

  show("upload");
})();

/* Import wizard, step 1: what was uploaded. Reads file names, CSV header lines and the start of
   JSON files (inside a zip too) in the browser, and guesses the source system and the object of
   each file. Only a guess: the user can override it, and the API checks everything again. */
"use strict";

const WizardDetect = (() => {
  const HEAD_BYTES = 64 * 1024; // a header line and a few rows; never the whole file
  const SF_ID = /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/;
  const SF_PREFIX = { "001": "Account", "003": "Contact", "006": "Opportunity", "00Q": "Lead", "00T": "Task", "00U": "Event" };
  const SF_OBJECTS = ["Account", "Contact", "Opportunity", "OpportunityStage", "Lead", "Task", "Event"];
  // HubSpot's key column in the languages its exports come in
  const HUBSPOT_ID = ["record id", "id de registro", "datensatz-id", "id de l'enregistrement", "id record", "id do registro"];
  const CSV_ENTITY_WORDS = [["accounts", /account|compan|organi[sz]ation|customer/], ["contacts", /contact|people|person/],
    ["opportunities", /opportunit|deal/], ["leads", /lead|prospect/], ["activities", /activit|task|note|call|meeting|event/]];

  /* One CSV line into cells: quotes, doubled quotes and the delimiter the API would sniff. */
  function splitLine(line, delimiter) {
    const cells = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < line.length; i += 1) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false; else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === delimiter) { cells.push(cell); cell = ""; } else cell += c;
    }
    cells.push(cell);
    return cells;
  }

  /* Header and the first rows (cells may not span lines here: this only feeds suggestions). */
  function parseHead(text) {
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim() !== "");
    if (lines.length && !/\r?\n/.test(text.slice(-1))) lines.length = Math.max(1, lines.length - 1); // last may be cut
    const first = lines[0] || "";
    const delimiter = [",", ";", "\t", "|"].map((d) => [d, splitLine(first, d).length]).sort((a, b) => b[1] - a[1])[0][0];
    return { headers: splitLine(first, delimiter).map((hd) => hd.trim()), rows: lines.slice(1, 4).map((l) => splitLine(l, delimiter)) };
  }

  async function inflate(bytes, format) {
    // read only until enough text is out: a truncated stream would otherwise throw at its end
    const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format)).getReader();
    const parts = [];
    let size = 0;
    try {
      while (size < HEAD_BYTES) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        size += value.length;
      }
    } catch (_) { /* the end of a cut-off entry: what came out is enough */ }
    reader.cancel().catch(() => {});
    return new Blob(parts).text();
  }

  /* The entries of a zip from its central directory, each with the start of its text. */
  async function zipEntries(file) {
    const buf = new Uint8Array(await file.arrayBuffer());
    const view = new DataView(buf.buffer);
    let end = buf.length - 22;
    while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end -= 1;
    if (end < 0) throw new Error(`${file.name} is not a zip file`);
    const count = view.getUint16(end + 10, true);
    let at = view.getUint32(end + 16, true);
    const entries = [];
    for (let i = 0; i < count && view.getUint32(at, true) === 0x02014b50; i += 1) {
      const method = view.getUint16(at + 10, true);
      const compressed = view.getUint32(at + 20, true);
      const nameLen = view.getUint16(at + 28, true);
      const extraLen = view.getUint16(at + 30, true);
      const commentLen = view.getUint16(at + 32, true);
      const local = view.getUint32(at + 42, true);
      const name = new TextDecoder().decode(buf.subarray(at + 46, at + 46 + nameLen));
      at += 46 + nameLen + extraLen + commentLen;
      if (name.endsWith("/")) continue;
      const dataAt = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
      const data = buf.subarray(dataAt, dataAt + Math.min(compressed, 4 * HEAD_BYTES));
      let text = "";
      if (method === 0) text = new TextDecoder().decode(data.subarray(0, HEAD_BYTES));
      else if (method === 8) text = await inflate(data, "deflate-raw");
      entries.push({ name, text });
    }
    return entries;
  }

  async function head(file) {
    if (/\.gz$/i.test(file.name)) return inflate(await file.slice(0, HEAD_BYTES).arrayBuffer(), "gzip");
    return file.slice(0, HEAD_BYTES).text();
  }

  const base = (name) => name.split("/").pop();
  const norm = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();

  /* One file (or zip entry): its kind, its guessed source and object, its header. */
  function classify(name, text) {
    const file = { name: base(name), path: name, source: "csv", object: "", headers: [], rows: [] };
    if (base(name) === "mapping.json") return { ...file, source: "mapping", object: "mapping" };
    if (/\.json(\.gz)?$/i.test(name)) {
      if (/-plan\.json$/i.test(name)) return { ...file, source: "salesforce", object: "plan" };
      const type = /"attributes"\s*:\s*\{[^}]*"type"\s*:\s*"([^"]+)"/.exec(text);
      if (type) return { ...file, source: "salesforce", object: type[1] };
      return { ...file, source: "bundle", object: "bundle" };
    }
    const { headers, rows } = parseHead(text);
    Object.assign(file, { headers, rows });
    const lower = headers.map((hd) => hd.toLowerCase());
    if (lower.some((hd) => HUBSPOT_ID.includes(hd))) {
      const n = name.toLowerCase();
      const object = /compan/.test(n) ? "companies" : /deal/.test(n) ? "deals" : /contact/.test(n) ? "contacts"
        : lower.includes("deal name") ? "deals" : lower.includes("company name") ? "companies" : "contacts";
      return { ...file, source: "hubspot", object };
    }
    const idAt = headers.indexOf("Id");
    const ids = rows.map((r) => r[idAt]).filter(Boolean);
    if (idAt >= 0 && ids.length && ids.every((v) => SF_ID.test(v))) {
      const stem = base(name).replace(/\.csv$/i, "").toLowerCase();
      const object = SF_OBJECTS.find((o) => stem === o.toLowerCase() || stem.startsWith(`${o.toLowerCase()}_`))
        || SF_PREFIX[ids[0].slice(0, 3)] || "unknown object";
      return { ...file, source: "salesforce", object };
    }
    return { ...file, source: "csv", object: guessEntity(base(name), headers) };
  }

  /* A generic CSV's entity: its file name first (accounts.csv, deals-2024.csv), else none. */
  function guessEntity(name, headers) {
    const n = norm(name.replace(/\.csv$/i, ""));
    const hit = CSV_ENTITY_WORDS.find(([, re]) => re.test(n));
    if (hit) return hit[0];
    const h = headers.map(norm);
    if (h.some((x) => /deal|amount|stage/.test(x))) return "opportunities";
    if (h.some((x) => /email|first name/.test(x))) return "contacts";
    return "accounts";
  }

  /* The source of the whole upload: a bundle or a mapping wins, else what most files say. */
  function overall(files) {
    const votes = {};
    for (const f of files) if (f.source !== "mapping") votes[f.source] = (votes[f.source] || 0) + 1;
    if (votes.bundle) return "bundle";
    if (files.some((f) => f.source === "mapping")) return "csv";
    return Object.entries(votes).sort((a, b) => b[1] - a[1])[0]?.[0] || "csv";
  }

  /* Every chosen file, a zip opened into its entries; resolves with {files, source, zip}. */
  async function detect(fileList) {
    const chosen = [...fileList];
    const zips = chosen.filter((f) => /\.zip$/i.test(f.name));
    if (zips.length && chosen.length > 1) throw new Error("Upload one zip on its own, or the files without a zip.");
    const files = zips.length
      ? (await zipEntries(zips[0])).map((e) => classify(e.name, e.text))
      : await Promise.all(chosen.map(async (f) => classify(f.name, await head(f))));
    return { files, source: overall(files), zip: zips[0] || null, mapping: null };
  }

  return { detect, classify, parseHead, norm };
})();

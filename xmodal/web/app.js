// The page of `python -m xmodal.serve`: a picture or a mesh in, the nearest shapes of the index out.
// Plain JS, no dependency and no request outside this server: GET /metadata once, POST /search per query.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    drop: $("drop"), file: $("file"), formats: $("formats"),
    query: $("query"), queryImage: $("query-image"), queryMesh: $("query-mesh"),
    queryName: $("query-name"), queryInfo: $("query-info"),
    k: $("k"), kRange: $("k-range"), category: $("category"),
    status: $("status"), note: $("note"), summary: $("summary"), results: $("results"), empty: $("empty"), about: $("about"),
  };

  const DEFAULT_K = 8;
  const state = {
    meta: null,
    maxK: 100,
    meshFormats: [".obj", ".off", ".ply", ".stl", ".glb"],
    file: null,        // the current query (a File)
    previewUrl: null,  // its object URL, while it is a picture
    controller: null,  // aborts the search in flight when a newer one starts
    lastKey: null,     // the parameters of the last search started, to skip identical re-runs
  };

  // ---- small helpers ----

  const number = new Intl.NumberFormat("en");

  function bytes(n) {
    if (n < 1024) return `${n} B`;
    const units = ["KB", "MB", "GB"];
    let value = n / 1024, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  }

  function suffix(name) {
    const dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot).toLowerCase();
  }

  function isMesh(file) { return state.meshFormats.includes(suffix(file.name)); }

  function make(tag, attrs = {}, text = null) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== null) node.textContent = text;
    return node;
  }

  function setStatus(text, kind = "info") {
    el.status.textContent = text;
    el.status.dataset.state = kind;  // info | busy | error | done
  }

  // what the server says about the results beyond their distances: the query looks unlike the catalogue, or the
  // export has no calibration (so no confidence)
  function setNote(text) {
    el.note.textContent = text || "";
    el.note.hidden = !text;
  }

  // ---- metadata: limits, categories, the footer ----

  async function loadMetadata() {
    let meta;
    try {
      const response = await fetch("/metadata", { headers: { accept: "application/json" } });
      meta = await response.json();
      if (!response.ok) throw new Error(meta.error || `HTTP ${response.status}`);
    } catch (failure) {
      setStatus(`Cannot read the server's metadata: ${failure.message}`, "error");
      el.about.textContent = "Server metadata unavailable";
      return;
    }
    state.meta = meta;
    state.maxK = meta.limits.max_k;
    state.meshFormats = meta.limits.mesh_formats;
    for (const input of [el.k, el.kRange]) input.max = String(state.maxK);
    el.file.accept = ["image/*", ...state.meshFormats].join(",");
    el.formats.textContent = `PNG, JPEG, … · ${state.meshFormats.join(" ")}`;

    el.category.replaceChildren(make("option", { value: "" }, `all (${number.format(meta.index.size)})`));
    for (const [name, count] of Object.entries(meta.index.categories)) {
      el.category.append(make("option", { value: name }, `${name} (${number.format(count)})`));
    }

    const model = meta.model, index = meta.index;
    el.about.replaceChildren(
      "Model ", make("strong", { "data-field": "model" }, model.name),
      ` · version ${model.version} · Index `,
      make("strong", { "data-field": "kind" }, index.parameters || index.kind),
      " · ", make("strong", { "data-field": "size" }, `${number.format(index.size)} shapes`),
      ` · ${index.dim}-d embeddings`);
    const step = model.step === null || model.step === undefined ? "" : `, training step ${model.step}`;
    el.about.title = `export ${model.path} (sha256 ${model.sha256.slice(0, 12)}…${step}), index ${index.path}`;
    if (!state.file) setStatus("Ready: drop a picture or a mesh to search.");
  }

  // ---- the query ----

  function showQuery(file) {
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = null;
    const mesh = isMesh(file);
    el.drop.dataset.state = "loaded";
    el.query.hidden = false;
    el.queryName.textContent = file.name;
    el.queryName.title = file.name;
    el.queryInfo.textContent = `${mesh ? `${suffix(file.name).slice(1).toUpperCase()} mesh` : "picture"} · ${bytes(file.size)}`;
    el.queryMesh.toggleAttribute("hidden", !mesh);  // an SVG element: no .hidden property
    el.queryImage.hidden = true;
    el.queryImage.removeAttribute("src");
    if (!mesh) {
      state.previewUrl = URL.createObjectURL(file);
      el.queryImage.onload = () => { el.queryImage.hidden = false; };
      el.queryImage.onerror = () => { el.queryImage.hidden = true; };
      el.queryImage.alt = `The query picture, ${file.name}`;
      el.queryImage.src = state.previewUrl;
    }
  }

  function useFile(file) {
    if (!file) return;
    state.file = file;
    state.lastKey = null;
    showQuery(file);
    search();
  }

  // ---- k and category ----

  function currentK() {
    const k = Number(el.k.value);
    return Number.isInteger(k) && k >= 1 && k <= state.maxK ? k : null;
  }

  function clampK() {
    let k = Math.round(Number(el.k.value));
    if (!Number.isFinite(k) || el.k.value.trim() === "") k = DEFAULT_K;
    k = Math.min(Math.max(k, 1), state.maxK);
    el.k.value = String(k);
    el.kRange.value = String(k);
    return k;
  }

  let kTimer = null;
  function kChanged(immediate) {
    clearTimeout(kTimer);
    const k = currentK();
    if (k !== null) el.kRange.value = String(k);
    if (el.k.value.trim() === "") return;  // being retyped: wait for a number
    if (immediate) { clampK(); search(); return; }
    if (k !== null) kTimer = setTimeout(search, 300);
  }

  // ---- searching ----

  async function search() {
    if (!state.file) return;
    clearTimeout(kTimer);
    const k = currentK() ?? clampK();
    const category = el.category.value;
    const key = `${k}|${category}`;
    if (key === state.lastKey) return;
    state.lastKey = key;

    const limit = state.meta?.limits.max_body_bytes;
    if (limit && state.file.size > limit) {  // the server would answer 413: say so without sending it
      setStatus(`${state.file.name} is ${bytes(state.file.size)}; this server takes files up to ${bytes(limit)}.`,
                "error");
      return;
    }
    if (state.controller) state.controller.abort();
    const controller = new AbortController();
    state.controller = controller;
    const body = new FormData();
    body.append("file", state.file, state.file.name);
    body.append("k", String(k));
    if (category) body.append("category", category);

    setStatus("Searching…", "busy");
    setNote(null);
    el.results.setAttribute("aria-busy", "true");
    const started = performance.now();
    let answer;
    try {
      const response = await fetch("/search", { method: "POST", body, signal: controller.signal });
      const text = await response.text();
      try {
        answer = JSON.parse(text);
      } catch {
        answer = { error: `the server answered ${response.status} ${response.statusText} without JSON` };
      }
      if (!response.ok || answer.error) {
        throw new Error(answer.error || `the server answered ${response.status} ${response.statusText}`);
      }
    } catch (failure) {
      if (failure.name === "AbortError") return;  // a newer search replaced this one
      if (state.controller !== controller) return;
      state.lastKey = null;  // the same parameters may be retried
      el.results.removeAttribute("aria-busy");
      showResults([]);
      el.summary.textContent = "";
      setStatus(failure instanceof TypeError ? "Cannot reach the server." : failure.message, "error");
      return;
    }
    if (state.controller !== controller) return;
    state.controller = null;
    el.results.removeAttribute("aria-busy");
    const seconds = (performance.now() - started) / 1000;
    showResults(answer.results);
    const what = answer.query === "mesh" ? "mesh → shapes" : "picture → shapes";
    const among = state.meta
      ? (answer.category ? state.meta.index.categories[answer.category] : state.meta.index.size) : null;
    el.summary.textContent = `${answer.results.length}${among == null ? "" : ` of ${number.format(among)}`}`
      + `${answer.category ? ` ${answer.category}` : ""} shapes · ${what}`;
    setStatus(answer.results.length
      ? `${answer.results.length} nearest shapes in ${seconds.toFixed(2)} s`
      : `No shape found for ${state.file.name}.`, "done");
    setNote(answer.note);
    el.note.dataset.unlike = String(answer.unlike_catalogue === true);
  }

  function card(result) {
    const item = make("li", {
      class: "result", "data-id": result.id, "data-rank": String(result.rank),
      "data-distance": String(result.distance), "data-category": result.category,
      "data-confidence": result.confidence == null ? "" : String(result.confidence),
    });
    const thumbs = make("div", { class: "thumbs" });
    thumbs.append(
      make("img", { class: "render", src: result.thumbnail, alt: `Render of ${result.id}`, width: "96", height: "96",
                    decoding: "async" }),
      make("img", { class: "voxels-view", src: result.voxel_thumbnail, alt: "", "aria-hidden": "true",
                    width: "96", height: "96", decoding: "async" }),
      make("span", { class: "rank", "aria-label": `rank ${result.rank}` }, String(result.rank)));
    const chip = make("button", { type: "button", class: "chip", "aria-pressed": "false",
                                  title: "Its voxel grid: hover to preview, click to keep it shown" });
    chip.append(make("img", { class: "voxels", src: result.voxel_thumbnail, alt: `Voxel grid of ${result.id}`,
                              width: "96", height: "96", decoding: "async" }));
    chip.addEventListener("click", () => {
      const voxels = item.dataset.view !== "voxels";
      item.dataset.view = voxels ? "voxels" : "render";
      chip.setAttribute("aria-pressed", String(voxels));
    });
    const text = make("span", { class: "text" });
    text.append(
      make("span", { class: "id", title: result.id }, result.id),
      make("span", { class: "line" }));
    text.lastChild.append(
      make("span", { class: "category" }, result.category),
      make("span", { class: "distance", title: "Euclidean distance between the embeddings (smaller is nearer)" },
           result.distance.toFixed(4)));
    if (result.confidence != null) {
      text.append(make("span", {
        class: "confidence",
        title: "Share of the export's matched pairs (a test picture and its own shape) at least this far apart",
      }, `confidence ${Math.round(100 * result.confidence)}%`));
    }
    const info = make("div", { class: "info" });
    info.append(chip, text);
    item.append(thumbs, info);
    return item;
  }

  function showResults(results) {
    el.results.replaceChildren(...results.map(card));
    el.empty.hidden = results.length > 0;
  }

  // ---- events ----

  el.file.addEventListener("change", () => {
    useFile(el.file.files[0]);
    el.file.value = "";  // so that choosing the same file again searches again
  });

  for (const name of ["dragenter", "dragover"]) {
    el.drop.addEventListener(name, (event) => {
      event.preventDefault();
      el.drop.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "dragend"]) {
    el.drop.addEventListener(name, (event) => {
      if (!el.drop.contains(event.relatedTarget)) el.drop.classList.remove("dragging");
    });
  }
  // a file dropped on the zone, or anywhere else (where the browser would open it instead of the page), is the query
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    el.drop.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) useFile(event.dataTransfer.files[0]);
  });
  // a pasted picture (Ctrl+V of a screenshot) is a query too
  window.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files || [])][0];
    if (file) useFile(file);
  });

  el.k.addEventListener("input", () => kChanged(false));
  el.k.addEventListener("change", () => kChanged(true));
  el.kRange.addEventListener("input", () => { el.k.value = el.kRange.value; kChanged(false); });
  el.kRange.addEventListener("change", () => { el.k.value = el.kRange.value; kChanged(true); });
  el.category.addEventListener("change", () => search());

  el.k.value = el.kRange.value = String(DEFAULT_K);
  loadMetadata();
})();

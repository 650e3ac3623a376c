"use strict";
// The labeling page. A key press labels the card selected when it was pressed:
// the card shows the label at once, the selection moves at once, and the save
// requests go to the server one after another, in the order they were made,
// retried until the server has them. Same-origin requests carry the session
// cookie the server set from ?token=.
const COLORS = ["#c62828", "#1f5fbf", "#2e7d32", "#b26a00", "#7b3fa0", "#00796b", "#5f6b73",
                "#a32020", "#2c3e50"];
const POLL_MS = 700;
const RECENT = 30;

const state = {
  status: null,        // the server's last /api/status
  round: null,         // the round of the batch on screen
  candidates: [],      // the batch: id, file, score, predicted, patch_proba, label, selection
  selected: 0,
  seenEvents: null,    // status.n_events the page's labels reflect
  seenDropped: null,   // status.n_dropped the batch on screen reflects
  recent: [],          // latest decisions, newest first (earlier rounds included)
  history: [],         // this page's decisions, for undo: {id, file, before, after}
  lastSaved: null,
  online: true,
};

// -- server ---------------------------------------------------------------------------
class RequestError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
    // no answer, or the server (or a proxy) is restarting: worth sending again
    this.retry = status === 0 || status === 502 || status === 503 || status === 504;
  }
}

async function api(method, url, body) {
  const options = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    setOnline(false);
    throw new RequestError("the server does not answer", 0);
  }
  const data = await response.json().catch(() => ({}));
  setOnline(response.status < 502);
  if (!response.ok) throw new RequestError(data.detail || response.statusText, response.status);
  return data;
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function setOnline(online) {
  state.online = online;
  document.getElementById("offline").hidden = online;
  renderSaveState();
}

// -- saving: one queue, in order, retried ---------------------------------------------
const queue = [];
let draining = false;

function pendingFor(id) { return queue.filter(a => a.id === id).length; }

function enqueue(action) {
  queue.push({ ...action, tries: 0 });
  setCardSave(action.id, "saving");
  renderSaveState();
  drain();
}

async function send(action) {
  if (action.label === null) {
    return api("DELETE", `/api/labels/${encodeURIComponent(action.id)}`);
  }
  const body = action.label === "skip" ? { id: action.id, skip: true }
                                       : { id: action.id, label: action.label };
  return api("POST", "/api/labels", body);
}

async function drain() {
  if (draining) return;
  draining = true;
  while (queue.length) {
    const action = queue[0];
    try {
      const status = await send(action);
      queue.shift();
      state.lastSaved = new Date();
      // the server's event count now includes this tab's own decisions
      if (!queue.length) state.seenEvents = status.n_events;
      takeStatus(status);
      if (!pendingFor(action.id)) setCardSave(action.id, "saved");
    } catch (err) {
      if (err.retry) {
        action.tries += 1;
        setCardSave(action.id, "retrying");
        renderSaveState();
        await sleep(Math.min(4000, 250 * 2 ** action.tries));
        continue;
      }
      queue.shift();
      // an undo sent twice (the first answer was lost) finds nothing left to undo
      const done = action.label === null && err.status === 404 && action.tries > 0;
      setCardSave(action.id, done ? "saved" : "error", done ? null : err.message);
      if (!done) showError(`not saved (${fileOf(action.id)}): ${err.message}`);
    }
    renderSaveState();
  }
  draining = false;
  refreshRecent();
}

// -- decisions --------------------------------------------------------------------------
function fileOf(id) {
  const item = state.candidates.find(c => c.id === id) || state.recent.find(r => r.id === id);
  return item ? item.file : id;
}

function currentLabel(id) {
  const c = state.candidates.find(x => x.id === id);
  if (c) return c.label;
  const r = state.recent.find(x => x.id === id);
  return r ? r.label : null;
}

// label: a class name, "skip", or null (withdraw)
function decide(id, label, { record = true } = {}) {
  const before = currentLabel(id);
  if (before === label) return;
  if (record) state.history.push({ id, file: fileOf(id), before, after: label });
  const c = state.candidates.find(x => x.id === id);
  if (c) c.label = label;
  const r = state.recent.find(x => x.id === id);
  if (r && label !== null) r.label = label;
  else if (!r && label !== null) {
    state.recent.unshift({ id, file: fileOf(id), label, round: state.round });
  } else if (r && label === null) {
    state.recent = state.recent.filter(x => x.id !== id);
  }
  enqueue({ id, label });
  renderCard(id);
  renderRecent();
}

function labelSelected(label) {
  const c = state.candidates[state.selected];
  if (!c) return;
  const index = state.selected;
  decide(c.id, label);
  state.selected = nextUnlabeled(index);
  highlight();
}

function undoLast() {
  const last = state.history.pop();
  if (!last) { showError("nothing to undo on this page"); return; }
  decide(last.id, last.before, { record: false });
  const index = state.candidates.findIndex(c => c.id === last.id);
  if (index >= 0) { state.selected = index; highlight(); }
  if (viewer.open && viewer.item.id === last.id) renderViewerInfo();
}

function nextUnlabeled(from) {
  const n = state.candidates.length;
  for (let step = 1; step <= n; step++) {
    const j = (from + step) % n;
    if (state.candidates[j].label === null) return j;
  }
  return from;
}

// -- rendering ---------------------------------------------------------------------------
function esc(text) {  // file and class names come from the folder and the command line
  return String(text).replace(/[&<>"']/g, ch => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
}

function showError(message) {
  document.getElementById("error").textContent = message || "";
}

function drawPatches(canvas, patchProba) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio; canvas.height = canvas.clientHeight * ratio;
  const ctx = canvas.getContext("2d");
  const k = patchProba[0].length;
  // patches sorted by the probability of the last class (Table 1 of the paper)
  const rows = patchProba.slice().sort((a, b) => a[k - 1] - b[k - 1]);
  const w = canvas.width / rows.length;
  rows.forEach((p, i) => {
    let y = canvas.height;
    p.forEach((v, c) => {
      const h = v * canvas.height;
      ctx.fillStyle = COLORS[c % COLORS.length];
      ctx.fillRect(i * w + 0.5, y - h, Math.max(1, w - 1), h);
      y -= h;
    });
  });
}

// "11 of 21 patches say positive": the patches that agree with the model's call
function evidence(c, classes) {
  if (c.selection === "check set") return "not shown for the check set";
  const votes = c.patch_proba.map(p => p.indexOf(Math.max(...p)));
  const predicted = classes.indexOf(c.predicted);
  const agree = votes.filter(v => v === predicted).length;
  return `${agree} of ${votes.length} patches say ${c.predicted}`;
}

function why(c, i) {
  if (c.selection === "check set") {
    return "check set: labeled once, never trained on";
  }
  if (c.selection !== "ranked") {
    const n = state.status ? state.status.cold_start_per_class : 5;
    return `${c.selection}: picked at random until every class has ${n} labels`;
  }
  return `AIFT rank ${i + 1}, score ${c.score.toFixed(3)}: the higher, the more its patches ` +
         `disagree`;
}

const SAVE_TEXT = { saved: "saved", saving: "saving…", retrying: "not saved yet, retrying…",
                    error: "not saved" };

function setCardSave(id, save, message) {
  const c = state.candidates.find(x => x.id === id);
  if (!c) return;
  c.save = save; c.saveError = message || null;
  renderCard(id);
}

function cardHtml(c, i, classes) {
  const label = c.label === null ? "unlabeled" : c.label;
  const save = c.save ? `<span class="save ${c.save}" role="status">` +
    `${esc(SAVE_TEXT[c.save])}${c.saveError ? ": " + esc(c.saveError) : ""}</span>` : "";
  return `<button class="thumb" aria-label="open ${esc(c.file)} large" data-open="1">` +
    `<img alt="${esc(c.file)}" src="${c.image_url}"></button>` +
    `<canvas title="patch predictions, one bar per patch, sorted" aria-hidden="true"></canvas>` +
    `<div class="meta why">${esc(why(c, i))}</div>` +
    `<div class="meta"><span>model: ${esc(evidence(c, classes))}</span>` +
    `<span class="size"></span></div>` +
    `<div class="meta"><span class="label-state">${esc(label)}</span>${save}</div>` +
    `<div class="meta"><span class="file">${esc(c.file)}</span></div>` +
    `<div class="buttons">${classes.map((name, k) =>
      `<button data-label="${esc(name)}" aria-pressed="${c.label === name}" ` +
      `class="${c.label === name ? "chosen" : ""}">${k + 1} ${esc(name)}</button>`).join("")}` +
    `<button data-skip="1" aria-pressed="${c.label === "skip"}" ` +
    `class="${c.label === "skip" ? "chosen" : ""}">s skip</button></div>`;
}

function renderCard(id) {
  const i = state.candidates.findIndex(x => x.id === id);
  const card = document.querySelector(`.card[data-index="${i}"]`);
  if (i < 0 || !card) return;
  const c = state.candidates[i];
  card.className = cardClass(c, i);
  card.innerHTML = cardHtml(c, i, state.status.classes);
  afterCardRender(card, c);
}

function cardClass(c, i) {
  return "card" + (i === state.selected ? " selected" : "") + (c.label ? " labeled" : "") +
    (c.save === "error" ? " unsaved" : "");
}

function afterCardRender(card, c) {
  const strip = card.querySelector("canvas");
  if (c.patch_proba.length) drawPatches(strip, c.patch_proba); else strip.hidden = true;
  const img = card.querySelector("img");
  const sized = () => {
    card.querySelector(".size").textContent = `${img.naturalWidth}×${img.naturalHeight} px`;
    // small images are enlarged with sharp pixels, never smoothed
    img.classList.toggle("pixelated", img.naturalWidth < img.clientWidth);
  };
  if (img.complete && img.naturalWidth) sized(); else img.addEventListener("load", sized);
}

function renderBatch() {
  const main = document.getElementById("batch");
  main.innerHTML = "";
  if (!state.status) return;
  state.candidates.forEach((c, i) => {
    const card = document.createElement("article");
    card.className = cardClass(c, i);
    card.dataset.id = c.id;
    card.dataset.index = i;
    card.innerHTML = cardHtml(c, i, state.status.classes);
    card.addEventListener("click", ev => {
      const index = Number(card.dataset.index);
      state.selected = index;
      const b = ev.target.closest("button");
      if (b && b.dataset.label) labelSelected(b.dataset.label);
      else if (b && b.dataset.skip) labelSelected("skip");
      else if (b && b.dataset.open) { highlight(); openViewer(state.candidates[index]); }
      else highlight();
    });
    main.appendChild(card);
    afterCardRender(card, c);
  });
  const first = state.candidates[0];
  const check = document.getElementById("check-banner");
  check.hidden = !first || first.selection !== "check set";
  if (!check.hidden) {
    check.textContent = `Check set: ${state.candidates.length} images drawn at random, ` +
      `labeled once, never trained on. After every round the model is measured on them ` +
      `(AUC, sensitivity, specificity in the table below); the model's opinion is not ` +
      `shown here so that it does not sway your labels.`;
  }
  document.getElementById("help-order").textContent = !first ? "" :
    first.selection === "check set" ? "" :
    first.selection === "ranked" ? "Images are ranked by AIFT, most worth labeling first."
      : `Random start: images are picked at random until every class has ` +
        `${state.status.cold_start_per_class} labels, then ranked by AIFT.`;
}

function highlight() {
  document.querySelectorAll(".card").forEach((card, i) => {
    card.classList.toggle("selected", i === state.selected);
  });
  const el = document.querySelector(".card.selected");
  if (el && !viewer.open) el.scrollIntoView({ block: "nearest" });
}

function renderSaveState() {
  const el = document.getElementById("saved-at");
  if (!el) return;
  const waiting = queue.length;
  const at = state.lastSaved ? state.lastSaved.toLocaleTimeString() : null;
  el.textContent = waiting ? `${waiting} decision${waiting > 1 ? "s" : ""} waiting to be saved`
    : at ? `all saved, last at ${at}` : "nothing saved yet";
  el.dataset.waiting = waiting;
}

function renderRecent() {
  const list = document.getElementById("recent-list");
  list.innerHTML = state.recent.slice(0, RECENT).map((r, i) =>
    `<li><button data-recent="${i}" title="${esc(r.file)}: open and relabel">` +
    `<img alt="${esc(r.file)}" src="/api/images/${encodeURIComponent(r.id)}">` +
    `<span class="recent-label">${esc(r.label)}</span>` +
    `<span class="recent-round">round ${r.round}</span></button></li>`).join("");
}

const checkAuc = r => (r.check && r.check.auc !== null ? r.check.auc : null);

function renderChart(rounds) {
  const shown = rounds.filter(r => r.round > 0 &&
                              (r.batch_accuracy !== null || checkAuc(r) !== null));
  const svg = document.getElementById("chart");
  if (shown.length === 0) {
    svg.innerHTML = `<text x="8" y="40" class="empty">after the first fine-tuning round</text>`;
    return;
  }
  const w = 300, h = 80, pad = 18;
  const x = j => pad + (shown.length === 1 ? 0 : j * (w - 2 * pad) / (shown.length - 1));
  const y = a => h - pad - a * (h - 2 * pad);
  const series = (value, cls, title) => {
    const pts = shown.map((r, j) => [j, r, value(r)]).filter(p => p[2] !== null);
    if (!pts.length) return "";
    return `<polyline points="${pts.map(([j, , v]) => `${x(j)},${y(v)}`).join(" ")}" ` +
      `class="${cls}"/>` + pts.map(([j, r, v]) =>
        `<circle cx="${x(j)}" cy="${y(v)}" r="3" class="${cls}-point">` +
        `<title>${title(r, v)}</title></circle>`).join("");
  };
  svg.innerHTML =
    `<line x1="${pad}" y1="${y(0)}" x2="${w - pad}" y2="${y(0)}" class="axis"/>` +
    `<line x1="${pad}" y1="${y(1)}" x2="${w - pad}" y2="${y(1)}" class="axis"/>` +
    `<text x="0" y="${y(1) + 4}">1</text><text x="0" y="${y(0) + 4}">0</text>` +
    series(r => r.batch_accuracy, "curve", (r, v) => `round ${r.round}: ` +
      `${(100 * v).toFixed(0)} % of the batch predicted right before training`) +
    series(checkAuc, "curve-check", (r, v) => `round ${r.round}: check set AUC ${v.toFixed(3)}`);
}

function pct(v) { return v === null || v === undefined ? "-" : (100 * v).toFixed(0) + " %"; }

function checkCells(r, classes) {
  const c = r.check;
  if (!c) return "<td>-</td><td>-</td><td>-</td>";
  const auc = c.auc === null ? "-" : c.auc.toFixed(3);
  if (classes.length === 2) return `<td>${auc}</td><td>${pct(c.sensitivity)}</td>` +
    `<td>${pct(c.specificity)}</td>`;
  const recall = classes.map(k => `${esc(k)} ${pct(c.recall[k])}`).join(", ");
  return `<td>${auc}</td><td colspan="2">recall: ${recall}</td>`;
}

function renderSummary() {
  const s = state.status; if (!s) return;
  document.title = `${s.session} · sklearn-aift label`;
  document.getElementById("session-name").textContent = s.session;
  const counts = s.classes.map((c, i) =>
    `<span class="count legend"><span style="background:${COLORS[i % COLORS.length]}"></span>` +
    `${i + 1} ${esc(c)}: <b data-class="${esc(c)}">${s.counts[c]}</b></span>`).join("");
  const labeled = state.candidates.filter(c => c.label !== null).length;
  document.getElementById("summary").innerHTML =
    `${counts}<span class="count">round <b id="round">${s.round}</b></span>` +
    `<span class="count">batch <b id="batch-progress">` +
    `${labeled}/${state.candidates.length}</b></span>` +
    `<span class="count">${s.n_images} images</span>`;
  const phase = document.getElementById("phase");
  const timed = s.phase === "fine-tuning" || s.phase === "ranking";
  phase.textContent = s.message + (timed ? ` (${s.elapsed.toFixed(0)} s)` : "");
  phase.dataset.phase = s.phase;
  const bar = document.getElementById("bar");
  const fill = document.getElementById("bar-fill");
  const busy = ["starting", "loading", "ranking", "fine-tuning"].includes(s.phase);
  fill.classList.toggle("indeterminate", busy && s.progress === null);
  // while labeling the bar shows the batch's progress, while busy the model's
  const share = labeled / Math.max(1, state.candidates.length || s.batch_size);
  const value = busy ? s.progress : (s.phase === "labeling" ? share : 1);
  fill.style.width = value === null ? "" : `${Math.round(100 * value)}%`;
  if (value === null) bar.removeAttribute("aria-valuenow");
  else bar.setAttribute("aria-valuenow", String(Math.round(100 * value)));
  const withCheck = s.check_set !== null;
  document.getElementById("rounds").classList.toggle("with-check", withCheck);
  document.getElementById("rounds-export").hidden = !withCheck && s.rounds.length === 0;
  document.querySelector("#rounds tbody").innerHTML = s.rounds.filter(r => r.round > 0).map(r =>
    `<tr data-kind="${esc(r.kind)}"><td>${r.round}${r.kind === "check set" ? " (check set)" : ""}` +
    `</td><td>${r.n_labels}</td><td>${pct(r.batch_accuracy)}</td>` +
    `<td>${r.training_time.toFixed(1)}</td>` +
    (withCheck ? checkCells(r, s.classes) : "") + `</tr>`).join("");
  renderChart(s.rounds);
  const done = document.getElementById("done");
  done.hidden = s.phase !== "done";
  if (s.phase === "done") {
    document.getElementById("done-summary").textContent =
      `${s.n_labeled} images labeled (` +
      s.classes.map(c => `${s.counts[c]} ${c}`).join(", ") +
      `), ${s.n_skipped} skipped, ` +
      `${s.rounds.filter(r => r.kind === "fine-tuning").length} fine-tuning rounds.`;
  }
}

function takeStatus(status) {
  state.status = status;
  renderSummary();
}

// -- the viewer ---------------------------------------------------------------------------
// The candidate large: wheel zoom around the pointer, drag to pan, right-drag (or
// shift-drag) to set the window (horizontal: width, vertical: level), sharp pixels
// when enlarged. The window applies to the stored values (/api/pixels): a 16-bit or
// DICOM image is windowed at its full depth, starting from the window the network
// uses.
const viewer = {
  open: false, item: null, width: 0, height: 0, channels: 0, values: null,
  low: 0, high: 255, center: 127.5, span: 255, defaultWindow: [127.5, 255], inverted: false,
  zoom: 1, panX: 0, panY: 0, drag: null, windowed: null, loadToken: 0,
};

async function loadPixels(item) {
  const url = `/api/pixels/${encodeURIComponent(item.id)}`;
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.detail || response.statusText);
  }
  const header = name => response.headers.get(name).split(",").map(Number);
  const [height, width, channels] = header("X-Shape");
  const buffer = await response.arrayBuffer();
  const values = response.headers.get("X-Dtype") === "uint8" ? new Uint8Array(buffer)
                                                             : new Float32Array(buffer);
  const [low, high] = header("X-Range");
  return { width, height, channels, values, window: header("X-Window"), low, high,
           inverted: response.headers.get("X-Inverted") === "1" };
}

async function openViewer(item) {
  const token = ++viewer.loadToken;
  viewer.item = item;
  const dialog = document.getElementById("viewer");
  if (!viewer.open) {
    viewer.returnFocus = document.activeElement;
    dialog.hidden = false; viewer.open = true;
  }
  renderViewerInfo();
  let pixels;
  try { pixels = await loadPixels(item); } catch (err) {
    showError(`cannot show ${item.file}: ${err.message}`); return;
  }
  if (token !== viewer.loadToken) return;  // another candidate was opened meanwhile
  Object.assign(viewer, pixels);
  viewer.defaultWindow = pixels.window;
  [viewer.center, viewer.span] = pixels.window;
  windowImage();
  fit();
  document.getElementById("viewer-canvas").focus();
}

function closeViewer() {
  viewer.open = false;
  document.getElementById("viewer").hidden = true;
  if (viewer.returnFocus) viewer.returnFocus.focus();
  highlight();
}

function windowImage() {
  const { width, height, channels, values } = viewer;
  const canvas = viewer.windowed || document.createElement("canvas");
  viewer.windowed = canvas;
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d");
  const out = ctx.createImageData(width, height);
  const low = viewer.center - viewer.span / 2;
  const scale = 255 / Math.max(viewer.span, 1e-6);
  // MONOCHROME1 DICOM: high values are shown dark, as the network sees them
  const sign = viewer.inverted ? -1 : 1, offset = viewer.inverted ? 255 : 0;
  for (let p = 0, q = 0; q < out.data.length; p += channels, q += 4) {
    for (let k = 0; k < 3; k++) {
      out.data[q + k] = offset + sign * (values[p + (channels === 1 ? 0 : k)] - low) * scale;
    }
    out.data[q + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
  draw();
}

function draw() {
  const canvas = document.getElementById("viewer-canvas");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio; canvas.height = canvas.clientHeight * ratio;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!viewer.windowed) return;
  ctx.setTransform(viewer.zoom * ratio, 0, 0, viewer.zoom * ratio,
                   viewer.panX * ratio, viewer.panY * ratio);
  ctx.imageSmoothingEnabled = viewer.zoom < 1;  // enlarged pixels stay sharp
  ctx.drawImage(viewer.windowed, 0, 0);
  renderViewerInfo();
}

function fit() {
  const canvas = document.getElementById("viewer-canvas");
  const zoom = Math.min(canvas.clientWidth / viewer.width, canvas.clientHeight / viewer.height);
  setZoom(zoom, null);
  viewer.panX = (canvas.clientWidth - viewer.width * viewer.zoom) / 2;
  viewer.panY = (canvas.clientHeight - viewer.height * viewer.zoom) / 2;
  draw();
}

function setZoom(zoom, at) {
  const canvas = document.getElementById("viewer-canvas");
  const [ax, ay] = at || [canvas.clientWidth / 2, canvas.clientHeight / 2];
  const next = Math.min(64, Math.max(0.05, zoom));
  // keep the image point under (ax, ay) where it is
  viewer.panX = ax - (ax - viewer.panX) * next / viewer.zoom;
  viewer.panY = ay - (ay - viewer.panY) * next / viewer.zoom;
  viewer.zoom = next;
}

function resetWindow() {
  [viewer.center, viewer.span] = viewer.defaultWindow;
  windowImage();
}

function renderViewerInfo() {
  const item = viewer.item; if (!item) return;
  const label = currentLabel(item.id);
  document.getElementById("viewer-title").textContent = item.file;
  document.getElementById("viewer-label").textContent = label === null ? "unlabeled" : label;
  document.getElementById("viewer-info").textContent = viewer.width ?
    `${viewer.width}×${viewer.height} px · zoom ${Math.round(100 * viewer.zoom)} % · ` +
    `window ${fmt(viewer.center)} / ${fmt(viewer.span)}` +
    (viewer.high > 255 || viewer.low < 0 ? ` · values ${fmt(viewer.low)} to ${fmt(viewer.high)}`
                                          : "") : "loading…";
  const canvas = document.getElementById("viewer-canvas");
  canvas.dataset.zoom = viewer.zoom.toFixed(4);
  canvas.dataset.window = `${viewer.center},${viewer.span}`;
}

function fmt(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1); }

function viewerStep(step) {
  const i = state.candidates.findIndex(c => c.id === viewer.item.id);
  if (i < 0 || !state.candidates.length) return;
  state.selected = (i + step + state.candidates.length) % state.candidates.length;
  highlight();
  openViewer(state.candidates[state.selected]);
}

function viewerDecide(label) {
  const item = viewer.item;
  decide(item.id, label);
  const i = state.candidates.findIndex(c => c.id === item.id);
  if (i >= 0) {  // a batch card: go on with the next one still unlabeled
    const next = nextUnlabeled(i);
    state.selected = next;
    highlight();
    if (next !== i) { openViewer(state.candidates[next]); return; }
  }
  renderViewerInfo();
}

function setUpViewer() {
  const canvas = document.getElementById("viewer-canvas");
  canvas.addEventListener("wheel", ev => {
    ev.preventDefault();
    const box = canvas.getBoundingClientRect();
    setZoom(viewer.zoom * Math.pow(1.0015, -ev.deltaY), [ev.clientX - box.left,
                                                         ev.clientY - box.top]);
    draw();
  }, { passive: false });
  canvas.addEventListener("contextmenu", ev => ev.preventDefault());
  canvas.addEventListener("pointerdown", ev => {
    canvas.setPointerCapture(ev.pointerId);
    viewer.drag = { x: ev.clientX, y: ev.clientY, windowing: ev.button === 2 || ev.shiftKey,
                    panX: viewer.panX, panY: viewer.panY, center: viewer.center,
                    span: viewer.span };
  });
  canvas.addEventListener("pointermove", ev => {
    const d = viewer.drag; if (!d) return;
    const dx = ev.clientX - d.x, dy = ev.clientY - d.y;
    if (d.windowing) {
      const range = Math.max(viewer.high - viewer.low, 1);
      viewer.span = Math.max(range / 1000, d.span * Math.exp(dx / 150));
      viewer.center = d.center - dy * range / 300;
      windowImage();
    } else {
      viewer.panX = d.panX + dx; viewer.panY = d.panY + dy;
      draw();
    }
  });
  const end = () => { viewer.drag = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("dblclick", fit);
  document.getElementById("viewer-fit").addEventListener("click", fit);
  document.getElementById("viewer-1to1").addEventListener("click", () => {
    setZoom(1, null); draw();
  });
  document.getElementById("viewer-reset").addEventListener("click", resetWindow);
  document.getElementById("viewer-close").addEventListener("click", closeViewer);
  window.addEventListener("resize", () => { if (viewer.open) draw(); });
}

// -- keys ---------------------------------------------------------------------------------
function columns() {
  const cards = document.querySelectorAll(".card");
  if (cards.length < 2) return 1;
  const top = cards[0].offsetTop; let n = 0;
  cards.forEach(c => { if (c.offsetTop === top) n++; });
  return Math.max(1, n);
}

function move(step) {
  state.selected = Math.min(state.candidates.length - 1, Math.max(0, state.selected + step));
  highlight();
}

function viewerKey(ev, classes) {
  const digit = parseInt(ev.key, 10);
  if (digit >= 1 && digit <= classes.length) viewerDecide(classes[digit - 1]);
  else if (ev.key === "s") viewerDecide("skip");
  else if (ev.key === "Escape") closeViewer();
  else if (ev.key === "f") fit();
  else if (ev.key === "o") { setZoom(1, null); draw(); }
  else if (ev.key === "r") resetWindow();
  else if (ev.key === "+" || ev.key === "=") { setZoom(viewer.zoom * 1.25, null); draw(); }
  else if (ev.key === "-") { setZoom(viewer.zoom / 1.25, null); draw(); }
  else if (ev.key === "ArrowRight") viewerStep(1);
  else if (ev.key === "ArrowLeft") viewerStep(-1);
  else return false;
  return true;
}

function pageKey(ev, classes) {
  if (!state.candidates.length) return false;
  const digit = parseInt(ev.key, 10);
  if (digit >= 1 && digit <= classes.length) labelSelected(classes[digit - 1]);
  else if (ev.key === "s") labelSelected("skip");
  else if (ev.key === "Enter" || ev.key === " ") openViewer(state.candidates[state.selected]);
  else if (ev.key === "ArrowRight") move(1);
  else if (ev.key === "ArrowLeft") move(-1);
  else if (ev.key === "ArrowDown") move(columns());
  else if (ev.key === "ArrowUp") move(-columns());
  else return false;
  return true;
}

document.addEventListener("keydown", ev => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || !state.status) return;
  if (ev.target.closest && ev.target.closest("input, textarea, select")) return;
  // Enter and Space on a focused button press that button, as everywhere else
  if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest &&
      ev.target.closest("button, a")) return;
  let handled;
  if (ev.key === "u" || ev.key === "Backspace") { undoLast(); handled = true; }
  else handled = viewer.open ? viewerKey(ev, state.status.classes)
                             : pageKey(ev, state.status.classes);
  if (handled) ev.preventDefault();
});

document.getElementById("recent-list").addEventListener("click", ev => {
  const b = ev.target.closest("button[data-recent]");
  if (b) openViewer(state.recent[Number(b.dataset.recent)]);
});

// -- keeping up with the server -----------------------------------------------------------
async function loadBatch() {
  const data = await api("GET", "/api/batch");
  const selectedId = (state.candidates[state.selected] || {}).id;
  const saving = new Map(state.candidates.filter(c => pendingFor(c.id))
    .map(c => [c.id, c]));
  state.round = data.round;
  state.candidates = data.candidates.map(c => {
    const local = saving.get(c.id);
    // a decision still on its way to the server is shown, not the server's older one
    return local ? { ...c, label: local.label, save: local.save }
                 : { ...c, save: c.label === null ? null : "saved" };
  });
  // the same batch again (another tab's labels): the selection stays where it was
  const kept = state.candidates.findIndex(c => c.id === selectedId);
  const first = state.candidates.findIndex(c => c.label === null);
  state.selected = kept >= 0 ? kept : (first < 0 ? 0 : first);
  renderBatch();
}

async function refreshRecent() {
  try {
    const recent = await api("GET", `/api/recent?limit=${RECENT}`);
    if (!queue.length) { state.recent = recent; renderRecent(); }
  } catch (err) { /* the banner says the server is away */ }
}

async function poll() {
  try {
    const status = await api("GET", "/api/status");
    const newRound = status.round !== state.round;
    // another tab (or client) recorded something: take the server's labels
    const changed = (state.seenEvents !== null && status.n_events !== state.seenEvents &&
      !queue.length) ||
      // an image left the batch (its file disappeared) and another one replaced it
      (state.seenDropped !== null && status.n_dropped !== state.seenDropped);
    // the summary (round, phase) is drawn below, once the batch it describes is on screen
    state.status = status;
    if (status.phase === "labeling" && (newRound || changed || !state.candidates.length)) {
      await loadBatch();
      state.seenEvents = status.n_events;
      state.seenDropped = status.n_dropped;
      refreshRecent();
    } else if (status.phase !== "labeling" && newRound) {
      state.candidates = []; state.round = status.round; renderBatch();
      refreshRecent();
    }
    if (state.seenEvents === null) state.seenEvents = status.n_events;
    if (state.seenDropped === null) state.seenDropped = status.n_dropped;
    renderSummary();
    document.getElementById("phase").classList.toggle("failed", status.phase === "error");
  } catch (err) { /* setOnline showed the banner */ }
  setTimeout(poll, POLL_MS);
}

setUpViewer();
renderSaveState();
refreshRecent();
poll();

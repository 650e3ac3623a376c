"use strict";
// The labeling page: shows the AIFT-ranked batch, labels by click or keyboard,
// polls the status while the model fine-tunes. Same-origin requests carry the
// session cookie the server set from ?token=.
const COLORS = ["#d9534f", "#3d7be0", "#5cb85c", "#f0ad4e", "#8e44ad", "#16a085", "#7f8c8d",
                "#c0392b", "#2c3e50"];
let state = { status: null, round: null, candidates: [], selected: 0 };

async function api(method, url, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}

function showError(err) {
  document.getElementById("error").textContent = err ? String(err.message || err) : "";
}

// file and class names come from the folder and the command line: never markup
function esc(text) {
  return String(text).replace(/[&<>"']/g, ch => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
}

function drawPatches(canvas, patchProba) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio; canvas.height = canvas.clientHeight * ratio;
  const ctx = canvas.getContext("2d");
  const k = patchProba[0].length;
  // sort patches by the probability of the last class (Table 1 of the paper)
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

function renderSummary() {
  const s = state.status; if (!s) return;
  const counts = s.classes.map((c, i) =>
    `<span class="count legend"><span style="background:${COLORS[i % COLORS.length]}"></span>` +
    `${i + 1} ${esc(c)}: <b data-class="${esc(c)}">${s.counts[c]}</b></span>`).join("");
  document.getElementById("summary").innerHTML =
    `${counts}<span class="count">round <b id="round">${s.round}</b></span>` +
    `<span class="count">batch <b id="batch-progress">` +
    `${s.batch_labeled}/${state.candidates.length}</b></span>` +
    `<span class="count">${s.n_images} images</span>`;
  const phase = document.getElementById("phase");
  const timed = s.phase === "fine-tuning" || s.phase === "ranking";
  phase.textContent = s.message + (timed ? ` (${s.elapsed.toFixed(0)} s)` : "");
  phase.dataset.phase = s.phase;
  const fill = document.getElementById("bar-fill");
  const busy = ["starting", "loading", "ranking", "fine-tuning"].includes(s.phase);
  fill.classList.toggle("indeterminate", busy && s.progress === null);
  // while labeling the bar shows the batch's progress, while busy the model's
  const share = s.batch_labeled / Math.max(1, state.candidates.length || s.batch_size);
  fill.style.width = busy ? (s.progress === null ? "" : `${Math.round(100 * s.progress)}%`)
                          : `${Math.round(100 * (s.phase === "labeling" ? share : 1))}%`;
  document.querySelector("#rounds tbody").innerHTML = s.rounds.filter(r => r.round > 0).map(r =>
    `<tr><td>${r.round}</td><td>${r.n_labels}</td>` +
    `<td>${r.batch_accuracy === null ? "-" : (100 * r.batch_accuracy).toFixed(0) + " %"}</td>` +
    `<td>${r.training_time.toFixed(1)}</td></tr>`).join("");
}

function renderBatch() {
  const main = document.getElementById("batch");
  main.innerHTML = "";
  const classes = state.status ? state.status.classes : [];
  state.candidates.forEach((c, i) => {
    const card = document.createElement("div");
    card.className = "card" + (i === state.selected ? " selected" : "") +
      (c.label ? " labeled" : "");
    card.dataset.id = c.id;
    card.dataset.index = i;
    card.innerHTML =
      `<img alt="candidate ${i + 1}" src="${c.image_url}">` +
      `<canvas title="patch predictions, sorted"></canvas>` +
      `<div class="meta"><span>#${i + 1} score ${c.score.toFixed(3)}</span>` +
      `<span>model: ${esc(c.predicted)}</span></div>` +
      `<div class="meta"><span class="label-state">` +
      `${esc(c.label === null ? "unlabeled" : c.label)}</span>` +
      `<span class="file">${esc(c.file)}</span></div>` +
      `<div class="buttons">${classes.map((name, k) =>
        `<button data-label="${esc(name)}" class="${c.label === name ? "chosen" : ""}">` +
        `${k + 1} ${esc(name)}</button>`).join("")}` +
      `<button data-skip="1" class="${c.label === "skip" ? "chosen" : ""}">s skip</button></div>`;
    card.addEventListener("click", ev => {
      state.selected = i;
      const b = ev.target.closest("button");
      if (b && b.dataset.label) give(i, b.dataset.label);
      else if (b && b.dataset.skip) skip(i);
      else highlight();
    });
    main.appendChild(card);
    drawPatches(card.querySelector("canvas"), c.patch_proba);
  });
}

function highlight() {
  document.querySelectorAll(".card").forEach(
    (card, i) => card.classList.toggle("selected", i === state.selected));
  const el = document.querySelector(".card.selected");
  if (el) el.scrollIntoView({ block: "nearest" });
}

function nextUnlabeled(from) {
  const n = state.candidates.length;
  for (let step = 1; step <= n; step++) {
    const j = (from + step) % n;
    if (state.candidates[j].label === null) return j;
  }
  return from;
}

async function afterChange(status) {
  state.status = status;
  renderBatch(); renderSummary();
}

async function give(i, label) {
  const c = state.candidates[i]; if (!c) return;
  try {
    const status = await api("POST", "/api/labels", { id: c.id, label });
    c.label = label; state.selected = nextUnlabeled(i);
    await afterChange(status); showError(null);
  } catch (err) { showError(err); }
}

async function skip(i) {
  const c = state.candidates[i]; if (!c) return;
  try {
    const status = await api("POST", "/api/labels", { id: c.id, skip: true });
    c.label = "skip"; state.selected = nextUnlabeled(i);
    await afterChange(status); showError(null);
  } catch (err) { showError(err); }
}

async function undo(i) {
  const c = state.candidates[i]; if (!c || c.label === null) return;
  try {
    const status = await api("DELETE", `/api/labels/${encodeURIComponent(c.id)}`);
    c.label = null;
    await afterChange(status); showError(null);
  } catch (err) { showError(err); }
}

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

document.addEventListener("keydown", ev => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const n = state.candidates.length; if (!n || !state.status) return;
  const classes = state.status.classes;
  const digit = parseInt(ev.key, 10);
  if (digit >= 1 && digit <= classes.length) { give(state.selected, classes[digit - 1]); }
  else if (ev.key === "ArrowRight") { move(1); }
  else if (ev.key === "ArrowLeft") { move(-1); }
  else if (ev.key === "ArrowDown") { move(columns()); }
  else if (ev.key === "ArrowUp") { move(-columns()); }
  else if (ev.key === "u") { undo(state.selected); }
  else if (ev.key === "s") { skip(state.selected); }
  else return;
  ev.preventDefault();
});

async function loadBatch() {
  const data = await api("GET", "/api/batch");
  state.round = data.round; state.candidates = data.candidates;
  const first = state.candidates.findIndex(c => c.label === null);
  state.selected = first < 0 ? 0 : first;
  renderBatch();
}

async function poll() {
  try {
    const status = await api("GET", "/api/status");
    state.status = status;
    const stale = status.round !== state.round || state.candidates.length === 0;
    if (status.phase === "labeling" && stale) {
      await loadBatch();
    } else if (status.phase !== "labeling" && status.round !== state.round) {
      state.candidates = []; renderBatch();
    }
    renderSummary(); showError(status.phase === "error" ? status.message : null);
  } catch (err) { showError(err); }
  setTimeout(poll, 700);
}

poll();

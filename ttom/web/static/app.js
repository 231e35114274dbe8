// The chat page: conversations of video requests on ttom's HTTP job API (/v1/videos, ttom.serve), plain JS.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const FINAL = new Set(["completed", "failed", "cancelled"]);
const STAGES = [["plan", "plan"], ["memory", "memory recall"], ["tto", "TTO"], ["step", "denoising"], ["critic", "critic"]];

// ---------- the API ------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(message, status, kind) { super(message); this.status = status; this.kind = kind; }
}

function detailText(body, status) {
  const d = body && (body.detail !== undefined ? body.detail : body.error);
  if (typeof d === "string") return d;
  if (d && typeof d.message === "string") return d.message;
  if (Array.isArray(d)) {  // FastAPI's validation errors: name the field
    return d.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".") || "request"}: ${e.msg}`).join("; ");
  }
  return `the server answered ${status}`;
}

// the service's API key, when it has one (asked for on the first 401, kept for this tab)
function authHeaders() {
  const key = sessionStorage.getItem("ttom-api-key");
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function askKey(message) {
  const b = $("#banner");
  b.hidden = false;
  b.className = "banner";
  b.dataset.kind = "key";
  const input = el("input", { type: "password", id: "api-key", placeholder: "API key", size: 24 });
  const form = el("form", { class: "key-form", onsubmit: (e) => {
    e.preventDefault();
    sessionStorage.setItem("ttom-api-key", input.value.trim());
    showBanner(null);
    loadThreads();
  } }, `${message} `, input, " ", el("button", { type: "submit" }, "use key"));
  b.replaceChildren(form);
  input.focus();
}

// a URL a <video> or a link can open: with an API key, the file is fetched with it (a blob URL)
async function mediaUrl(url) {
  if (!sessionStorage.getItem("ttom-api-key")) return url;
  const res = await fetch(url, { headers: authHeaders() });
  if (!res.ok) throw new ApiError(`the server answered ${res.status} for ${url}`, res.status, "server");
  return URL.createObjectURL(await res.blob());
}

function fileLink(url, text, download) {
  return el("a", { href: url, target: "_blank", download: download || "", onclick: (e) => {
    if (!sessionStorage.getItem("ttom-api-key")) return;
    e.preventDefault();
    mediaUrl(url).then((u) => { const a = el("a", { href: u, download: download || "", target: "_blank" }); a.click(); })
      .catch((err) => showBanner(err.message, err.kind));
  } }, text);
}

async function api(path, init = {}) {
  let res;
  try {
    res = await fetch(path, { ...init, headers: { "Content-Type": "application/json", ...authHeaders() } });
  } catch (e) {
    setServer(false);
    throw new ApiError("The ttom server cannot be reached: is it running? (start it with `ttom serve api`)", 0, "down");
  }
  setServer(true);
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json().catch(() => null) : null;
  if (res.ok) return body;
  if (res.status === 401) {
    askKey(sessionStorage.getItem("ttom-api-key") ? "That API key was refused; enter the right one:" : "This server needs an API key:");
    throw new ApiError("the server needs an API key", 401, "key");
  }
  if (res.status === 429 || res.status === 503) {
    const wait = res.headers.get("retry-after");
    throw new ApiError(`The server is busy: ${detailText(body, res.status)}${wait ? ` (try again in ${wait} s)` : ""}`,
                       res.status, "busy");
  }
  throw new ApiError(detailText(body, res.status), res.status, res.status >= 500 ? "server" : "input");
}

const urls = {
  jobs: (q = "") => `/v1/videos${q}`,
  job: (id) => `/v1/videos/${encodeURIComponent(id)}`,
  events: (id, after) => `/v1/videos/${encodeURIComponent(id)}/events${after ? `?after=${after}` : ""}`,
  content: (id, variant) => `/v1/videos/${encodeURIComponent(id)}/content${variant ? `?variant=${variant}` : ""}`,
  resume: (id) => `/v1/videos/${encodeURIComponent(id)}/resume`,
  round: (id, k) => `/web/v1/videos/${encodeURIComponent(id)}/rounds/${k}/video`,
  memory: (entry) => `/web/v1/memory/${encodeURIComponent(entry)}`,
  threads: () => "/web/v1/threads",
  health: () => "/health",
};

// ---------- page state ---------------------------------------------------------------------------
const page = { thread: null, cards: new Map(), busy: false };

function setServer(up) {
  const s = $("#server");
  s.className = `server ${up ? "up" : "down"}`;
  s.textContent = up ? "server up" : "server down";
  if (up && $("#banner").dataset.kind === "down") showBanner(null);
  if (!up) showBanner("The ttom server cannot be reached: is it running? (start it with `ttom serve api`)", "down");
}

function showBanner(text, kind = "error") {
  const b = $("#banner");
  if (kind === "key" && text) return;  // the key form stays
  b.hidden = !text;
  b.textContent = text || "";
  b.dataset.kind = text ? kind : "";
  b.className = `banner${kind === "info" ? " info" : ""}`;
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v; else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function scrollDown() { const c = $("#chat"); c.scrollTop = c.scrollHeight; }

// ---------- conversations ------------------------------------------------------------------------
async function loadThreads() {
  let threads;
  try { threads = (await api(urls.threads())).data; } catch (e) { return; }
  const ul = $("#threads");
  ul.replaceChildren();
  for (const t of threads) {
    const li = el("li", { dataset: { thread: t.thread_id }, title: t.thread_id, onclick: () => openThread(t.thread_id) },
                  t.first_prompt || "(no request)",
                  el("small", {}, `${t.plain ? "plain model · " : ""}${t.jobs} request${t.jobs === 1 ? "" : "s"} · ${t.last_status}`));
    if (t.thread_id === page.thread) li.classList.add("active");
    ul.append(li);
  }
}

async function openThread(threadId) {
  page.thread = threadId;
  $("#chat").replaceChildren();
  page.cards.clear();
  const jobs = (await api(urls.jobs(`?thread_id=${encodeURIComponent(threadId)}&order=asc&limit=100`))).data;
  for (const job of jobs) {
    addUserMessage(job.prompt, job.layout ? "with a layout" : null);
    const card = addJobCard(job.id);
    renderJob(card, job);
    if (!FINAL.has(job.status)) follow(card, job.id);
  }
  loadThreads();
  scrollDown();
}

function newThread() {
  page.thread = null;
  $("#chat").replaceChildren();
  page.cards.clear();
  loadThreads();
  $("#prompt").focus();
}

// ---------- sending ------------------------------------------------------------------------------
function readOptions() {
  const num = (id) => { const v = $(id).value.trim(); return v === "" ? undefined : Number(v); };
  const o = { approve: $("#opt-approve").checked, seed: num("#opt-seed") ?? 0, max_rounds: num("#opt-rounds") ?? 3 };
  const model = $("#opt-model").value.trim();
  if (model) o.model = model;
  if (num("#opt-steps") !== undefined) o.steps = num("#opt-steps");
  const tto = {};
  if (num("#opt-tto-steps") !== undefined) tto.steps = num("#opt-tto-steps");
  if (num("#opt-tto-iters") !== undefined) tto.iterations = num("#opt-tto-iters");
  if (Object.keys(tto).length) o.tto = tto;
  return o;
}

async function send(e) {
  e && e.preventDefault();
  const text = $("#prompt").value.trim();
  if (!text) { showBanner("Write what the video should show first (the request is empty)."); $("#prompt").focus(); return; }
  const body = { prompt: text, options: readOptions() };
  if (page.thread) body.thread_id = page.thread;
  $("#send").disabled = true;
  try {
    const job = await api(urls.jobs(), { method: "POST", body: JSON.stringify(body) });
    showBanner(null);
    $("#prompt").value = "";
    page.thread = job.thread_id || page.thread;
    addUserMessage(text, page.cards.size ? "follow-up on this conversation" : null);
    const card = addJobCard(job.id);
    renderJob(card, job);
    follow(card, job.id);
    loadThreads();
  } catch (err) {
    showBanner(err.message, err.kind);
  } finally {
    $("#send").disabled = false;
  }
}

function addUserMessage(text, note) {
  const hint = $("#empty-hint");
  if (hint) hint.remove();
  $("#chat").append(el("div", { class: "msg user" }, el("div", {}, text), note ? el("div", { class: "edit-note" }, note) : null));
  scrollDown();
}

// ---------- one job: progress ----------------------------------------------------------------------
function addJobCard(id) {
  const node = $("#tpl-job").content.firstElementChild.cloneNode(true);
  node.dataset.job = id;
  $(".job-id", node).textContent = id;
  $(".stages", node).append(...STAGES.map(([k, label]) => el("li", { dataset: { stage: k } }, label)));
  $(".live", node).hidden = true;  // shown from the first round on
  $("#chat").append(node);
  const card = { id, node, losses: [], round: 0, source: null, job: null, lastEvent: 0 };
  page.cards.set(id, card);
  scrollDown();
  return card;
}

function setStage(card, kind) {
  const order = STAGES.map(([k]) => k);
  const i = order.indexOf(kind);
  if (i < 0) return;
  for (const li of card.node.querySelectorAll(".stages li")) {
    const j = order.indexOf(li.dataset.stage);
    li.classList.toggle("done", j < i);
    li.classList.toggle("active", j === i);
  }
}

function log(card, text) {
  const ul = $(".log", card.node);
  ul.append(el("li", {}, text));
  ul.scrollTop = ul.scrollHeight;
}

function drawLoss(card) {
  const c = $("canvas.loss", card.node), ctx = c.getContext("2d"), v = card.losses;
  ctx.clearRect(0, 0, c.width, c.height);
  if (v.length < 1) return;
  const max = Math.max(...v), min = Math.min(...v), span = max - min || 1;
  ctx.strokeStyle = "#2f6fed";
  ctx.lineWidth = 2;
  ctx.beginPath();
  v.forEach((y, i) => {
    const px = v.length === 1 ? c.width / 2 : (i / (v.length - 1)) * (c.width - 6) + 3;
    const py = c.height - 4 - ((y - min) / span) * (c.height - 8);
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  });
  ctx.stroke();
}

function onEvent(card, e) {
  const k = e.event;
  if (k === "plan") { setStage(card, "plan"); log(card, `planned (${e.planner}${e.edit ? `, edit: ${e.edit}` : ""}): ${(e.objects || []).join(", ")}`); }
  else if (k === "validate") log(card, e.ok ? "layout valid" : `layout invalid: ${(e.errors || []).join("; ")}`);
  else if (k === "repair") log(card, `layout repaired (${e.how})`);
  else if (k === "approve") log(card, `layout ${e.answer}`);
  else if (k === "memory") {
    setStage(card, "memory");
    log(card, e.hit ? `memory hit: entry ${String(e.entry_id).slice(0, 8)} (similarity ${Number(e.similarity).toFixed(2)}) → ${e.mode}`
                    : `memory: nothing similar${e.skipped ? ` (${e.skipped})` : ""}`);
  } else if (k === "generate") {
    $(".live", card.node).hidden = false;
    card.round = e.round;
    card.losses = [];
    drawLoss(card);
    const p = $("progress.denoise", card.node);
    p.max = e.steps; p.value = 0;
    $(".denoise-text", card.node).textContent = `0/${e.steps}`;
    setStage(card, e.tto_total > 0 ? "tto" : "step");
    log(card, `round ${e.round}: ${e.mode === "off" ? "plain model" : `TTO ${e.mode}`}, seed ${e.seed}, ${e.steps} denoising steps`);
  } else if (k === "tto") {
    setStage(card, "tto");
    card.losses.push(Number(e.loss));
    drawLoss(card);
    $(".loss-text", card.node).textContent = `round ${card.round}, step ${e.step}: ${Number(e.loss).toFixed(4)}`;
  } else if (k === "step") {
    setStage(card, "step");
    const p = $("progress.denoise", card.node);
    p.max = e.steps || p.max; p.value = e.step + 1;
    $(".denoise-text", card.node).textContent = `${e.step + 1}/${p.max}`;
  } else if (k === "critic") {
    setStage(card, "critic");
    log(card, `critic, round ${e.round}: ${e.decision}${e.miou != null ? ` (mIoU ${Number(e.miou).toFixed(2)})` : ""}${e.reasons && e.reasons.length ? ` — ${e.reasons[0]}` : ""}`);
  } else if (k === "reoptimize") log(card, `re-optimise → round ${e.round} (${e.mode})`);
  else if (k === "memorize") log(card, `memory: ${e.action}${e.reason ? ` (${e.reason})` : ""}`);
  else if (k === "status") { setStatus(card, e.status); if (e.status === "waiting" || FINAL.has(e.status)) refresh(card); }
}

function setStatus(card, status, extra) {
  const words = { queued: "queued", in_progress: "working", waiting: "waiting for your approval of the layout",
                  completed: "done", failed: "failed", cancelled: "cancelled" };
  $(".status", card.node).textContent = (words[status] || status) + (extra ? ` — ${extra}` : "");
  card.node.dataset.status = status;
}

// the job's Server-Sent Events, read with fetch (an EventSource cannot send the API key)
function follow(card, id) {
  if (card.source) card.source.abort();
  const ctl = new AbortController();
  card.source = ctl;
  const again = () => {
    if (card.source !== ctl) return;
    card.source = null;
    refresh(card).then((job) => { if (job && !FINAL.has(job.status) && job.status !== "waiting") setTimeout(() => follow(card, id), 1500); });
  };
  readEvents(urls.events(id, card.lastEvent), ctl.signal, (m) => {  // after the events already shown
    let e; try { e = JSON.parse(m.data); } catch { return; }
    if (m.id) card.lastEvent = Math.max(card.lastEvent, Number(m.id) || 0);
    onEvent(card, e);
  }).then(again, (err) => { if (err.name !== "AbortError") again(); });
}

async function readEvents(url, signal, onMessage) {
  const res = await fetch(url, { headers: authHeaders(), signal });
  if (!res.ok) throw new ApiError(`events: the server answered ${res.status}`, res.status, "server");
  const reader = res.body.getReader(), dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const m = { id: null, data: [] };
      for (const line of block.split("\n")) {
        const j = line.indexOf(":");
        if (j <= 0) continue;  // a comment (keep-alive) or a malformed line
        const field = line.slice(0, j), val = line.slice(j + 1).replace(/^ /, "");
        if (field === "data") m.data.push(val); else if (field === "id") m.id = val;
      }
      if (m.data.length) onMessage({ id: m.id, data: m.data.join("\n") });
    }
  }
}

async function refresh(card) {
  try {
    const job = await api(urls.job(card.id));
    renderJob(card, job);
    if (FINAL.has(job.status)) loadThreads();
    return job;
  } catch (err) {
    showBanner(err.message, err.kind);
    return null;
  }
}

// ---------- one job: what it shows ---------------------------------------------------------------
function reportOf(job) { return (job.result && (job.result.report || job.result)) || null; }

function renderJob(card, job) {
  card.job = job;
  const extra = job.status === "in_progress" && job.progress != null ? `${job.progress}%` : null;
  setStatus(card, job.status, extra);
  const approval = $(".approval", card.node), result = $(".result", card.node), error = $(".error", card.node);
  if (job.status === "waiting" && job.approval && !card.editor) renderApproval(card, job);
  approval.hidden = job.status !== "waiting";
  if (job.status === "failed" || job.status === "cancelled") {
    const err = job.error || {};
    error.hidden = false;
    error.textContent = job.status === "cancelled" ? "Cancelled." : (err.message || "the job failed");
    $(".live", card.node).hidden = true;
  }
  if (job.status === "completed" && !card.rendered) {
    card.rendered = true;
    $(".live", card.node).hidden = true;
    for (const li of card.node.querySelectorAll(".stages li")) { li.classList.remove("active"); li.classList.add("done"); }
    const report = reportOf(job);
    if (report && report.video_spec) renderResult(card, job, report, result);
    else if (job.result && job.result.decision === "rejected" || (report && report.decision === "rejected")) {
      result.hidden = false; result.textContent = "You rejected the layout: no video was made.";
    }
  }
}

function renderApproval(card, job) {
  const box = $(".approval", card.node);
  const layout = job.approval.layout;
  card.editor = new LayoutEditor(layout);
  card.planned = JSON.stringify(layout);
  const approve = el("button", { type: "button", class: "primary approve", onclick: () => answer(card, { layout: card.editor.getLayout() }) },
                     "Generate with this layout");
  const reject = el("button", { type: "button", class: "reject", onclick: () => answer(card, "reject") }, "Reject");
  const v = job.approval.validation;
  const notes = v && (v.warnings || []).length ? el("div", { class: "prompt-text" }, `validator notes: ${v.warnings.join("; ")}`) : null;
  box.replaceChildren(...[el("p", {}, "Check the planned layout. Drag a box to move it, drag a corner to resize it (per keyframe); add or remove objects. What you see is what gets generated."),
                      card.editor.el, notes, el("div", { class: "actions" }, approve, reject)].filter(Boolean));
  box.hidden = false;
  scrollDown();
}

async function answer(card, ans) {
  for (const b of card.node.querySelectorAll(".approval button")) b.disabled = true;
  try {
    const body = typeof ans === "string" ? { answer: ans } : { layout: ans.layout };
    const job = await api(urls.resume(card.id), { method: "POST", body: JSON.stringify(body) });
    $(".approval", card.node).hidden = true;
    card.editor = null;
    log(card, typeof ans === "string" ? `you answered: ${ans}`
      : JSON.stringify(ans.layout) === card.planned ? "you approved the layout" : "you approved your edited layout");
    renderJob(card, job);
    follow(card, card.id);
  } catch (err) {
    showBanner(err.message, err.kind);
    for (const b of card.node.querySelectorAll(".approval button")) b.disabled = false;
  }
}

function verdictOf(report) {
  if (report.accepted === true) return el("span", { class: "verdict accepted" }, "accepted by the critic");
  if (report.accepted === false) return el("span", { class: "verdict rejected" }, "not accepted (best round shown)");
  return el("span", { class: "verdict unjudged" }, "not judged (no critic)");
}

function renderResult(card, job, report, box) {
  const spec = report.video_spec;
  const player = videoWithBoxes(urls.content(job.id), report.layout, spec, 288);
  const toggle = el("label", {}, el("input", { type: "checkbox", checked: true, class: "toggle-boxes",
                                               onchange: (e) => player.setShown(e.target.checked) }), " planned boxes");
  const critic = report.critic || {};
  const reasons = el("ul", { class: "reasons" }, ...(critic.reasons || []).map((r) => el("li", {}, r)));
  const score = critic.miou != null ? ` · layout mIoU ${Number(critic.miou).toFixed(2)}` : "";
  const facts = el("div", { class: "facts" },
    el("div", {}, verdictOf(report), ` round ${report.delivered_round ?? report.rounds} of ${report.rounds}${score}`),
    el("div", { class: "prompt-text" }, `“${report.prompt}” · ${report.model} · seed ${report.seed} · TTO ${report.tto ? report.tto.mode : "?"}`),
    reasons, memoryBlock(report));
  const actions = el("div", { class: "actions" }, toggle,
    el("button", { type: "button", class: "compare-btn", onclick: () => compare(card, job, report, player) }, "Compare with the plain model"),
    fileLink(urls.content(job.id, "report"), "report.json"),
    fileLink(urls.content(job.id, "overlay"), "overlay"),
    fileLink(urls.content(job.id), "download mp4", `ttom-${job.id}.mp4`));
  box.replaceChildren(el("div", { class: "result-grid" }, player.el, facts), actions, roundsStrip(job, report), el("div", { class: "compare" }));
  box.hidden = false;
  scrollDown();
}

function roundsStrip(job, report) {
  const hist = report.history || [];
  if (hist.length < 2) return el("div", { class: "rounds" });
  const best = report.delivered_round;
  return el("div", {},
    el("div", { class: "prompt-text" }, "every round, side by side:"),
    el("div", { class: "rounds" }, ...hist.map((h) => {
      const p = videoWithBoxes(h.video_url || urls.round(job.id, h.round), report.layout, report.video_spec, 144);
      return el("div", { class: `round${h.round === best ? " best" : ""}`, dataset: { round: h.round } }, p.el,
        el("div", {}, `round ${h.round}: ${h.decision}${h.score != null ? ` ${Number(h.score).toFixed(2)}` : ""}`),
        el("div", {}, `seed ${h.seed} · ${h.mode}${h.layout_repairs ? ` · repair ${h.layout_repairs}` : ""}`));
    })));
}

function memoryBlock(report) {
  const m = report.memory || {};
  const div = el("div", { class: "memory" });
  const add = (label, id, extra) => {
    const line = el("div", { class: "memory-entry", dataset: { entry: id } }, `${label} ${String(id).slice(0, 8)}${extra || ""}`);
    div.append(line);
    api(urls.memory(id)).then((e) => {
      line.textContent = `${label} ${e.id.slice(0, 8)}: “${e.key_text}” · quality ${e.quality == null ? "?" : Number(e.quality).toFixed(2)} · used ${e.use_count}×${e.best_effort ? " · best effort" : ""}`;
    }).catch((err) => { line.textContent += ` (${err.status === 404 ? "no longer in memory" : err.message})`; });
  };
  const from = m.recalled_entry_id || (m.hit && m.action !== "insert" ? m.entry_id : null);
  if (m.hit && from) add("came from memory entry", from, m.similarity != null ? ` (similarity ${Number(m.similarity).toFixed(2)})` : "");
  if ((m.action === "insert" || m.action === "update") && m.entry_id) add(`went to memory entry (${m.action})`, m.entry_id);
  if (!div.childElementCount) div.append(el("div", { class: "prompt-text" }, `memory: ${m.reason || (m.hit ? "hit" : "nothing similar, nothing stored")}`));
  return div;
}

// the plain model on the same layout and seed (the delivered round's), one round, memory untouched
async function compare(card, job, report, player) {
  const area = $(".compare", card.node);
  const btn = $(".compare-btn", card.node);
  btn.disabled = true;
  const options = { ...(job.options || {}), seed: report.seed, tto: { mode: "off" }, max_rounds: 1, memory: false, approve: false };
  delete options.out_dir;
  try {
    const plain = await api(urls.jobs(), { method: "POST", body: JSON.stringify({ prompt: report.prompt, layout: report.layout, options }) });
    const status = el("div", { class: "prompt-text" }, "plain model: queued");
    const right = el("figure", { class: "plain" }, status);
    area.replaceChildren(el("figure", { class: "ttom" }, el("figcaption", {}, "TTOM"), videoWithBoxes(urls.content(job.id), report.layout, report.video_spec, 216).el), right);
    const poll = async () => {
      const j = await api(urls.job(plain.id)).catch(() => null);
      if (!j || !FINAL.has(j.status)) { status.textContent = `plain model: ${j ? j.status : "…"}${j && j.progress != null ? ` ${j.progress}%` : ""}`; setTimeout(poll, 1000); return; }
      if (j.status !== "completed") { status.textContent = `plain model: ${j.status} ${(j.error && j.error.message) || ""}`; return; }
      const r = reportOf(j);
      right.replaceChildren(el("figcaption", {}, "plain model (no TTO)"), videoWithBoxes(urls.content(plain.id), r.layout, r.video_spec, 216).el,
        el("div", {}, r.critic && r.critic.miou != null ? `mIoU ${Number(r.critic.miou).toFixed(2)} · ${r.critic.decision}` : ""));
      btn.disabled = false;
      loadThreads();
    };
    poll();
  } catch (err) {
    showBanner(err.message, err.kind);
    btn.disabled = false;
  }
}

// ---------- start --------------------------------------------------------------------------------
$("#composer").addEventListener("submit", send);
$("#prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) send(e); });
$("#new-thread").addEventListener("click", newThread);
loadThreads();
const light = () => api(urls.health()).then((h) => {
  const s = $("#server");
  s.title = `ttom ${h.version}: ${h.workers} worker(s), ${h.busy} busy; jobs ${JSON.stringify(h.jobs)}`;
  if (h.busy >= h.workers && (h.jobs.queued || 0) > 0) s.textContent = `server busy (${h.jobs.queued} queued)`;
}).catch(() => {});
light();
setInterval(light, 5000);  // the server light

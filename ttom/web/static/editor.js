// The layout editor: drag and resize each object's box at a keyframe, add or remove keyframes and objects.
// It edits a copy of the layout (the Layout contract); getLayout() returns what gets generated.
"use strict";

const EDIT_SIZE = 320; // canvas pixels
const HANDLE = 8;
const MIN_SIDE = 0.04; // the smallest box side the editor lets a drag make (normalised)

function clamp01(v) { return Math.min(1, Math.max(0, v)); }
function round4(v) { return Math.round(v * 10000) / 10000; }

class LayoutEditor {
  constructor(layout, onChange) {
    this.layout = JSON.parse(JSON.stringify(layout));
    this.onChange = onChange || (() => {});
    this.selected = this.layout.objects.length ? this.layout.objects[0].id : null;
    this.t = 0;
    this.el = document.createElement("div");
    this.el.className = "editor";
    this.canvas = document.createElement("canvas");
    this.canvas.width = this.canvas.height = EDIT_SIZE;
    this.canvas.setAttribute("aria-label", "layout editor: drag a box to move it, drag a corner to resize it");
    this.side = document.createElement("div");
    this.side.className = "side";
    this.el.append(this.canvas, this.side);
    this.drag = null;
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    window.addEventListener("pointerup", () => { this.drag = null; });
    this.render();
  }

  getLayout() { return JSON.parse(JSON.stringify(this.layout)); }

  times() {
    const ts = new Set();
    for (const o of this.layout.objects) for (const k of o.keyframes) ts.add(round4(k.t));
    return [...ts].sort((a, b) => a - b);
  }

  object(id) { return this.layout.objects.find((o) => o.id === id); }

  // the keyframe of ``obj`` at the current time, made (from the interpolated box) when it has none there
  keyframeAt(obj, create) {
    let k = obj.keyframes.find((k) => Math.abs(k.t - this.t) < 1e-4);
    if (!k && create) {
      const box = boxAt(obj, this.t) || [0.35, 0.35, 0.65, 0.65];
      k = { t: this.t, box: box.map(round4) };
      obj.keyframes.push(k);
      obj.keyframes.sort((a, b) => a.t - b.t);
    }
    return k;
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
  }

  hit(x, y) {
    const tol = HANDLE / EDIT_SIZE;
    const order = [...this.layout.objects].sort((a, b) => (a.id === this.selected ? -1 : b.id === this.selected ? 1 : 0));
    for (const o of order) {
      const b = boxAt(o, this.t);
      if (!b) continue;
      const corners = [[0, 1], [2, 1], [0, 3], [2, 3]];
      for (const [ix, iy] of corners) {
        if (Math.abs(x - b[ix]) <= tol && Math.abs(y - b[iy]) <= tol) return { obj: o, corner: [ix, iy] };
      }
      if (x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]) return { obj: o, corner: null };
    }
    return null;
  }

  down(e) {
    const [x, y] = this.point(e);
    const h = this.hit(x, y);
    if (!h) return;
    this.selected = h.obj.id;
    const k = this.keyframeAt(h.obj, true);
    this.drag = { obj: h.obj, k, corner: h.corner, x, y, box: k.box.slice() };
    this.canvas.setPointerCapture && this.canvas.setPointerCapture(e.pointerId);
    this.render();
    e.preventDefault();
  }

  move(e) {
    if (!this.drag) return;
    const [x, y] = this.point(e);
    const d = this.drag, b = d.box.slice(), dx = x - d.x, dy = y - d.y;
    if (d.corner) {
      const [ix, iy] = d.corner;
      b[ix] = clamp01(b[ix] + dx);
      b[iy] = clamp01(b[iy] + dy);
      if (b[2] - b[0] < MIN_SIDE) { if (ix === 0) b[0] = b[2] - MIN_SIDE; else b[2] = b[0] + MIN_SIDE; }
      if (b[3] - b[1] < MIN_SIDE) { if (iy === 1) b[1] = b[3] - MIN_SIDE; else b[3] = b[1] + MIN_SIDE; }
    } else {
      const mx = Math.min(Math.max(dx, -b[0]), 1 - b[2]), my = Math.min(Math.max(dy, -b[1]), 1 - b[3]);
      b[0] += mx; b[2] += mx; b[1] += my; b[3] += my;
    }
    d.k.box = b.map((v) => round4(clamp01(v)));
    this.render(false);
    this.onChange(this.getLayout());
  }

  setTime(t) { this.t = round4(clamp01(t)); this.render(); }

  addKeyframe(t) {
    this.t = round4(clamp01(t));
    for (const o of this.layout.objects) this.keyframeAt(o, true);
    this.render();
    this.onChange(this.getLayout());
  }

  addObject(phrase) {
    phrase = phrase.trim().replace(/\s+/g, " ");
    if (!phrase) return "name the object, e.g. 'a green triangle'";
    const words = phrase.toLowerCase().split(" ");
    const name = words[words.length - 1].replace(/[^a-z0-9-]/g, "");
    if (!name) return "the object's last word should be its noun, e.g. 'a green triangle'";
    const id = this.layout.objects.reduce((m, o) => Math.max(m, o.id), -1) + 1;
    this.layout.objects.push({ id, name, phrase, keyframes: [{ t: 0, box: [0.35, 0.35, 0.65, 0.65] },
                                                              { t: 1, box: [0.35, 0.35, 0.65, 0.65] }] });
    // the generator finds an object by its word in the prompt: the prompt names the new object too
    if (!new RegExp(`\\b${name}s?\\b`, "i").test(this.layout.prompt)) this.layout.prompt += ` and ${phrase}`;
    delete this.layout.enriched_prompt;
    this.selected = id;
    this.render();
    this.onChange(this.getLayout());
    return null;
  }

  removeObject(id) {
    this.layout.objects = this.layout.objects.filter((o) => o.id !== id);
    if (this.selected === id) this.selected = this.layout.objects.length ? this.layout.objects[0].id : null;
    this.render();
    this.onChange(this.getLayout());
  }

  paint() {
    const ctx = this.canvas.getContext("2d");
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, EDIT_SIZE, EDIT_SIZE);
    ctx.strokeStyle = "#2a2a2a";
    for (let i = 1; i < 4; i++) {
      const p = (i * EDIT_SIZE) / 4;
      ctx.beginPath(); ctx.moveTo(p, 0); ctx.lineTo(p, EDIT_SIZE); ctx.moveTo(0, p); ctx.lineTo(EDIT_SIZE, p); ctx.stroke();
    }
    // a box drawn dashed is interpolated at this time (no keyframe of its own here yet)
    drawBoxes(ctx, this.layout, this.t, EDIT_SIZE, EDIT_SIZE, {
      selected: this.selected, handles: true,
      dashed: (o) => !o.keyframes.some((k) => Math.abs(k.t - this.t) < 1e-4) });
  }

  render(full = true) {
    this.paint();
    if (!full) { this.renderBoxText(); return; }
    const s = this.side;
    s.replaceChildren();
    const kt = document.createElement("div");
    kt.className = "keyframes";
    kt.append("keyframe time: ");
    for (const t of this.times()) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = `t = ${t.toFixed(2)}`;
      b.dataset.t = String(t);
      if (Math.abs(t - this.t) < 1e-4) b.classList.add("on");
      b.onclick = () => this.setTime(t);
      kt.append(b);
    }
    const addK = document.createElement("button");
    addK.type = "button";
    addK.className = "add-keyframe";
    addK.textContent = "+ keyframe at t = 0.5";
    addK.onclick = () => this.addKeyframe(0.5);
    kt.append(addK);
    const p = document.createElement("div");
    p.className = "prompt-text";
    p.textContent = `prompt: ${this.layout.prompt}`;
    const ul = document.createElement("ul");
    ul.className = "objects";
    for (const o of this.layout.objects) {
      const li = document.createElement("li");
      li.dataset.id = String(o.id);
      if (o.id === this.selected) li.classList.add("sel");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = colorFor(o.id);
      const label = document.createElement("span");
      label.textContent = `${o.id}: ${o.phrase}`;
      label.style.cursor = "pointer";
      label.onclick = () => { this.selected = o.id; this.render(); };
      const box = document.createElement("code");
      box.className = "box";
      const rm = document.createElement("button");
      rm.type = "button";
      rm.className = "remove";
      rm.textContent = "remove";
      rm.title = `remove ${o.phrase}`;
      rm.onclick = () => this.removeObject(o.id);
      li.append(sw, label, box, rm);
      ul.append(li);
    }
    const add = document.createElement("form");
    add.className = "add";
    const inp = document.createElement("input");
    inp.placeholder = "add an object, e.g. a green triangle";
    inp.className = "add-object";
    const btn = document.createElement("button");
    btn.type = "submit";
    btn.textContent = "add";
    const err = document.createElement("div");
    err.className = "error";
    add.append(inp, btn);
    add.onsubmit = (e) => { e.preventDefault(); const m = this.addObject(inp.value); err.textContent = m || ""; };
    s.append(kt, p, ul, add, err);
    this.renderBoxText();
  }

  renderBoxText() {
    for (const li of this.side.querySelectorAll(".objects li")) {
      const o = this.object(Number(li.dataset.id));
      const b = o && boxAt(o, this.t);
      li.querySelector(".box").textContent = b ? `[${b.map((v) => v.toFixed(2)).join(", ")}]` : "absent";
    }
  }
}

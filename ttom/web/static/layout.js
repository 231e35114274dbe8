// The Layout contract in the browser: boxes at a time, and drawing them (ttom/layout.py's rules).
// box = [x0, y0, x1, y1] normalised to [0, 1]; t normalised over the video (0 = first frame, 1 = last);
// linear interpolation between keyframes; absent before the first and after the last keyframe.
"use strict";

const TTOM_PALETTE = [[230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180],
  [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128]]; // ttom.video.PALETTE
const TIME_EPS = 1e-6;

function colorFor(i) {
  const c = TTOM_PALETTE[((i % TTOM_PALETTE.length) + TTOM_PALETTE.length) % TTOM_PALETTE.length];
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function boxAt(obj, t) {
  const k = obj.keyframes;
  if (!k.length || t < k[0].t - TIME_EPS || t > k[k.length - 1].t + TIME_EPS) return null;
  if (k.length === 1 || t <= k[0].t) return k[0].box.slice();
  for (let i = 0; i + 1 < k.length; i++) {
    const a = k[i], b = k[i + 1];
    if (t <= b.t) {
      const w = b.t > a.t ? (t - a.t) / (b.t - a.t) : 1;
      return a.box.map((p, j) => (1 - w) * p + w * b.box[j]);
    }
  }
  return k[k.length - 1].box.slice();
}

// The normalised time of the frame a video shows: frame f of n is t = f / (n - 1), as frame_times().
function frameTime(video, numFrames, fps) {
  if (!numFrames || numFrames < 2) return 0;
  const f = Math.min(numFrames - 1, Math.floor((video.currentTime || 0) * fps + 1e-3));
  return f / (numFrames - 1);
}

function drawBoxes(ctx, layout, t, w, h, opts = {}) {
  ctx.save();
  ctx.font = `${Math.max(10, Math.round(h / 22))}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (const obj of layout.objects) {
    const b = boxAt(obj, t);
    if (!b) continue;
    const col = colorFor(obj.id);
    const [x0, y0, x1, y1] = [b[0] * w, b[1] * h, b[2] * w, b[3] * h];
    ctx.strokeStyle = col;
    ctx.lineWidth = opts.selected === obj.id ? 3 : 2;
    ctx.setLineDash(opts.dashed && opts.dashed(obj) ? [5, 4] : []);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.setLineDash([]);
    const label = `${obj.id}: ${obj.name}`;
    const tw = ctx.measureText(label).width + 6, th = Math.max(10, Math.round(h / 22)) + 4;
    ctx.fillStyle = col;
    ctx.fillRect(x0, Math.max(0, y0 - th), tw, th);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x0 + 3, Math.max(0, y0 - th) + 2);
    if (opts.handles && opts.selected === obj.id) {
      ctx.fillStyle = "#fff";
      ctx.strokeStyle = col;
      for (const [hx, hy] of [[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) {
        ctx.fillRect(hx - 4, hy - 4, 8, 8);
        ctx.strokeRect(hx - 4, hy - 4, 8, 8);
      }
    }
  }
  ctx.restore();
}

// A <video> with the planned boxes drawn over it, following playback; returns {el, video, setShown}.
function videoWithBoxes(src, layout, spec, size) {
  const wrap = document.createElement("div");
  wrap.className = "player";
  const video = document.createElement("video");
  Object.assign(video, { muted: true, loop: true, autoplay: true, playsInline: true, controls: true });
  // src: a URL, or a promise of one (mediaUrl: a file fetched with the API key)
  Promise.resolve(typeof mediaUrl === "function" ? mediaUrl(src) : src).then((u) => { video.src = u; },
                                                                               (e) => { video.title = e.message; });
  video.setAttribute("muted", "");
  if (size) { video.style.width = `${size}px`; video.style.height = `${size}px`; }
  const canvas = document.createElement("canvas");
  wrap.append(video, canvas);
  let shown = true;
  const n = (spec && spec.num_frames) || 0, fps = (spec && spec.fps) || 8;
  function paint() {
    const w = video.clientWidth || size || 288, h = video.clientHeight || size || 288;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (shown && layout) drawBoxes(ctx, layout, frameTime(video, n, fps), w, h);
  }
  let seen = false; // repaint each frame while on the page (stop once removed)
  (function loop() {
    if (wrap.isConnected) seen = true; else if (seen) return;
    paint();
    requestAnimationFrame(loop);
  })();
  return { el: wrap, video, setShown(v) { shown = v; paint(); } };
}

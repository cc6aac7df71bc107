// The interactive timeline of actionrec: lanes under a <video>, drawn on a <canvas>.
//
// One component for the HTML report (actionrec/export/report.py inlines this file in a script element) and
// the notebook's TimelineWidget (its ES module is this file followed by a render function). It
// needs no library and makes no request: everything comes from the view document
// (actionrec.export.view.view_document) and the <video> it is given.
//
// Long videos stay cheap: lanes are drawn once per size change, one canvas column (device pixel)
// at a time, each column showing the label that covers most of its time span (runs of equal
// columns become one rectangle); never one DOM node per window. The playback cursor lives on a
// second canvas, redrawn alone on each animation frame while the video plays.
//
// Test hooks: root.dataset.cursorS (the time the cursor is drawn at), root.dataset.renderMs, and
// root.actionrecTimeline (timeToX, xToTime, windowAt, laneAt, renderMs, cursorS).

/* exported actionrecTimeline */
function actionrecTimeline(root, video, doc, options) {
  "use strict";
  const opts = options || {};
  const GUTTER = 128; // CSS px left of the lanes: lane names
  const PAD_RIGHT = 8;
  const LANE_H = 26;
  const LANE_GAP = 4;
  const AXIS_H = 20;
  const UNCERTAIN = "#a3a3a3";
  const UNCERTAIN_KEY = "\u0000uncertain";
  const t0 = performance.now();

  // -- data --------------------------------------------------------------------------------------
  const lanes = (doc.lanes || []).map((lane) => {
    const tl = lane.timeline || {};
    const windows = tl.windows || [];
    const starts = new Float64Array(windows.length);
    windows.forEach((w, i) => (starts[i] = w.start_s));
    return { name: lane.name, kind: "labels", windows, starts, segments: tl.segments || [] };
  });
  const events = doc.events || [];
  if (events.length) lanes.push({ name: "events", kind: "events", events, windows: [], starts: new Float64Array(0) });
  let lastEnd = 0;
  for (const lane of lanes) {
    for (const s of lane.segments || []) lastEnd = Math.max(lastEnd, s.end_s);
    for (const e of lane.events || []) lastEnd = Math.max(lastEnd, e.end_s);
  }
  const docDuration = Math.max(doc.duration_s || 0, lastEnd);
  function duration() {
    const d = video && isFinite(video.duration) && video.duration > 0 ? video.duration : 0;
    return Math.max(d, docDuration, 1e-3);
  }

  function hashHue(text) {
    let h = 2166136261; // FNV-1a: the same label gets the same colour in every view and report
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 16777619);
    }
    return (h >>> 0) % 360;
  }
  const colourCache = new Map();
  function colour(label) {
    if (label === UNCERTAIN_KEY) return UNCERTAIN;
    let c = colourCache.get(label);
    if (!c) {
      const hue = hashHue(label);
      const light = 38 + ((hue * 7) % 3) * 8; // three lightness steps separate close hues
      c = `hsl(${hue}, 62%, ${light}%)`;
      colourCache.set(label, c);
    }
    return c;
  }
  function fmt(t) {
    const s = Math.max(0, t);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = (s % 60).toFixed(1).padStart(4, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  // -- DOM ---------------------------------------------------------------------------------------
  root.classList.add("ar-tl");
  root.textContent = "";
  const videoBox = document.createElement("div");
  videoBox.className = "ar-tl-video";
  if (video) videoBox.appendChild(video);
  const bar = document.createElement("div");
  bar.className = "ar-tl-bar";
  function button(text, label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.title = label;
    b.addEventListener("click", onClick);
    bar.appendChild(b);
    return b;
  }
  const playBtn = button("▶ Play", "Play", () => togglePlay());
  playBtn.classList.add("ar-tl-play");
  button("|◀", "Previous window", () => step(-1)).classList.add("ar-tl-prev");
  button("▶|", "Next window", () => step(1)).classList.add("ar-tl-next");
  const subsBtn = button("CC", "Show subtitles", () => toggleSubtitles());
  subsBtn.classList.add("ar-tl-subs");
  subsBtn.setAttribute("aria-pressed", "false");
  const clock = document.createElement("span");
  clock.className = "ar-tl-clock";
  clock.setAttribute("aria-live", "off");
  bar.appendChild(clock);
  const status = document.createElement("div"); // what plays, and any problem: one line under the bar
  status.className = "ar-tl-status";
  const note = document.createElement("span");
  note.className = "ar-tl-note";
  note.setAttribute("role", "status");
  status.appendChild(note);

  const lanesBox = document.createElement("div");
  lanesBox.className = "ar-tl-lanes";
  lanesBox.tabIndex = 0;
  lanesBox.setAttribute("role", "group");
  lanesBox.setAttribute(
    "aria-label",
    "Action timeline: click or drag to seek; space plays or pauses; left and right arrows step one window",
  );
  const base = document.createElement("canvas");
  base.className = "ar-tl-base";
  const overlay = document.createElement("canvas");
  overlay.className = "ar-tl-cursor";
  const tip = document.createElement("div");
  tip.className = "ar-tl-tip";
  tip.hidden = true;
  tip.setAttribute("role", "tooltip");
  lanesBox.append(base, overlay, tip);
  const legend = document.createElement("div");
  legend.className = "ar-tl-legend";
  legend.setAttribute("aria-label", "Labels and their colours");
  root.append(videoBox, bar, status, lanesBox, legend);

  // -- geometry ----------------------------------------------------------------------------------
  let cssW = 0;
  let dpr = 1;
  const height = AXIS_H + lanes.length * (LANE_H + LANE_GAP) + 2;
  function plotW() {
    return Math.max(10, cssW - GUTTER - PAD_RIGHT);
  }
  function timeToX(t) {
    return GUTTER + (t / duration()) * plotW();
  }
  function xToTime(x) {
    return Math.min(duration(), Math.max(0, ((x - GUTTER) / plotW()) * duration()));
  }
  function laneTop(i) {
    return AXIS_H + i * (LANE_H + LANE_GAP);
  }
  function laneAt(y) {
    for (let i = 0; i < lanes.length; i++) if (y >= laneTop(i) && y < laneTop(i) + LANE_H + LANE_GAP) return i;
    return -1;
  }
  function windowAt(laneIndex, t) {
    // The window that owns t: the latest one starting at or before t, as the segments are cut
    // (a segment runs from its first window's start to the next segment's first window's start).
    const lane = lanes[laneIndex];
    if (!lane || !lane.windows.length) return null;
    const s = lane.starts;
    let lo = 0;
    let hi = s.length - 1;
    if (t < s[0]) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    const w = lane.windows[lo];
    return lo === s.length - 1 && t > w.end_s ? null : w;
  }

  // -- drawing -----------------------------------------------------------------------------------
  function sizeCanvas(c) {
    c.width = Math.round(cssW * dpr);
    c.height = Math.round(height * dpr);
    c.style.width = `${cssW}px`;
    c.style.height = `${height}px`;
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  function columnsOf(segments, keyOf, cols) {
    // Per device-pixel column, the key covering most of its time span; as runs [c0, c1, key, item].
    const runs = [];
    const dur = duration();
    let j = 0;
    for (let c = 0; c < cols; c++) {
      const a = (c / cols) * dur;
      const b = ((c + 1) / cols) * dur;
      while (j < segments.length && segments[j].end_s <= a) j++;
      let best = null;
      let bestCover = 0;
      let bestItem = null;
      let single = true;
      let acc = null;
      for (let k = j; k < segments.length && segments[k].start_s < b; k++) {
        const s = segments[k];
        const cover = Math.min(s.end_s, b) - Math.max(s.start_s, a);
        if (cover <= 0) continue;
        const key = keyOf(s);
        if (best === null) {
          best = key;
          bestCover = cover;
          bestItem = s;
          continue;
        }
        if (single) {
          acc = new Map([[best, bestCover]]);
          single = false;
        }
        const total = (acc.get(key) || 0) + cover;
        acc.set(key, total);
        if (total > bestCover) {
          best = key;
          bestCover = total;
          bestItem = s;
        }
      }
      if (best === null) continue;
      const last = runs[runs.length - 1];
      if (last && last[1] === c && last[2] === best) last[1] = c + 1;
      else runs.push([c, c + 1, best, bestItem]);
    }
    return runs;
  }

  function drawAxis(ctx) {
    const dur = duration();
    const target = plotW() / 90; // about one tick per 90 px
    const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    const stepS = steps.find((s) => dur / s <= target) || 3600 * Math.ceil(dur / target / 3600);
    ctx.fillStyle = "#555";
    ctx.strokeStyle = "#ccc";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    for (let t = 0; t <= dur + 1e-9; t += stepS) {
      const x = Math.round(timeToX(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H - 5);
      ctx.lineTo(x, height);
      ctx.stroke();
      ctx.fillText(stepS < 1 ? fmt(t) : fmt(t).replace(/\.0$/, ""), Math.min(x, cssW - 24), AXIS_H / 2 - 1);
    }
  }

  function drawRuns(ctx, runs, cols, y, h, textOf) {
    const colW = plotW() / cols;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    for (const [c0, c1, key, item] of runs) {
      const x = GUTTER + c0 * colW;
      const w = (c1 - c0) * colW;
      ctx.fillStyle = colour(key);
      ctx.fillRect(x, y, w, h);
      const text = textOf(item, key);
      if (text && w > 40) {
        const shown = fitText(ctx, text, w - 8);
        if (shown) {
          ctx.fillStyle = "#fff";
          ctx.fillText(shown, x + 4, y + h / 2);
        }
      }
    }
  }

  function fitText(ctx, text, maxW) {
    if (ctx.measureText(text).width <= maxW) return text;
    for (let n = text.length - 1; n > 2; n--) {
      const t = text.slice(0, n) + "…";
      if (ctx.measureText(t).width <= maxW) return t;
    }
    return "";
  }

  function drawLanes() {
    const ctx = sizeCanvas(base);
    ctx.clearRect(0, 0, cssW, height);
    drawAxis(ctx);
    const cols = Math.max(1, Math.round(plotW() * dpr));
    lanes.forEach((lane, i) => {
      const y = laneTop(i);
      ctx.fillStyle = "#f1f1f1";
      ctx.fillRect(GUTTER, y, plotW(), LANE_H);
      ctx.fillStyle = "#333";
      ctx.font = "12px system-ui, sans-serif";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(fitText(ctx, lane.name, GUTTER - 10) || lane.name.slice(0, 3), 4, y + LANE_H / 2);
      if (lane.kind === "labels") {
        const runs = columnsOf(lane.segments, (s) => (s.uncertain ? UNCERTAIN_KEY : s.label), cols);
        drawRuns(ctx, runs, cols, y, LANE_H, (s, key) => (key === UNCERTAIN_KEY ? "uncertain" : s.label));
      } else {
        const runs = columnsOf(lane.events, (e) => e.label, cols);
        drawRuns(ctx, runs, cols, y + 3, LANE_H - 6, (e) => e.label);
        ctx.fillStyle = "#111";
        for (const e of lane.events) {
          const x = timeToX(e.peak_s);
          ctx.beginPath(); // the peak: a small triangle under the event
          ctx.moveTo(x - 4, y + LANE_H);
          ctx.lineTo(x + 4, y + LANE_H);
          ctx.lineTo(x, y + LANE_H - 6);
          ctx.fill();
        }
      }
    });
  }

  let hover = null; // {lane, item} under the pointer
  let cursorS = 0;
  function drawCursor() {
    const ctx = overlay.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, height);
    if (hover && hover.item) {
      const a = timeToX(hover.item.start_s);
      const b = timeToX(hover.item.end_s);
      ctx.strokeStyle = "rgba(0,0,0,0.8)";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(a, laneTop(hover.lane) + 0.75, Math.max(1, b - a), LANE_H - 1.5);
    }
    cursorS = video ? video.currentTime || 0 : 0;
    const x = Math.round(timeToX(cursorS) * dpr) / dpr;
    ctx.fillStyle = "#d00";
    ctx.fillRect(x - 1, AXIS_H - 4, 2, height - AXIS_H + 4);
    ctx.beginPath();
    ctx.moveTo(x - 5, AXIS_H - 8);
    ctx.lineTo(x + 5, AXIS_H - 8);
    ctx.lineTo(x, AXIS_H - 2);
    ctx.fill();
    root.dataset.cursorS = cursorS.toFixed(3);
    clock.textContent = `${fmt(cursorS)} / ${fmt(duration())}`;
  }

  function drawAll() {
    dpr = window.devicePixelRatio || 1;
    cssW = Math.max(200, Math.floor(lanesBox.clientWidth || root.clientWidth || 800));
    lanesBox.style.height = `${height}px`;
    drawLanes();
    sizeCanvas(overlay);
    drawCursor();
    // The geometry of the time axis, for tests and tools: x = left + t / duration * width (CSS px).
    root.dataset.plotLeft = String(GUTTER);
    root.dataset.plotWidth = String(plotW());
    root.dataset.durationS = String(duration());
  }

  function drawLegend() {
    const seen = new Map(); // key -> seconds on screen
    for (const lane of lanes) {
      for (const s of lane.segments || []) {
        const key = s.uncertain ? UNCERTAIN_KEY : s.label;
        seen.set(key, (seen.get(key) || 0) + (s.end_s - s.start_s));
      }
      for (const e of lane.events || []) seen.set(e.label, (seen.get(e.label) || 0) + (e.end_s - e.start_s));
    }
    const keys = [...seen.keys()].sort((a, b) => seen.get(b) - seen.get(a));
    legend.textContent = "";
    for (const key of keys) {
      const item = document.createElement("span");
      item.className = "ar-tl-legend-item";
      const sw = document.createElement("span");
      sw.className = "ar-tl-swatch";
      sw.style.background = colour(key);
      item.append(sw, document.createTextNode(key === UNCERTAIN_KEY ? "uncertain" : key));
      legend.appendChild(item);
    }
  }

  // -- playback, seeking, hover ------------------------------------------------------------------
  let raf = 0;
  function loop() {
    drawCursor();
    raf = video && !video.paused && !video.ended ? requestAnimationFrame(loop) : 0;
  }
  function syncPlayButton() {
    const playing = video && !video.paused && !video.ended;
    playBtn.textContent = playing ? "❚❚ Pause" : "▶ Play";
    playBtn.setAttribute("aria-label", playing ? "Pause" : "Play");
    playBtn.title = playing ? "Pause" : "Play";
  }
  function togglePlay() {
    if (!video) return;
    if (video.paused || video.ended) {
      const p = video.play();
      if (p && p.catch) p.catch((err) => setNote(`cannot play: ${err.message}`));
    } else video.pause();
  }
  function seek(t) {
    if (!video) return;
    video.currentTime = Math.min(Math.max(0, t), duration());
    drawCursor();
  }
  function step(direction) {
    const lane = lanes.find((l) => l.windows.length);
    if (!lane || !video) return;
    const now = video.currentTime || 0;
    const s = lane.starts;
    const eps = 1e-3;
    if (direction > 0) {
      for (let i = 0; i < s.length; i++) if (s[i] > now + eps) return seek(s[i]);
    } else {
      for (let i = s.length - 1; i >= 0; i--) if (s[i] < now - eps) return seek(s[i]);
      seek(0);
    }
  }
  if (video) {
    video.addEventListener("play", () => {
      syncPlayButton();
      if (!raf) raf = requestAnimationFrame(loop);
    });
    for (const name of ["pause", "ended"]) video.addEventListener(name, syncPlayButton);
    for (const name of ["timeupdate", "seeked", "loadedmetadata", "durationchange"]) {
      video.addEventListener(name, () => (name === "durationchange" ? drawAll() : drawCursor()));
    }
  }

  function localXY(ev) {
    const r = overlay.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }
  let dragging = false;
  overlay.addEventListener("pointerdown", (ev) => {
    const [x, y] = localXY(ev);
    if (x < GUTTER || y < AXIS_H - 8) return;
    dragging = true;
    overlay.setPointerCapture(ev.pointerId);
    lanesBox.focus({ preventScroll: true });
    seek(xToTime(x));
  });
  overlay.addEventListener("pointermove", (ev) => {
    const [x, y] = localXY(ev);
    if (dragging) seek(xToTime(x));
    showTip(x, y);
  });
  const endDrag = () => (dragging = false);
  overlay.addEventListener("pointerup", endDrag);
  overlay.addEventListener("pointercancel", endDrag);
  overlay.addEventListener("pointerleave", () => {
    hover = null;
    tip.hidden = true;
    drawCursor();
  });

  function pct(score) {
    return `${(score * 100).toFixed(1)}%`;
  }
  function showTip(x, y) {
    const i = x >= GUTTER ? laneAt(y) : -1;
    const lane = lanes[i];
    const t = xToTime(x);
    let item = null;
    tip.textContent = "";
    if (lane && lane.kind === "labels") {
      item = windowAt(i, t);
      if (item) {
        tip.dataset.window = String(item.index);
        const head = document.createElement("div");
        head.className = "ar-tl-tip-head";
        head.textContent = `${lane.name} · window ${item.index}: ${item.start_s.toFixed(2)}–${item.end_s.toFixed(2)} s${
          item.uncertain ? " · uncertain" : ""
        }`;
        tip.appendChild(head);
        for (const k of item.top_k) {
          const row = document.createElement("div");
          row.className = "ar-tl-tip-row";
          row.dataset.label = k.label;
          row.dataset.score = String(k.score);
          const sw = document.createElement("span");
          sw.className = "ar-tl-swatch";
          sw.style.background = colour(k.label);
          const name = document.createElement("span");
          name.className = "ar-tl-tip-label";
          name.textContent = k.label;
          const score = document.createElement("span");
          score.className = "ar-tl-tip-score";
          score.textContent = pct(k.score);
          row.append(sw, name, score);
          tip.appendChild(row);
        }
      }
    } else if (lane) {
      item = lane.events.find((e) => e.start_s <= t && t < e.end_s) || null;
      if (item) {
        delete tip.dataset.window;
        const head = document.createElement("div");
        head.className = "ar-tl-tip-head";
        head.textContent = `event ${item.label}: ${item.start_s.toFixed(2)}–${item.end_s.toFixed(2)} s`;
        const row = document.createElement("div");
        row.className = "ar-tl-tip-row";
        row.textContent = `peak ${pct(item.peak_score)} at ${item.peak_s.toFixed(2)} s · ${item.rule || ""}`;
        tip.append(head, row);
      }
    }
    hover = item ? { lane: i, item } : null;
    tip.hidden = !item;
    if (item) {
      const w = tip.offsetWidth || 200;
      tip.style.left = `${Math.min(Math.max(0, x + 12), Math.max(0, cssW - w - 4))}px`;
      tip.style.top = `${laneTop(i) + LANE_H + 4}px`;
    }
    drawCursor();
  }

  lanesBox.addEventListener("keydown", (ev) => {
    if (ev.key === " " || ev.key === "Spacebar") togglePlay();
    else if (ev.key === "ArrowLeft") step(-1);
    else if (ev.key === "ArrowRight") step(1);
    else return;
    ev.preventDefault();
    ev.stopPropagation(); // the notebook must not take these keys (space scrolls, arrows move cells)
  });

  // -- subtitles: the WebVTT export's cues, without a file ------------------------------------------
  let track = null;
  function toggleSubtitles() {
    if (!video) return;
    if (!track) {
      track = video.addTextTrack("subtitles", "actions", "en");
      for (const c of doc.cues || []) track.addCue(new VTTCue(c.start_s, c.end_s, c.text));
    }
    const on = track.mode !== "showing";
    track.mode = on ? "showing" : "hidden";
    subsBtn.setAttribute("aria-pressed", on ? "true" : "false");
    subsBtn.setAttribute("aria-label", on ? "Hide subtitles" : "Show subtitles");
    subsBtn.title = subsBtn.getAttribute("aria-label");
  }

  function setNote(text) {
    note.textContent = text || "";
  }

  drawLegend();
  drawAll();
  syncPlayButton();
  if (typeof ResizeObserver !== "undefined") {
    let lastW = cssW;
    new ResizeObserver(() => {
      const w = Math.floor(lanesBox.clientWidth);
      if (w && w !== lastW) {
        lastW = w;
        drawAll();
      }
    }).observe(lanesBox);
  }
  const renderMs = performance.now() - t0;
  root.dataset.renderMs = renderMs.toFixed(1);

  const api = {
    bar,
    status,
    setNote,
    redraw: drawAll,
    timeToX,
    xToTime,
    windowAt,
    laneAt,
    laneTop,
    laneHeight: LANE_H,
    renderMs,
    cursorS: () => cursorS,
    lanes: () => lanes.map((l) => ({ name: l.name, kind: l.kind })),
  };
  root.actionrecTimeline = api;
  if (opts.onReady) opts.onReady(api);
  return api;
}

// mfif serve: the page. Plain JS, no build step. State changes go to the server as POSTs with the
// X-Mfif header; the job id lives in the URL (#job=...) so a reload finds the job again.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const HDR = { "X-Mfif": "1" };
  const S = {
    info: null, files: [], job: null, status: null, poll: null,
    W: 0, H: 0, n: 0, kind: null,
    fused: null, frames: [], mapIdx: null, mapBase: null,  // ImageData / Uint8Array at full size
    result: null, resultCanvas: null, frameCanvases: [], overlayCanvas: null,
    strokes: [], redo: [], rev: 0, saving: 0, saveTimer: null, pending: null,
    view: { s: 1, tx: 0, ty: 0 }, mode: "pan",
  };
  window.mfifState = S;  // for inspection (and the browser tests)

  // ---------- helpers ----------
  function showError(msg) { const e = $("error"); e.textContent = msg || ""; e.hidden = !msg; }
  async function api(path, opts = {}) {
    const r = await fetch(path, opts);
    let body = null;
    try { body = await r.json(); } catch (_) { body = null; }
    if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
    return body;
  }
  function loadImageData(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => {
        const c = document.createElement("canvas");
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext("2d", { willReadFrequently: true });
        g.drawImage(img, 0, 0);
        resolve(g.getImageData(0, 0, c.width, c.height));
      };
      img.onerror = () => reject(new Error(`cannot load ${url}`));
      img.src = url;
    });
  }
  function canvasOf(imgData) {
    const c = document.createElement("canvas");
    c.width = imgData.width; c.height = imgData.height;
    c.getContext("2d").putImageData(imgData, 0, 0);
    return c;
  }
  function palette(k, n) {
    if (n === 2) return k === 0 ? [255, 140, 30] : [40, 130, 255];
    const h = (k / n) * 300, f = (m) => { const x = (m + h / 60) % 6; return 255 * (1 - Math.max(0, Math.min(x, 4 - x, 1))); };
    return [f(5), f(3), f(1)].map(Math.round);
  }

  // ---------- sources ----------
  function renderFileList() {
    const ol = $("filelist"); ol.textContent = "";
    S.files.forEach((f, i) => {
      const li = document.createElement("li");
      li.textContent = `${f.name} (${(f.size / 1024).toFixed(0)} KiB)`;
      const b = document.createElement("button"); b.type = "button"; b.textContent = "remove";
      b.onclick = () => { S.files.splice(i, 1); renderFileList(); };
      li.appendChild(b); ol.appendChild(li);
    });
    $("run").disabled = !canRun();
  }
  function canRun() {  // two or more files, or one multi-page TIFF
    return S.files.length >= 2 || (S.files.length === 1 && /\.tiff?$/i.test(S.files[0].name));
  }
  function addFiles(list) {
    for (const f of list) if (!S.files.some((g) => g.name === f.name && g.size === f.size)) S.files.push(f);
    S.files.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));  // like a folder given to the CLI
    renderFileList();
  }
  function setupDrop() {
    const d = $("drop");
    ["dragenter", "dragover"].forEach((t) => d.addEventListener(t, (e) => { e.preventDefault(); d.classList.add("over"); }));
    ["dragleave", "drop"].forEach((t) => d.addEventListener(t, () => d.classList.remove("over")));
    d.addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer) addFiles(e.dataTransfer.files); });
    $("files").addEventListener("change", (e) => { addFiles(e.target.files); e.target.value = ""; });
    $("clear").onclick = () => { S.files = []; renderFileList(); };
  }
  function learnedState() {
    const m = S.info && S.info.methods.find((x) => x.name === $("method").value);
    const learned = !!(m && m.learned);
    document.querySelectorAll("#opts .learned").forEach((el) => el.classList.toggle("off", !learned));
    ["tta", "soft", "edge"].forEach((id) => { $(id).disabled = !learned; });
  }

  // ---------- jobs ----------
  function submit() {
    showError("");
    const fd = new FormData();
    S.files.forEach((f) => fd.append("files", f, f.name));
    fd.append("method", $("method").value);
    fd.append("align", $("align").value);
    if (!$("tta").disabled && $("tta").value) fd.append("tta", $("tta").value);
    if (!$("soft").disabled && $("soft").checked) fd.append("soft", "true");
    if (!$("edge").disabled && $("edge").value) fd.append("edge_guide", $("edge").value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs");
    xhr.setRequestHeader("X-Mfif", "1");
    $("progress").hidden = false; $("run").disabled = true;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress(0.2 * e.loaded / e.total, "uploading"); };
    xhr.onload = () => {
      $("run").disabled = !canRun();
      let body = null; try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status !== 202) { progress(0, ""); showError((body && body.error) || `upload failed (${xhr.status})`); return; }
      openJob(body.id, true);
    };
    xhr.onerror = () => { $("run").disabled = !canRun(); showError("upload failed (connection)"); };
    xhr.send(fd);
  }
  function progress(v, stage) { $("bar").value = v; $("stage").textContent = stage; }
  function openJob(id, fresh) {
    S.job = id;
    if (location.hash !== `#job=${id}`) history.replaceState(null, "", `#job=${id}`);
    if (fresh) $("result").hidden = true;
    clearTimeout(S.poll);
    pollJob();
  }
  async function pollJob() {
    let st;
    try { st = await api(`/api/jobs/${S.job}`); } catch (e) { showError(`${e.message}`); $("progress").hidden = true; return; }
    S.status = st;
    $("progress").hidden = false;
    progress(0.2 + 0.8 * st.progress, `${st.stage}${st.state === "queued" ? " (waiting for a worker)" : ""}`);
    if (st.state === "error") { showError(st.error); $("progress").hidden = true; return; }
    if (st.state !== "done") { S.poll = setTimeout(pollJob, 250); return; }
    $("progress").hidden = true;
    await showResult(st);
  }
  async function showResult(st) {
    const base = `/api/jobs/${st.id}`;
    S.W = st.width; S.H = st.height; S.n = st.frames; S.kind = st.kind;
    const hasMap = st.maps.includes("depth");
    const [fused, mapImg, ...frames] = await Promise.all([
      loadImageData(`${base}/view/fused.png`),
      hasMap ? loadImageData(`${base}/view/map.png`) : Promise.resolve(null),
      ...Array.from({ length: st.frames }, (_, k) => loadImageData(`${base}/view/frame-${k}.png`)),
    ]);
    S.fused = fused; S.frames = frames; S.frameCanvases = frames.map(canvasOf);
    S.mapBase = null;
    if (mapImg) { S.mapBase = new Uint8Array(S.W * S.H); for (let i = 0; i < S.W * S.H; i++) S.mapBase[i] = mapImg.data[4 * i]; }
    const sk = await api(`${base}/strokes`);
    S.strokes = sk.strokes; S.redo = []; S.rev = sk.rev;
    fillFrameSelects(st);
    $("info").textContent = `${st.method} · ${st.frames} frames · ${st.width}×${st.height} · ${st.bit_depth}-bit` +
      (st.options.align !== "none" ? ` · aligned (${st.options.align})` : "");
    for (const [id, name, need] of [["dl-png", "fused.png", null], ["dl-tif", "fused.tif", null],
      ["dl-decision", "decision-map.png", "decision"], ["dl-depth", "depth-map.png", "depth"], ["dl-focus", "focus-map.png", "focus"]]) {
      const a = $(id); a.dataset.name = name;
      a.hidden = !!(need && !st.maps.includes(need));
    }
    $("overlay").disabled = !hasMap; $("mode-paint").disabled = !hasMap;
    $("result").hidden = false;
    recomposeAll();
    if (S.strokes.length) await loadServerResult();
    updateLinks(); updateButtons();
    fit();
  }
  function fillFrameSelects(st) {
    for (const id of ["compare", "paintframe"]) {
      const sel = $(id); sel.textContent = "";
      st.names.forEach((nm, k) => {
        const o = document.createElement("option"); o.value = String(k);
        o.textContent = `${st.frames === 2 ? "AB"[k] : k + 1}: ${nm}`; sel.appendChild(o);
      });
    }
    const lg = $("legend"); lg.textContent = "";
    st.names.forEach((nm, k) => {
      if (k > 7) return;
      const sw = document.createElement("span"); sw.className = "swatch";
      sw.style.background = `rgb(${palette(k, st.frames).join(",")})`;
      lg.appendChild(sw); lg.appendChild(document.createTextNode(st.frames === 2 ? "AB"[k] : String(k + 1)));
    });
  }

  // ---------- retouch (same weights as mfif/web/retouch.py) ----------
  function strokeWeights(s, W, H) {
    const r = s.radius, pts = s.points, core = r * (1 - s.soft);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [x, y] of pts) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    x0 = Math.max(0, Math.floor(x0 - r - 0.5)); y0 = Math.max(0, Math.floor(y0 - r - 0.5));
    x1 = Math.min(W, Math.ceil(x1 + r + 0.5)); y1 = Math.min(H, Math.ceil(y1 + r + 0.5));
    if (x0 >= x1 || y0 >= y1) return null;
    const bw = x1 - x0, bh = y1 - y0, d2 = new Float64Array(bw * bh).fill(Infinity);
    const segs = pts.length === 1 ? [[pts[0], pts[0]]] : pts.slice(1).map((p, i) => [pts[i], p]);
    for (const [[ax, ay], [bx, by]] of segs) {
      const dx = bx - ax, dy = by - ay, ll = dx * dx + dy * dy;
      const sx0 = Math.max(x0, Math.floor(Math.min(ax, bx) - r - 0.5)), sx1 = Math.min(x1, Math.ceil(Math.max(ax, bx) + r + 0.5));
      const sy0 = Math.max(y0, Math.floor(Math.min(ay, by) - r - 0.5)), sy1 = Math.min(y1, Math.ceil(Math.max(ay, by) + r + 0.5));
      for (let y = sy0; y < sy1; y++) {
        const py = y + 0.5;
        for (let x = sx0; x < sx1; x++) {
          const px = x + 0.5;
          let t = ll > 0 ? ((px - ax) * dx + (py - ay) * dy) / ll : 0;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const ex = px - ax - t * dx, ey = py - ay - t * dy, v = ex * ex + ey * ey, j = (y - y0) * bw + (x - x0);
          if (v < d2[j]) d2[j] = v;
        }
      }
    }
    const w = new Float32Array(bw * bh);
    for (let j = 0; j < w.length; j++) {
      const d = Math.sqrt(d2[j]);
      w[j] = r - core > 1e-9 ? Math.max(0, Math.min(1, (r - d) / (r - core))) : (d <= r ? 1 : 0);
    }
    return { x0, y0, bw, bh, w };
  }
  function applyStroke(s, res, map) {
    const hit = strokeWeights(s, S.W, S.H);
    if (!hit) return;
    const { x0, y0, bw, bh, w } = hit, src = S.frames[s.frame].data, out = res.data;
    for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) {
      const a = w[y * bw + x]; if (a <= 0) continue;
      const i = (y + y0) * S.W + (x + x0), p = 4 * i;
      for (let c = 0; c < 3; c++) out[p + c] = out[p + c] * (1 - a) + src[p + c] * a;
      if (map && a >= 0.5) map[i] = s.frame;
    }
  }
  function recomposeAll() {
    S.result = new ImageData(new Uint8ClampedArray(S.fused.data), S.W, S.H);
    S.mapIdx = S.mapBase ? new Uint8Array(S.mapBase) : null;
    for (const s of S.strokes) applyStroke(s, S.result, S.mapIdx);
    refreshLayers();
  }
  function refreshLayers() {
    S.resultCanvas = canvasOf(S.result);
    if (S.mapIdx) {
      const ov = new ImageData(S.W, S.H), d = ov.data, pal = Array.from({ length: S.n }, (_, k) => palette(k, S.n));
      for (let i = 0; i < S.W * S.H; i++) { const c = pal[Math.min(S.mapIdx[i], S.n - 1)]; d[4 * i] = c[0]; d[4 * i + 1] = c[1]; d[4 * i + 2] = c[2]; d[4 * i + 3] = 255; }
      S.overlayCanvas = canvasOf(ov);
    } else S.overlayCanvas = null;
    draw();
  }
  async function loadServerResult() {
    const rev = S.rev;
    const img = await loadImageData(`/api/jobs/${S.job}/view/result.png?rev=${rev}`);
    if (rev !== S.rev) return;  // a newer edit is on its way
    S.result = img; refreshLayers();
  }
  function scheduleSave() {
    clearTimeout(S.saveTimer);
    setSync("saving");
    S.saveTimer = setTimeout(saveStrokes, 150);
  }
  async function saveStrokes() {
    S.saving++;
    const body = JSON.stringify({ strokes: S.strokes });
    try {
      const r = await api(`/api/jobs/${S.job}/retouch`, { method: "POST", headers: { ...HDR, "Content-Type": "application/json" }, body });
      S.rev = r.rev;
      S.saving--;
      if (S.saving === 0) { await loadServerResult(); if (S.saving === 0) { updateLinks(); setSync("saved"); } }
    } catch (e) { S.saving--; setSync("error"); showError(`retouch: ${e.message}`); }
  }
  function setSync(state) {
    const el = $("sync"); el.dataset.state = state;
    el.textContent = state === "saved" ? (S.strokes.length ? `saved (${S.strokes.length} strokes)` : "saved") : state === "saving" ? "saving…" : "not saved";
    for (const id of ["dl-png", "dl-tif", "dl-decision", "dl-depth", "dl-focus"]) $(id).setAttribute("aria-disabled", state === "saved" ? "false" : "true");
  }
  function updateLinks() {
    for (const id of ["dl-png", "dl-tif", "dl-decision", "dl-depth", "dl-focus"]) {
      const a = $(id); a.href = `/api/jobs/${S.job}/download/${a.dataset.name}?rev=${S.rev}`;
    }
  }
  function updateButtons() {
    $("undo").disabled = !S.strokes.length; $("redo").disabled = !S.redo.length; $("reset").disabled = !S.strokes.length;
  }
  function edit(fn) { fn(); recomposeAll(); updateButtons(); scheduleSave(); }

  // ---------- views: one transform for both canvases ----------
  function sizeCanvas(c) {
    const r = c.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    return dpr;
  }
  function draw() {
    if (!S.resultCanvas) return;
    const v = S.view, k = $("compare").value | 0;
    for (const id of ["cv-main", "cv-side"]) {
      const c = $(id), dpr = sizeCanvas(c), g = c.getContext("2d");
      g.setTransform(1, 0, 0, 1, 0, 0); g.clearRect(0, 0, c.width, c.height);
      g.imageSmoothingEnabled = v.s < 1;
      g.setTransform(v.s * dpr, 0, 0, v.s * dpr, v.tx * dpr, v.ty * dpr);
      if (id === "cv-side") { g.drawImage(S.frameCanvases[k], 0, 0); continue; }
      g.drawImage(S.resultCanvas, 0, 0);
      if ($("overlay").checked && S.overlayCanvas) {
        g.globalAlpha = $("opacity").value / 100; g.drawImage(S.overlayCanvas, 0, 0); g.globalAlpha = 1;
      }
      const split = $("split").value / 100;
      if (split > 0) {  // before (source frame) left of the split line, after (result) right of it
        const xs = (split * c.width / dpr - v.tx) / v.s;
        g.save(); g.beginPath(); g.rect(0, 0, Math.max(0, xs), S.H); g.clip();
        g.drawImage(S.frameCanvases[k], 0, 0); g.restore();
        g.setTransform(1, 0, 0, 1, 0, 0); g.fillStyle = "#fff"; g.fillRect(Math.round(split * c.width) - 1, 0, 1, c.height);
      }
    }
    $("zoom").textContent = `${Math.round(v.s * 100)}%`;
    $("cap-main").textContent = $("split").value > 0 ? `before: frame ${k + 1} | after: result` : "result";
    $("cap-side").textContent = `source: ${$("compare").selectedOptions[0] ? $("compare").selectedOptions[0].textContent : ""}`;
  }
  function viewSize() { const r = $("cv-main").getBoundingClientRect(); return [r.width, r.height]; }
  function fit() {
    const [w, h] = viewSize();
    let s = Math.min(w / S.W, h / S.H);
    if (s >= 1) s = Math.floor(s);  // whole zoom factors keep pixels crisp
    S.view = { s, tx: Math.round((w - S.W * s) / 2), ty: Math.round((h - S.H * s) / 2) };
    draw();
  }
  function zoomAt(s, cx, cy) {
    const v = S.view; s = Math.max(0.05, Math.min(32, s));
    S.view = { s, tx: Math.round(cx - (cx - v.tx) * s / v.s), ty: Math.round(cy - (cy - v.ty) * s / v.s) };
    draw();
  }
  function setupViews() {
    $("fit").onclick = fit;
    $("one").onclick = () => { const [w, h] = viewSize(); S.view = { s: 1, tx: Math.round((w - S.W) / 2), ty: Math.round((h - S.H) / 2) }; draw(); };
    $("zin").onclick = () => { const [w, h] = viewSize(); zoomAt(S.view.s * 2, w / 2, h / 2); };
    $("zout").onclick = () => { const [w, h] = viewSize(); zoomAt(S.view.s / 2, w / 2, h / 2); };
    ["overlay", "opacity", "split", "compare"].forEach((id) => $(id).addEventListener("input", draw));
    $("compare").addEventListener("change", draw);
    document.querySelectorAll("input[name=mode]").forEach((el) => el.addEventListener("change", () => {
      S.mode = $("mode-paint").checked ? "paint" : "pan";
      ["cv-main", "cv-side"].forEach((id) => $(id).classList.toggle("paint", S.mode === "paint"));
    }));
    $("brush").addEventListener("input", () => { $("brushval").textContent = $("brush").value; });
    $("undo").onclick = () => edit(() => S.redo.push(S.strokes.pop()));
    $("redo").onclick = () => edit(() => S.strokes.push(S.redo.pop()));
    $("reset").onclick = () => edit(() => { S.redo = S.strokes.reverse(); S.strokes = []; });
    window.addEventListener("resize", draw);
    window.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); if (e.shiftKey) { if (S.redo.length) $("redo").click(); } else if (S.strokes.length) $("undo").click(); }
    });
    for (const id of ["cv-main", "cv-side"]) {
      const c = $(id);
      let drag = null;
      const pos = (e) => { const r = c.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
      const toImage = ([x, y]) => [(x - S.view.tx) / S.view.s, (y - S.view.ty) / S.view.s];
      c.addEventListener("wheel", (e) => { e.preventDefault(); const [x, y] = pos(e); zoomAt(S.view.s * (e.deltaY < 0 ? 1.25 : 0.8), x, y); }, { passive: false });
      c.addEventListener("pointerdown", (e) => {
        c.setPointerCapture(e.pointerId);
        const p = pos(e);
        if (S.mode === "paint" && e.button === 0 && S.mapBase) {
          const s = { frame: $("paintframe").value | 0, radius: Number($("brush").value) / 2, soft: Number($("feather").value) / 100, points: [toImage(p).map((v) => Math.round(v * 100) / 100)] };
          drag = { paint: s, before: new ImageData(new Uint8ClampedArray(S.result.data), S.W, S.H) };
          previewStroke(drag);
        } else drag = { pan: p, tx: S.view.tx, ty: S.view.ty };
      });
      c.addEventListener("pointermove", (e) => {
        if (!drag) return;
        const p = pos(e);
        if (drag.pan) { S.view.tx = drag.tx + Math.round(p[0] - drag.pan[0]); S.view.ty = drag.ty + Math.round(p[1] - drag.pan[1]); draw(); return; }
        const q = toImage(p).map((v) => Math.round(v * 100) / 100), last = drag.paint.points[drag.paint.points.length - 1];
        if (Math.hypot(q[0] - last[0], q[1] - last[1]) < Math.max(1, drag.paint.radius / 4)) return;
        drag.paint.points.push(q); previewStroke(drag);
      });
      const end = () => {
        if (drag && drag.paint) { const s = drag.paint; edit(() => { S.strokes.push(s); S.redo = []; }); }
        drag = null;
      };
      c.addEventListener("pointerup", end); c.addEventListener("pointercancel", end);
    }
  }
  function previewStroke(drag) {
    S.result = new ImageData(new Uint8ClampedArray(drag.before.data), S.W, S.H);
    applyStroke(drag.paint, S.result, null);
    S.resultCanvas = canvasOf(S.result); draw();
  }

  // ---------- start ----------
  async function start() {
    setupDrop(); setupViews();
    $("run").onclick = submit;
    try { S.info = await api("/api/info"); } catch (e) { showError(`cannot reach the server: ${e.message}`); return; }
    $("version").textContent = `v${S.info.version}`;
    const sel = $("method");
    for (const m of S.info.methods) {
      const o = document.createElement("option"); o.value = m.name;
      o.textContent = m.name + (m.learned ? " (learned)" : ""); o.title = m.description; sel.appendChild(o);
    }
    sel.value = S.info.default; sel.addEventListener("change", learnedState); learnedState();
    setSync("saved");
    const m = /^#job=([0-9a-f]{32})$/.exec(location.hash);
    if (m) openJob(m[1], true);
  }
  document.addEventListener("DOMContentLoaded", start);
})();

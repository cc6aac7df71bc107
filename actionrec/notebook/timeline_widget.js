// Front end of actionrec.notebook.timeline_widget.TimelineWidget (an anywidget ES module).
//
// This file follows actionrec/export/timeline_view.js in the module the kernel sends (the same
// component as the HTML report). It adds how the video reaches the page: from Jupyter's file
// server when the kernel says the file is under the server root and the URL answers with the
// file's size, else as chunks of custom messages with binary buffers (Blob -> object URL). A
// <video> error asks the kernel for the next candidate (the annotated copy, an H.264 copy).

function jupyterConfig() {
  try {
    const el = document.getElementById("jupyter-config-data");
    return el ? JSON.parse(el.textContent) : {};
  } catch (err) {
    return {};
  }
}

function filesUrl(baseUrl, rel) {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  return `${base}files/${rel.split("/").map(encodeURIComponent).join("/")}`;
}

async function answersWithSize(url, size) {
  try {
    const r = await fetch(url, { method: "HEAD", credentials: "same-origin", cache: "no-store" });
    const length = Number(r.headers.get("content-length"));
    return r.ok && (!length || length === size);
  } catch (err) {
    return false;
  }
}

export default {
  render({ model, el }) {
    const viewId = Math.random().toString(36).slice(2);
    const cfg = jupyterConfig();
    const baseUrl = cfg.baseUrl || "/";
    const video = document.createElement("video");
    video.controls = true;
    video.playsInline = true;
    video.preload = "auto";
    video.muted = true; // the exports have no sound; muted video may start without a gesture
    video.setAttribute("aria-label", "The analysed video");
    const root = document.createElement("div");
    el.appendChild(root);
    const view = actionrecTimeline(root, video, model.get("doc"));

    const save = document.createElement("button");
    save.type = "button";
    save.className = "ar-tl-save";
    save.textContent = "Save report";
    save.setAttribute("aria-label", "Save the HTML report");
    save.title = "Write a self-contained HTML report of this timeline";
    view.bar.appendChild(save);
    const reportNote = document.createElement("span");
    reportNote.className = "ar-tl-note ar-tl-report";
    view.status.appendChild(reportNote);
    save.addEventListener("click", () => {
      reportNote.textContent = "writing the report…";
      model.send({ type: "save-report", view: viewId });
    });

    let source = null; // the kernel's last "source" message for this view
    let transfer = null; // {id, parts, received}
    let objectUrl = null;
    function play(url, how) {
      if (objectUrl && url !== objectUrl) {
        URL.revokeObjectURL(objectUrl);
        objectUrl = null;
      }
      root.dataset.videoMode = how;
      root.dataset.videoName = source.name || "";
      root.dataset.videoKind = source.kind || "";
      view.setNote(`${source.note} (${how === "files" ? "from the Jupyter file server" : "sent through the kernel"})`);
      video.src = url;
    }
    async function onSource(msg) {
      source = msg;
      transfer = null;
      if (msg.mode === "none") {
        root.dataset.videoMode = "none";
        view.setNote(msg.note);
        video.removeAttribute("src");
        return;
      }
      if (msg.mode === "files") {
        const url = filesUrl(baseUrl, msg.path);
        if (await answersWithSize(url, msg.size)) play(url, "files");
        else model.send({ type: "need-bytes", view: viewId }); // a remote kernel, or another server
        return;
      }
      transfer = { id: msg.transfer, parts: [], received: 0 };
      view.setNote(`${msg.note} (receiving through the kernel: 0 of ${(msg.size / 1048576).toFixed(1)} MB)`);
    }
    function onChunk(msg, buffers) {
      if (!transfer || msg.transfer !== transfer.id) return;
      const buf = buffers && buffers[0];
      if (buf) {
        transfer.parts.push(buf.buffer ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf);
        transfer.received += buf.byteLength;
      }
      if (!msg.last) {
        const mb = (n) => (n / 1048576).toFixed(1);
        view.setNote(`${source.note} (receiving through the kernel: ${mb(transfer.received)} of ${mb(source.size)} MB)`);
        return;
      }
      const blob = new Blob(transfer.parts, { type: source.mime });
      transfer = null;
      objectUrl = URL.createObjectURL(blob);
      play(objectUrl, "kernel");
    }
    function onReport(msg) {
      reportNote.textContent = "";
      if (msg.error) {
        reportNote.textContent = `report not written: ${msg.error}`;
        return;
      }
      if (msg.rel) {
        const a = document.createElement("a");
        a.href = filesUrl(baseUrl, msg.rel);
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = `report: ${msg.rel.split("/").pop()}`;
        a.className = "ar-tl-report-link";
        reportNote.appendChild(a);
      } else reportNote.textContent = `report written to ${msg.path}`;
      reportNote.dataset.path = msg.path;
    }
    function onMsg(msg, buffers) {
      if (!msg || (msg.view && msg.view !== viewId)) return;
      if (msg.type === "source") onSource(msg);
      else if (msg.type === "chunk") onChunk(msg, buffers);
      else if (msg.type === "status") view.setNote(msg.note);
      else if (msg.type === "report") onReport(msg);
    }
    model.on("msg:custom", onMsg);
    video.addEventListener("error", () => {
      if (!source || source.mode === "none" || !video.getAttribute("src")) return;
      const code = video.error ? video.error.code : 0;
      view.setNote(`${source.name} does not play here (media error ${code}); trying the next copy…`);
      model.send({ type: "video-error", view: viewId, attempt: source.attempt, code });
    });
    // Notebook 7 states no serverRoot: its page path (/notebooks/DIR/NB.ipynb) lets the kernel infer it
    const pagePath = decodeURIComponent(location.pathname.slice(baseUrl.length)).replace(/^(notebooks|lab\/tree|doc\/tree)\//, "");
    model.send({ type: "hello", view: viewId, server_root: cfg.serverRoot || "", page_path: pagePath, base_url: baseUrl });
    return () => {
      model.off("msg:custom", onMsg);
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  },
};

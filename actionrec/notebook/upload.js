// Front end of actionrec.notebook.upload.ChunkedUpload (an anywidget ES module).
//
// A button opens the browser's file picker; the chosen file goes to the kernel in chunk_bytes
// slices as binary buffers, each sent only after the kernel acknowledged the previous one, so a
// file of any size travels in small websocket messages (ipywidgets' FileUpload sends one message
// and fails around 10 MB). The kernel owns the state: this page shows its `state`, `message` and
// `progress`, and tells it when the browser itself fails (file unreadable, no answer).

const REPLY_TIMEOUT_MS = 60000; // per chunk; the kernel may be busy but not this long
const FINISH_TIMEOUT_MS = 300000; // the kernel decodes a frame of the finished file

function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "ar-upload";
  const row = document.createElement("div");
  row.className = "ar-upload-row";
  const input = document.createElement("input");
  input.type = "file";
  input.className = "ar-upload-input";
  input.accept = model.get("accept");
  const button = document.createElement("button");
  button.className = "ar-upload-button";
  button.textContent = model.get("description");
  const progress = document.createElement("progress");
  progress.className = "ar-upload-progress";
  progress.max = 1;
  progress.value = 0;
  const cancel = document.createElement("button");
  cancel.className = "ar-upload-cancel";
  cancel.textContent = "Cancel";
  const status = document.createElement("div");
  status.className = "ar-upload-status";
  row.append(button, input, progress, cancel);
  root.append(row, status);
  el.append(root);

  let current = null; // {id, file, cancelled}
  let waiter = null; // {id, accept(msg) -> bool, resolve, reject, timer}
  let localError = ""; // a failure the kernel may not know about (no answer at all)

  const show = () => {
    const state = model.get("state");
    const busy = current !== null;
    button.disabled = busy;
    cancel.style.display = busy ? "" : "none";
    progress.value = model.get("progress");
    progress.style.display = busy || state === "uploading" || state === "done" ? "" : "none";
    status.textContent = localError || model.get("message");
    status.dataset.state = localError ? "error" : state;
  };

  const wait = (id, accept, timeoutMs, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiter = null;
        reject(new Error(`the kernel did not answer within ${timeoutMs / 1000} s (${what}); it may be busy or restarted`));
      }, timeoutMs);
      waiter = { id, accept, resolve, reject, timer };
    });

  const onMessage = (msg) => {
    if (msg.type === "error" && current && msg.id === current.id) {
      // Kept even when nothing waits (between chunks), so the loop stops before sending more. A
      // replaced upload (another view of this widget started one) shows its own notice: the
      // kernel's `message` now describes the new upload.
      current.failed = Object.assign(new Error(msg.message), { fromKernel: true, replaced: !!msg.replaced });
    }
    if (!waiter || msg.id !== waiter.id) return;
    const w = waiter;
    if (msg.type === "error") {
      waiter = null;
      clearTimeout(w.timer);
      w.reject(Object.assign(new Error(msg.message), { fromKernel: true, replaced: !!msg.replaced }));
    } else if (w.accept(msg)) {
      waiter = null;
      clearTimeout(w.timer);
      w.resolve(msg);
    }
  };
  model.on("msg:custom", onMessage);

  async function upload(file) {
    const id = newId();
    current = { id, file, cancelled: false };
    localError = "";
    show();
    const chunkBytes = model.get("chunk_bytes");
    try {
      const ready = wait(id, (m) => m.type === "ready", REPLY_TIMEOUT_MS, "start");
      model.send({ type: "start", id, name: file.name, size: file.size, mime: file.type });
      await ready;
      for (let offset = 0, seq = 0; offset < file.size; seq++) {
        if (current.failed) throw current.failed;
        if (current.cancelled) throw Object.assign(new Error("cancelled"), { cancelled: true });
        const buffer = await file.slice(offset, offset + chunkBytes).arrayBuffer();
        const acked = wait(id, (m) => m.type === "ack" && m.seq === seq, REPLY_TIMEOUT_MS, `chunk ${seq}`);
        model.send({ type: "chunk", id, seq, offset }, undefined, [buffer]);
        await acked;
        offset += buffer.byteLength;
      }
      const done = wait(id, (m) => m.type === "done", FINISH_TIMEOUT_MS, "checking the video");
      model.send({ type: "end", id, size: file.size });
      await done;
    } catch (err) {
      if (err.replaced) {
        localError = err.message;
      } else if (err.cancelled) {
        model.send({ type: "abort", id, reason: "" });
      } else if (!err.fromKernel) {
        // The kernel does not know: tell it (it deletes the partial file) and show it here too.
        localError = `upload of ${file.name} failed: ${err.message}`;
        model.send({ type: "abort", id, reason: `${err.name}: ${err.message}` });
      }
    } finally {
      current = null;
      input.value = "";
      show();
    }
  }

  button.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    if (input.files && input.files.length) upload(input.files[0]);
  });
  cancel.addEventListener("click", () => {
    if (current) current.cancelled = true;
  });
  // A page closed or reloaded mid-upload: tell the kernel (it deletes the part file) while the
  // connection may still carry it; a kernel that never hears it sweeps the part later.
  const onPageHide = () => {
    if (current) model.send({ type: "abort", id: current.id, reason: "the page was closed or reloaded" });
  };
  window.addEventListener("pagehide", onPageHide);
  for (const name of ["state", "message", "progress"]) model.on(`change:${name}`, show);
  show();
  return () => {
    window.removeEventListener("pagehide", onPageHide);
    model.off("msg:custom", onMessage);
    if (current) current.cancelled = true;
  };
}

export default { render };

// Front end of actionrec.notebook.browser_camera.BrowserCamera (an anywidget ES module).
//
// getUserMedia -> <video> -> canvas -> JPEG blob -> model.send(msg, undefined, [buffer]).
// The kernel acks each frame; at most MAX_INFLIGHT frames are un-acked, so a busy kernel makes
// the browser skip camera frames instead of queueing them. Frames are sent only while a kernel loop
// reads them (the kernel says "pull"); the preview runs regardless. One capture per widget model,
// shared by all its views (displaying the widget twice does not open the camera twice).

const MAX_INFLIGHT = 2;
const LOST_ACK_MS = 3000; // an ack this late is lost (kernel restarted, message dropped): stop waiting
const captures = new Map(); // _camera_id -> Capture

function errorState(name) {
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "denied";
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return "no-camera";
  return "error";
}

async function cameraPermission() {
  try {
    return (await navigator.permissions.query({ name: "camera" })).state;
  } catch {
    return null; // the Permissions API does not know "camera" in every browser
  }
}

class Capture {
  constructor(model) {
    this.model = model;
    this.views = new Set();
    this.stream = null;
    this.state = "idle";
    this.detail = "";
    this.seq = 0;
    this.sent = 0;
    this.inflight = new Map(); // seq -> time sent
    this.pulling = false; // a kernel loop is reading frames
    this.video = null;
    this.canvas = document.createElement("canvas");
    this.timer = null;
    this.generation = 0; // bumped by stop(), so callbacks of an old stream do nothing
  }

  attach(view) {
    this.views.add(view);
    view.show(this);
    // A new view retries after a failure too ("allow the camera, then re-run the cell").
    if (this.state !== "starting" && this.state !== "streaming") this.start();
  }

  detach(view) {
    this.views.delete(view);
    if (this.views.size === 0 && this.state !== "idle") {
      this.stop(); // the output was cleared or the cell re-run: turn the camera off
      this.report("idle");
    }
  }

  async report(state, extra = {}) {
    this.state = state;
    this.detail = extra.error_message || "";
    for (const view of this.views) view.show(this);
    const message = {
      type: "status",
      state,
      secure_context: window.isSecureContext === true,
      has_media_devices: !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
      camera_permission: await cameraPermission(),
      origin: window.location.origin,
      ...extra,
    };
    try {
      this.model.send(message);
    } catch (err) {
      console.warn("BrowserCamera: could not report to the kernel (widget closed?)", err);
    }
  }

  async start() {
    const generation = ++this.generation;
    await this.report("starting");
    if (!window.isSecureContext || !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
      await this.report("insecure", {
        error_name: "InsecureContext",
        error_message: "navigator.mediaDevices is undefined on this page",
      });
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: {
          width: { ideal: this.model.get("width") },
          height: { ideal: this.model.get("height") },
          frameRate: { ideal: this.model.get("fps") },
        },
      });
    } catch (err) {
      if (generation === this.generation) {
        await this.report(errorState(err.name), { error_name: err.name, error_message: err.message });
      }
      return;
    }
    if (generation !== this.generation) {
      stream.getTracks().forEach((t) => t.stop()); // stopped while the browser was asking
      return;
    }
    this.stream = stream;
    this.seq = 0;
    this.sent = 0;
    this.inflight.clear();
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    this.video = video;
    try {
      await video.play();
    } catch (err) {
      this.stop();
      await this.report("error", { error_name: err.name, error_message: `video.play() failed: ${err.message}` });
      return;
    }
    const settings = stream.getVideoTracks()[0]?.getSettings() ?? {};
    await this.report("streaming", {
      track_width: settings.width ?? video.videoWidth,
      track_height: settings.height ?? video.videoHeight,
      track_fps: settings.frameRate ?? null,
    });
    for (const view of this.views) view.show(this);
    this.loop(generation);
  }

  loop(generation) {
    // One tick per new camera frame when the browser says so, else a timer at the requested rate.
    if (this.video.requestVideoFrameCallback) {
      const onFrame = () => {
        if (generation !== this.generation) return;
        this.tick();
        this.video.requestVideoFrameCallback(onFrame);
      };
      this.video.requestVideoFrameCallback(onFrame);
    } else {
      this.timer = setInterval(() => this.tick(), 1000 / Math.max(1, this.model.get("fps")));
    }
  }

  tick() {
    const video = this.video;
    if (!video || video.readyState < 2 || !video.videoWidth) return;
    const seq = this.seq++;
    if (!this.pulling) return;
    const now = performance.now();
    for (const [s, t] of this.inflight) if (now - t > LOST_ACK_MS) this.inflight.delete(s);
    if (this.inflight.size >= MAX_INFLIGHT) return; // the kernel is behind: skip this camera frame
    this.inflight.set(seq, now);
    const canvas = this.canvas;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    const quality = this.model.get("jpeg_quality") / 100;
    const generation = this.generation;
    canvas.toBlob(
      async (blob) => {
        if (!blob || generation !== this.generation) {
          this.inflight.delete(seq);
          return;
        }
        const buffer = await blob.arrayBuffer();
        this.model.send({ type: "frame", seq, width: canvas.width, height: canvas.height }, undefined, [buffer]);
        this.sent++;
      },
      "image/jpeg",
      quality,
    );
  }

  ack(seq) {
    for (const s of this.inflight.keys()) if (s <= seq) this.inflight.delete(s);
  }

  stop() {
    this.generation++;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    if (this.video) this.video.srcObject = null;
    this.video = null;
    this.inflight.clear();
  }
}

function initialize({ model }) {
  const capture = new Capture(model);
  const id = model.get("_camera_id");
  captures.set(id, capture);
  const onMessage = (msg) => {
    if (msg.type === "ack") capture.ack(msg.seq);
    else if (msg.type === "pull") {
      capture.pulling = !!msg.on;
      if (!capture.pulling) capture.inflight.clear();
    }
    else if (msg.type === "stop") {
      capture.stop();
      capture.report("idle");
    } else if (msg.type === "start" && capture.views.size > 0 && !capture.stream) capture.start();
  };
  model.on("msg:custom", onMessage);
  return () => {
    capture.stop();
    captures.delete(id);
  };
}

function render({ model, el }) {
  const capture = captures.get(model.get("_camera_id"));
  const root = document.createElement("div");
  root.className = "ar-browser-camera";
  const preview = document.createElement("video");
  preview.muted = true;
  preview.playsInline = true;
  preview.autoplay = true;
  preview.className = "ar-browser-camera-preview";
  const status = document.createElement("div");
  status.className = "ar-browser-camera-status";
  root.append(preview, status);
  el.append(root);

  const view = {
    show(cap) {
      preview.style.display = model.get("preview") && cap.stream ? "" : "none";
      if (preview.srcObject !== cap.stream) preview.srcObject = cap.stream;
      // The kernel's message (with the fix) wins once it has arrived; until then show the browser's.
      const kernelError = model.get("state") === cap.state ? model.get("error") : "";
      const message = kernelError || cap.detail;
      let text = `camera: ${cap.state}`;
      if (cap.state === "streaming" && cap.video) {
        text += ` ${cap.video.videoWidth}×${cap.video.videoHeight}, ${cap.sent} frames sent`;
        if (!cap.pulling) text += " (sending while a frame loop runs)";
      }
      if (message) text += ` — ${message}`;
      status.textContent = text;
      status.dataset.state = cap.state;
    },
  };
  const refresh = () => view.show(capture);
  model.on("change:error", refresh);
  model.on("change:state", refresh);
  model.on("change:preview", refresh);
  const timer = setInterval(refresh, 1000);
  capture.attach(view);
  return () => {
    clearInterval(timer);
    capture.detach(view);
  };
}

export default { initialize, render };

// Front end of actionrec.notebook.player.FrameView (an anywidget ES module).
//
// The kernel sends annotated frames as binary JPEG buffers ({type: "frame", seq} + [jpeg]); each is
// decoded off the main thread (createImageBitmap) and drawn onto one <canvas> per view, updated in
// place: one display area, no flicker. Drawn frames are acknowledged ({type: "ack", seq, shown}),
// cumulatively: one ack for every `ack_every` frames drawn (2), or ACK_DELAY_MS after the last one
// drawn when no other follows, so the kernel keeps at most ~2 frames un-acknowledged. Each ack is a
// message on the kernel's shell channel (the kernel answers it with busy and idle): half as many
// leave the kernel and the page more CPU for the frames. A frame not drawn (no view, an error) is
// acknowledged at once. A frame arriving while another is being decoded waits in a one-frame slot;
// a newer one replaces it (acked with shown: false), so the browser never queues a backlog.
//
// Pixels nobody sees cost nothing: when no canvas of the player is on screen (each scrolled away,
// in a hidden panel or a collapsed output: IntersectionObserver), or the browser tab is in the
// background (document.hidden), the page says so ({type: "view", in_view: false, page}) and the
// kernel neither draws, JPEG-encodes nor sends frames until it says {in_view: true}. Each page says
// its state once it knows it, then on every change; `page` tells pages apart (a reloaded page or a
// second tab on the same kernel), and the kernel draws while any of them shows the player.

const players = new Map(); // _player_id -> Player (one per widget model, shared by its views)
const ACK_DELAY_MS = 100; // the last frame drawn is acknowledged this long after, when no other comes

class Player {
  constructor(model) {
    this.model = model;
    this.canvases = new Set();
    this.busy = false;
    this.pending = null; // {seq, buffer}: the newest frame waiting for the decoder
    this.last = null; // the newest ImageBitmap, drawn into views created later
    this.drawnSinceAck = 0; // frames drawn and shown, not yet acknowledged
    this.ackTimer = null;
    this.onScreen = new Set(); // the canvases intersecting the viewport
    this.inView = null; // what the kernel was last told (null: nothing yet)
    this.pageId = Math.random().toString(36).slice(2);
    this.closed = false;
    this.observer =
      typeof IntersectionObserver === "function"
        ? new IntersectionObserver((entries) => {
            for (const e of entries) {
              if (!this.canvases.has(e.target)) continue; // queued before its view was removed
              if (e.isIntersecting) this.onScreen.add(e.target);
              else this.onScreen.delete(e.target);
            }
            this.updateView();
          })
        : null;
    this.onVisibility = () => this.updateView();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  watch(canvas) {
    this.canvases.add(canvas);
    if (this.observer) this.observer.observe(canvas);
    else this.onScreen.add(canvas); // no observer: every view counts as on screen
  }

  unwatch(canvas) {
    this.canvases.delete(canvas);
    this.onScreen.delete(canvas);
    if (this.observer) this.observer.unobserve(canvas);
    this.updateView();
  }

  updateView() {
    if (this.closed) return;
    // No view at all is not "out of view": frames are then acknowledged unshown, as before.
    const inView = this.canvases.size === 0 || (document.visibilityState !== "hidden" && this.onScreen.size > 0);
    if (inView === this.inView) return;
    this.inView = inView;
    this.model.send({ type: "view", in_view: inView, page: this.pageId });
  }

  close() {
    this.closed = true;
    if (this.observer) this.observer.disconnect();
    document.removeEventListener("visibilitychange", this.onVisibility);
  }

  ack(seq, shown, error) {
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.drawnSinceAck = 0;
    this.model.send(error ? { type: "ack", seq, shown, error } : { type: "ack", seq, shown });
  }

  drawn(seq) {
    this.drawnSinceAck += 1;
    if (this.drawnSinceAck >= Math.max(1, this.model.get("ack_every") || 1)) {
      this.ack(seq, true);
      return;
    }
    clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => this.ack(seq, true), ACK_DELAY_MS);
  }

  receive(seq, buffer) {
    if (this.busy) {
      if (this.pending) this.ack(this.pending.seq, false);
      this.pending = { seq, buffer };
      return;
    }
    this.draw(seq, buffer);
  }

  async draw(seq, buffer) {
    this.busy = true;
    try {
      const bitmap = await createImageBitmap(new Blob([buffer], { type: "image/jpeg" }));
      for (const canvas of this.canvases) paint(canvas, bitmap);
      if (this.last) this.last.close();
      this.last = bitmap;
      if (this.canvases.size > 0) this.drawn(seq);
      else this.ack(seq, false);
    } catch (err) {
      this.ack(seq, false, `${err.name}: ${err.message}`);
    }
    this.busy = false;
    if (this.pending) {
      const { seq: next, buffer: data } = this.pending;
      this.pending = null;
      this.draw(next, data);
    }
  }
}

function paint(canvas, bitmap) {
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
}

function initialize({ model }) {
  const id = model.get("_player_id");
  const player = new Player(model);
  players.set(id, player);
  const onMessage = (msg, buffers) => {
    if (msg.type === "frame" && buffers && buffers.length) player.receive(msg.seq, buffers[0]);
  };
  model.on("msg:custom", onMessage);
  return () => {
    model.off("msg:custom", onMessage);
    clearTimeout(player.ackTimer);
    player.close();
    if (player.last) player.last.close();
    players.delete(id);
  };
}

function render({ model, el }) {
  const player = players.get(model.get("_player_id"));
  const canvas = document.createElement("canvas");
  canvas.className = "ar-player-canvas";
  canvas.width = model.get("width_px");
  canvas.height = Math.round((model.get("width_px") * 9) / 16);
  canvas.style.maxWidth = `${model.get("width_px")}px`;
  el.append(canvas);
  if (!player) return () => canvas.remove();
  player.watch(canvas);
  if (player.last) paint(canvas, player.last);
  return () => {
    player.unwatch(canvas);
    canvas.remove();
  };
}

export default { initialize, render };

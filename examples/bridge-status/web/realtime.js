// Real-time bridge updates, as the seed's frontend/js/realtime.js: one WebSocket per Polygon
// address at /api/ws/{address} on Herald, reconnecting up to 10 times. Herald pushes every row
// change of the user's deposits, return intentions and Polygon transactions; after a reconnect the
// page reloads its rows from the API, so a change made while the connection was down is shown too.

const MAX_ATTEMPTS = 10;
const STATUS_LABELS = {
  pending: "Pending",
  pending_confirmation: "Pending Confirmation",
  completed: "Completed",
  failed: "Failed",
  pending_deposit: "Pending Deposit",
  deposit_detected: "Deposit Detected",
  processed: "Processed",
  confirmed: "Confirmed",
};
// Colour classes: Pending yellow, in progress blue, done green, failed red.
const STATUS_COLOURS = {
  pending: "yellow",
  pending_deposit: "yellow",
  pending_confirmation: "blue",
  deposit_detected: "blue",
  completed: "green",
  processed: "green",
  confirmed: "green",
  failed: "red",
};

export class BridgeRealtimeClient {
  constructor({ address, onUpdate, onConnection, onReconnected }) {
    this.address = address;
    this.onUpdate = onUpdate;
    this.onConnection = onConnection;
    this.onReconnected = onReconnected;
    this.attempt = 0;
    this.everConnected = false;
    this.stopped = false;
    this.socket = undefined;
    this.timer = undefined;
    window.addEventListener("beforeunload", () => this.stop());
  }

  async start() {
    const config = await (await fetch("/config.json")).json();
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:${config.heraldPort}/api/ws/${encodeURIComponent(this.address)}`;
    this.open();
  }

  open() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let fatal;
    socket.onopen = () => {
      const reconnected = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.onConnection({ state: "connected", text: "Real-time updates active" });
      if (reconnected) this.onReconnected?.();
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "ping") socket.send('{"type":"pong"}');
      else if (frame.type === "error") fatal = frame.message; // e.g. "Invalid user address"
      else if (frame.channel && frame.data) this.onUpdate(frame.type, frame.data);
    };
    socket.onclose = (event) => {
      if (this.stopped) return;
      // 4500-4999: the server says retrying cannot help (a bad address); 1000: closed on purpose.
      if (fatal || event.code >= 4500 || event.code === 1000) {
        this.onConnection({ state: "failed", text: fatal || event.reason || "Real-time updates disconnected" });
        return;
      }
      this.reconnect();
    };
  }

  reconnect() {
    if (this.attempt >= MAX_ATTEMPTS) {
      this.onConnection({ state: "disconnected", text: "Real-time updates disconnected" });
      return;
    }
    this.attempt += 1;
    this.onConnection({ state: "reconnecting", text: `Reconnecting... (${this.attempt}/${MAX_ATTEMPTS})` });
    const delay = Math.min(500 * 2 ** (this.attempt - 1), 5000);
    this.timer = setTimeout(() => this.open(), delay);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "page closed");
    this.onConnection({ state: "disconnected", text: "Real-time updates disconnected" });
  }
}

export class BridgeUIUpdater {
  constructor(indicator) {
    this.indicator = indicator;
  }

  showConnection({ state, text }) {
    this.indicator.dataset.state = state;
    this.indicator.querySelector(".text").textContent = text;
  }

  static showStatus(element, status) {
    element.textContent = STATUS_LABELS[status] ?? status;
    element.className = `status status-${STATUS_COLOURS[status] ?? "grey"}`;
    element.dataset.status = status;
  }
}

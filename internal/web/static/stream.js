// The live side of the API: one WebSocket to /api/v1/stream that reconnects by
// itself with exponential backoff and jitter, resuming with ?after=<last id> so
// the server replays whatever was missed while the socket was down.

const MIN_DELAY = 500;
const MAX_DELAY = 30000;
const OPEN_TIMEOUT = 15000;

export class Stream {
  /**
   * @param {object} o
   * @param {() => string} o.lastId  id of the newest message seen ('' if none)
   * @param {(ev: object) => void} o.onEvent  called per server frame
   * @param {(state: string, info: object) => void} o.onState  connecting|live|reconnecting|stopped
   * @param {() => Promise<boolean>} o.beforeConnect  false: stop (signed out); throws: retry later
   */
  constructor(o) {
    this.o = o;
    this.ws = null;
    this.timer = 0;
    this.attempt = 0;
    this.everLive = false;
    this.reconnects = 0;
    this.stopped = true;
    this.state = 'connecting';
  }

  start() {
    this.stopped = false;
    this.setState('connecting');
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onerror = ws.onmessage = ws.onopen = null;
      try { ws.close(1000, 'bye'); } catch { /* already closed */ }
    }
    this.setState('stopped');
  }

  get live() { return this.state === 'live'; }

  /** retryNow skips the remaining backoff, e.g. when the browser comes back online. */
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.connect();
  }

  setState(s) {
    this.state = s;
    this.o.onState(s, { reconnects: this.reconnects, attempt: this.attempt });
  }

  async connect() {
    this.timer = 0;
    if (this.stopped || this.ws) return;
    try {
      if (!(await this.o.beforeConnect())) { this.stop(); return; }
    } catch {
      this.schedule();
      return;
    }
    if (this.stopped || this.ws) return;
    const after = this.o.lastId();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/api/v1/stream${after ? `?after=${encodeURIComponent(after)}` : ''}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    const openTimer = setTimeout(() => { if (ws.readyState === WebSocket.CONNECTING) ws.close(); }, OPEN_TIMEOUT);
    ws.onopen = () => {
      clearTimeout(openTimer);
      this.attempt = 0;
      if (this.everLive) this.reconnects++;
      this.everLive = true;
      this.setState('live');
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      if (ev && typeof ev === 'object') this.o.onEvent(ev);
    };
    ws.onerror = () => { /* a close event follows */ };
    ws.onclose = () => {
      clearTimeout(openTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.setState(this.everLive ? 'reconnecting' : 'connecting');
      this.schedule();
    };
  }

  schedule() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    // Full jitter between half and all of the exponential step, so a server
    // restart is not met by every client at the same instant.
    const step = Math.min(MAX_DELAY, MIN_DELAY * 2 ** Math.min(this.attempt, 10));
    const delay = step / 2 + Math.random() * (step / 2);
    this.attempt++;
    if (this.state !== 'reconnecting' && this.everLive) this.setState('reconnecting');
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

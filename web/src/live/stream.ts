// The SSE client. EventSource cannot send an Authorization header, so each
// connection first asks POST /api/stream/ticket for a short-lived single-use
// ticket. A ticket cannot be reused, so the browser's own reconnect (same URL)
// would fail: on any error we close the EventSource, fetch a new ticket and
// open a new one, with backoff. The last seen event id is passed as
// `last_event_id` so the server can resume; after a reconnect the owner is told
// (onReconnect) so it can refetch whatever may have been missed.

export type StreamStatus = 'idle' | 'connecting' | 'open' | 'retrying' | 'stopped';

export interface EventSourceLike {
  addEventListener(type: string, fn: (ev: MessageEvent) => void): void;
  close(): void;
  onopen: ((ev: Event) => void) | null;
  onerror: ((ev: Event) => void) | null;
}

export interface LiveStreamOptions {
  getTicket: () => Promise<string>;
  onMessage: (type: string, data: unknown) => void;
  onStatus?: (s: StreamStatus) => void;
  onReconnect?: () => void;
  url?: string;
  eventTypes?: string[];
  createEventSource?: (url: string) => EventSourceLike;
  minDelayMs?: number;
  maxDelayMs?: number;
}

export const LIVE_EVENT_TYPES = ['job', 'connection', 'event', 'health', 'refetch'];

export class LiveStream {
  private opts: LiveStreamOptions;
  private es: EventSourceLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private opened = false;
  private stopped = true;
  lastEventId: string | null = null;
  status: StreamStatus = 'idle';

  constructor(opts: LiveStreamOptions) {
    this.opts = opts;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.es?.close();
    this.es = null;
    this.setStatus('stopped');
  }

  private setStatus(s: StreamStatus): void {
    this.status = s;
    this.opts.onStatus?.(s);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'retrying');
    let ticket: string;
    try {
      ticket = await this.opts.getTicket();
    } catch {
      this.scheduleRetry();
      return;
    }
    if (this.stopped) return;
    const base = this.opts.url ?? '/api/stream';
    let url = `${base}?ticket=${encodeURIComponent(ticket)}`;
    if (this.lastEventId) url += `&last_event_id=${encodeURIComponent(this.lastEventId)}`;
    const make = this.opts.createEventSource ?? ((u: string) => new EventSource(u) as unknown as EventSourceLike);
    const es = make(url);
    this.es = es;
    es.onopen = () => {
      const wasReconnect = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.setStatus('open');
      if (wasReconnect) this.opts.onReconnect?.();
    };
    es.onerror = () => {
      if (this.es !== es) return;
      es.close();
      this.es = null;
      this.scheduleRetry();
    };
    // The server ends the stream after these (slow consumer, or stopping):
    // reconnect at once for `dropped` (replaying from the last id), with the
    // usual backoff for `shutdown` (the server needs time to come back).
    for (const type of ['dropped', 'shutdown']) {
      es.addEventListener(type, () => {
        if (this.es !== es) return;
        es.close();
        this.es = null;
        if (type === 'dropped') this.attempt = 0;
        this.scheduleRetry();
      });
    }
    for (const type of this.opts.eventTypes ?? LIVE_EVENT_TYPES) {
      es.addEventListener(type, (ev: MessageEvent) => {
        if (ev.lastEventId) this.lastEventId = ev.lastEventId;
        let data: unknown = null;
        try {
          data = typeof ev.data === 'string' && ev.data !== '' ? JSON.parse(ev.data) : null;
        } catch {
          return;
        }
        this.opts.onMessage(type, data);
      });
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.setStatus('retrying');
    const min = this.opts.minDelayMs ?? 1000;
    const max = this.opts.maxDelayMs ?? 30000;
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }
}

import { type Kysely, sql } from "kysely";
import type { Database } from "./db/schema.js";
import { logSince } from "./reads.js";

export interface StreamEvent {
  readonly logId: number;
  readonly type: string;
  readonly data: unknown;
}

/** Where a subscriber's events go: an SSE response, in the node. */
export interface StreamSink {
  /** Writes events in order; false when the connection's buffer is full. */
  write(events: readonly StreamEvent[]): boolean;
  /** Resolves once the buffer has drained, or the connection has closed. */
  drained(): Promise<void>;
  /** Bytes waiting in the connection's buffer. */
  buffered(): number;
  /** Ends the connection at once: the subscriber fell too far behind. */
  drop(): void;
}

export interface StreamOptions {
  /** Most events read from the database at once for one catching-up subscriber. */
  readonly pageSize: number;
  /** A subscriber whose buffer stays full this long (ms) is dropped; it resumes by id. */
  readonly stallMs: number;
  /** Most open subscribers in this process. */
  readonly maxSubscribers: number;
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = Object.freeze({
  pageSize: 200,
  stallMs: 30_000,
  maxSubscribers: 1000,
});

/** Counters for /metrics and tests: how the stream bounded its work. */
export interface StreamStats {
  /** Pages read from the database for catching-up subscribers. */
  pagesRead: number;
  /** The most events one such page held. */
  largestPage: number;
  /** The most bytes seen waiting in one connection's buffer after a write. */
  largestBuffer: number;
  /** Subscribers dropped for falling behind. */
  dropped: number;
}

/** Events read at once for the live fan-out. */
const LIVE_PAGE = 500;

class Subscription {
  /** The log id of the last event handed to the sink (or skipped as invisible). */
  cursor: number;
  /** Takes events from the shared live read; otherwise it pages from the database. */
  live = false;
  closed = false;

  constructor(
    readonly sink: StreamSink,
    cursor: number,
  ) {
    this.cursor = cursor;
  }
}

/**
 * Fans the log out to live subscribers. Any commit, in this process or another one on
 * the same PostgreSQL (through LISTEN/NOTIFY), wakes it; it then reads what is new from
 * the database once and hands it to every subscriber that keeps up.
 *
 * A subscriber that resumes from an older log id, or whose connection's buffer fills,
 * leaves the shared read and pages through the database on its own, one bounded page at
 * a time and only when its buffer has drained, until it has caught up; then it rejoins.
 * So the node holds at most one page per subscriber, whatever the backlog. A subscriber
 * whose buffer stays full for `stallMs` is dropped; it resumes with `Last-Event-ID`.
 */
export class StreamHub {
  readonly #subscribers = new Set<Subscription>();
  readonly #options: StreamOptions;
  readonly stats: StreamStats = { pagesRead: 0, largestPage: 0, largestBuffer: 0, dropped: 0 };
  #lastSeen = 0;
  #reading: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    options: Partial<StreamOptions> = {},
  ) {
    this.#options = { ...DEFAULT_STREAM_OPTIONS, ...options };
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Whether another subscriber would exceed `maxSubscribers`. */
  get full(): boolean {
    return this.#subscribers.size >= this.#options.maxSubscribers;
  }

  /** Starts from the newest log id, so only what arrives from now on is pushed. */
  async start(): Promise<void> {
    this.#lastSeen = await this.head();
  }

  /** The newest log id stored, by any process on this database (0 for an empty log). */
  async head(): Promise<number> {
    const { rows } = await sql<{ m: number | null }>`
      SELECT greatest((SELECT max(log_id) FROM actions), (SELECT max(log_id) FROM grants),
        (SELECT max(log_id) FROM revocations), (SELECT max(log_id) FROM equivocations)) AS m`.execute(
      this.db,
    );
    return Number(rows[0]?.m ?? 0);
  }

  /**
   * A resume point no later than the newest stored log id: a client cannot skip events
   * not yet written by naming a log id from the future (it would never see them).
   */
  async clamp(afterLogId: number): Promise<number> {
    if (afterLogId <= this.#lastSeen) return afterLogId;
    return Math.min(afterLogId, Math.max(this.#lastSeen, await this.head()));
  }

  /** Something was committed up to `logId` (here or in another process). */
  notify(logId?: number): void {
    if (this.#closed) return;
    if (logId !== undefined && logId <= this.#lastSeen) return;
    // Nobody takes the shared read: note how far the log goes instead of reading it back.
    // Log ids grow in commit order, and a catching-up subscriber reads the database anyway.
    if (logId !== undefined && this.#reading === null && !this.#anyLive()) {
      this.#lastSeen = logId;
      return;
    }
    if (this.#reading !== null) {
      this.#again = true;
      return;
    }
    this.#reading = this.#read().finally(() => {
      this.#reading = null;
      if (this.#again) {
        this.#again = false;
        this.notify();
      }
    });
  }

  /** Stops reading; waits for a read in flight, so storage can close after it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#again = false;
    for (const s of this.#subscribers) s.closed = true;
    await this.#reading?.catch(() => {});
  }

  #anyLive(): boolean {
    for (const s of this.#subscribers) if (s.live) return true;
    return false;
  }

  async #read(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const events = await logSince(this.db, this.#lastSeen, LIVE_PAGE);
      if (events.length === 0) return;
      const last = (events[events.length - 1] as StreamEvent).logId;
      // The new head and its delivery happen together: a subscriber rejoining the shared
      // read compares the head before and after its own page (see #catchUp).
      this.#lastSeen = last;
      for (const s of this.#subscribers) {
        if (!s.live || s.closed) continue;
        const first = (events[0] as StreamEvent).logId;
        const fresh = first > s.cursor ? events : events.filter((e) => e.logId > s.cursor);
        s.cursor = Math.max(s.cursor, last);
        if (fresh.length > 0 && !this.#write(s, fresh)) {
          // Its buffer is full: it leaves the shared read until it has drained.
          s.live = false;
          void this.#catchUp(s, true);
        }
      }
      if (events.length < LIVE_PAGE) return;
    }
  }

  #write(s: Subscription, events: readonly StreamEvent[]): boolean {
    const ok = s.sink.write(events);
    const buffered = s.sink.buffered();
    if (buffered > this.stats.largestBuffer) this.stats.largestBuffer = buffered;
    return ok;
  }

  /** The newest log id this hub has seen. */
  async latest(): Promise<number> {
    return this.#lastSeen;
  }

  /**
   * Subscribes from just after `afterLogId`: pages the backlog from the database, then
   * joins the live fan-out. Undefined when `maxSubscribers` are open already.
   */
  subscribe(afterLogId: number, sink: StreamSink): (() => void) | undefined {
    if (this.#closed || this.full) return undefined;
    const s = new Subscription(sink, afterLogId);
    this.#subscribers.add(s);
    void this.#catchUp(s, false);
    return () => {
      s.closed = true;
      this.#subscribers.delete(s);
    };
  }

  /** Waits for the buffer to drain; drops the subscriber if it stays full too long. */
  async #drained(s: Subscription): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = await Promise.race([
      s.sink.drained().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.#options.stallMs);
      }),
    ]);
    clearTimeout(timer);
    if (s.closed) return false;
    if (stalled) {
      this.stats.dropped++;
      s.closed = true;
      this.#subscribers.delete(s);
      s.sink.drop();
      return false;
    }
    return true;
  }

  async #catchUp(s: Subscription, waitFirst: boolean): Promise<void> {
    const { pageSize } = this.#options;
    try {
      if (waitFirst && !(await this.#drained(s))) return;
      for (;;) {
        if (s.closed || this.#closed) return;
        const head = this.#lastSeen;
        const page = await logSince(this.db, s.cursor, pageSize);
        if (s.closed || this.#closed) return;
        this.stats.pagesRead++;
        if (page.length > this.stats.largestPage) this.stats.largestPage = page.length;
        if (page.length > 0) {
          s.cursor = (page[page.length - 1] as StreamEvent).logId;
          if (!this.#write(s, page)) {
            if (!(await this.#drained(s))) return;
            continue;
          }
          if (page.length === pageSize) continue;
        }
        // A short page: the database holds nothing visible after the cursor up to `head`
        // (what the shared read had delivered before this page was read).
        if (s.cursor < head) s.cursor = head;
        // Nothing delivered meanwhile: rejoin the shared read, in the same turn.
        if (this.#lastSeen === head) {
          s.live = true;
          return;
        }
      }
    } catch {
      // Storage failed (or is closing): end the connection; the client resumes by id.
      if (!s.closed) {
        s.closed = true;
        this.#subscribers.delete(s);
        s.sink.drop();
      }
    }
  }
}

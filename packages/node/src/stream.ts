import { type Kysely, sql } from "kysely";
import type { Database } from "./db/schema.js";
import { logSince } from "./reads.js";

export interface StreamEvent {
  readonly logId: number;
  readonly type: string;
  readonly data: unknown;
}

type Subscriber = (events: readonly StreamEvent[]) => void;

/**
 * Fans the log out to live subscribers. Any commit, in this process or another one on
 * the same PostgreSQL (through LISTEN/NOTIFY), wakes it; it then reads what is new from
 * the database once and hands it to every subscriber. Subscribers resume from a log id.
 */
export class StreamHub {
  readonly #subscribers = new Set<Subscriber>();
  #lastSeen = 0;
  #reading: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(private readonly db: Kysely<Database>) {}

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Starts from the newest log id, so only what arrives from now on is pushed. */
  async start(): Promise<void> {
    const { rows } = await sql<{ m: number | null }>`
      SELECT greatest((SELECT max(log_id) FROM actions), (SELECT max(log_id) FROM grants),
        (SELECT max(log_id) FROM revocations), (SELECT max(log_id) FROM equivocations)) AS m`.execute(
      this.db,
    );
    this.#lastSeen = Number(rows[0]?.m ?? 0);
  }

  /** Something was committed up to `logId` (here or in another process). */
  notify(logId?: number): void {
    if (this.#closed) return;
    if (logId !== undefined && logId <= this.#lastSeen) return;
    // Nobody listens: note how far the log goes instead of reading it back. Log ids grow
    // in commit order, and a new subscriber reads its backlog from the database anyway.
    if (logId !== undefined && this.#subscribers.size === 0 && this.#reading === null) {
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
    await this.#reading?.catch(() => {});
  }

  async #read(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const events = await logSince(this.db, this.#lastSeen, 500);
      if (events.length === 0) return;
      this.#lastSeen = (events[events.length - 1] as StreamEvent).logId;
      for (const s of this.#subscribers) s(events);
      if (events.length < 500) return;
    }
  }

  /** The newest log id this hub has seen. */
  async latest(): Promise<number> {
    return this.#lastSeen;
  }

  /** Replays everything after `afterLogId` (bounded), then pushes live events. */
  async subscribe(afterLogId: number, send: Subscriber): Promise<() => void> {
    let cursor = afterLogId;
    const forward: Subscriber = (events) => {
      const fresh = events.filter((e) => e.logId > cursor);
      if (fresh.length === 0) return;
      cursor = (fresh[fresh.length - 1] as StreamEvent).logId;
      send(fresh);
    };
    const buffered: StreamEvent[][] = [];
    const early: Subscriber = (events) => void buffered.push([...events]);
    this.#subscribers.add(early);
    try {
      if (afterLogId < this.#lastSeen) {
        for (;;) {
          const backlog = await logSince(this.db, cursor, 1000);
          forward(backlog);
          if (backlog.length < 1000) break;
        }
      }
    } finally {
      this.#subscribers.delete(early);
    }
    for (const events of buffered) forward(events);
    this.#subscribers.add(forward);
    return () => {
      this.#subscribers.delete(forward);
    };
  }
}

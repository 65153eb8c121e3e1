/**
 * The embedded chain's journal: an append-only file of JSON lines under the node's data
 * directory. Every accepted transaction is one line carrying its wire bytes, what an RPC
 * reports of it, and the state of every account it may have written; replaying the lines
 * rebuilds the chain (same genesis, faucet, mint, balances and history). Lines are written
 * in groups, each group followed by one `fdatasync`, and a transaction is reported as sent
 * or confirmed only once its line is on disk.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";

export const JOURNAL_FILE = "journal.jsonl";

/** An account as the journal keeps it. `l` 0 means the account is gone (closed). */
export interface JournalAccount {
  readonly a: string;
  readonly l: string;
  readonly o: string;
  /** Data, base64. */
  readonly d: string;
  readonly x: boolean;
}

export interface JournalTokenBalance {
  readonly i: number;
  readonly m: string;
  readonly o: string | null;
  readonly n: string;
  readonly d: number;
}

export type JournalEntry =
  | {
      readonly t: "genesis";
      readonly v: 1;
      readonly genesisHash: string;
      /** The faucet's 32-byte private key, base64 (a demo key: the file is mode 0600). */
      readonly faucetSeed: string;
      readonly faucet: JournalAccount;
    }
  | { readonly t: "demoMint"; readonly address: string; readonly decimals: number }
  | { readonly t: "warp"; readonly ms: number; readonly slot: string; readonly bh: string }
  /** A compacted journal's last entry: the state of every account ever written, now. */
  | {
      readonly t: "state";
      readonly ms: number;
      readonly slot: string;
      readonly hashes: readonly (readonly [string, string])[];
      readonly accounts: readonly JournalAccount[];
    }
  | {
      readonly t: "tx";
      readonly sig: string;
      /** The signed wire transaction, base64. */
      readonly wire: string;
      readonly slot: string;
      readonly time: number;
      readonly fee: string;
      readonly lw: readonly string[];
      readonly lr: readonly string[];
      readonly pre: readonly string[];
      readonly post: readonly string[];
      readonly preTok: readonly JournalTokenBalance[];
      readonly postTok: readonly JournalTokenBalance[];
      readonly logs: readonly string[];
      readonly cu: string;
      readonly err: unknown;
      /** The blockhash the chain rolled to after it ("" in a compacted journal). */
      readonly bh: string;
      /** Accounts the transaction could write, as they were after it (none once compacted). */
      readonly accounts: readonly JournalAccount[];
    };

/** Reads every complete entry; a torn last line (a crash mid-write) is cut off the file. */
export function readJournal(dir: string): JournalEntry[] {
  const path = join(dir, JOURNAL_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const entries: JournalEntry[] = [];
  let offset = 0;
  while (offset < text.length) {
    const end = text.indexOf("\n", offset);
    if (end === -1) break; // no newline: the line was never completely written
    entries.push(JSON.parse(text.slice(offset, end)) as JournalEntry);
    offset = end + 1;
  }
  if (offset < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, offset)));
  return entries;
}

/**
 * Replaces the journal with `entries`, atomically: written to a temporary file, synced,
 * renamed over the journal, and the directory synced. A crash leaves the old or the new.
 */
export function writeJournal(dir: string, entries: readonly JournalEntry[]): void {
  const path = join(dir, JOURNAL_FILE);
  const temporary = `${path}.compacting`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    writeFileSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Appends entries in groups: one write and one fdatasync per group. */
export class Journal {
  readonly #handle: FileHandle;
  #queue: string[] = [];
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #writing: Promise<void> | null = null;
  #failed: unknown = null;
  /** Groups written and their fsync count, for measurements. */
  syncs = 0;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  static async open(dir: string): Promise<Journal> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const handle = await open(join(dir, JOURNAL_FILE), "a", 0o600);
    // The file's directory entry must be durable too, once.
    const dirFd = openSync(dir, "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return new Journal(handle);
  }

  /** Whether a write failed: nothing more can be made durable. */
  get failed(): boolean {
    return this.#failed !== null;
  }

  /** Queues one entry; resolves once it is on disk. */
  append(entry: JournalEntry): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    this.#queue.push(`${JSON.stringify(entry)}\n`);
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#writing === null) this.#writing = this.#drain();
    return done;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const lines = this.#queue;
      const waiters = this.#waiters;
      this.#queue = [];
      this.#waiters = [];
      try {
        await this.#handle.write(lines.join(""));
        await this.#handle.datasync();
        this.syncs++;
        for (const w of waiters) w.resolve();
      } catch (e) {
        // A journal that failed once cannot say what is on disk: refuse everything after.
        this.#failed = e;
        for (const w of [...waiters, ...this.#waiters]) w.reject(e);
        this.#queue = [];
        this.#waiters = [];
      }
    }
    this.#writing = null;
  }

  /** Waits for what is queued, then closes the file. */
  async close(): Promise<void> {
    while (this.#writing !== null) await this.#writing;
    await this.#handle.close();
  }
}

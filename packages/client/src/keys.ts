import type {
  EncryptionPublicKey,
  GrantId,
  Scope,
  SessionPublicKey,
  SignedAction,
} from "@sesame/protocol";

/**
 * A session's two keys, seen only through what they can do. No implementation hands out
 * private key bytes: in browsers they are non-extractable WebCrypto keys; in Node they
 * live encrypted on disk and in memory only while the process runs.
 */
export interface SessionKeys {
  readonly sessionKey: SessionPublicKey;
  readonly encryptionKey: EncryptionPublicKey;
  /** Ed25519 signature by the session key. */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** X25519 shared secret between the session's encryption key and `publicKey`. */
  agree(publicKey: Uint8Array): Promise<Uint8Array>;
}

/** What a client remembers about one session besides its keys. */
export interface SessionRecord {
  /** Store-local handle of the keys. */
  readonly keyId: string;
  readonly grantId: GrantId;
  readonly wallet: string;
  readonly text: string;
  readonly signature: string;
  readonly transaction: string | null;
  readonly expirationTime: number;
  /** The next session sequence number to use. */
  readonly nextSeq: number;
  /** The next ordinal to use, per scope. */
  readonly nextOrd: Readonly<Partial<Record<Scope, number>>>;
  /** Actions signed but not yet acknowledged by a node, oldest first. */
  readonly outbox: readonly SignedAction[];
  /** Set when this device revoked the session (its keys are destroyed then). */
  readonly revokedAt?: number | null;
  /**
   * Sessions this one replaced (renewal, new session) that are still live on the nodes:
   * their keys are kept only to read direct messages sent to them, and are destroyed when
   * they expire or are revoked (docs/PROTOCOL.md §6.6). Absent in older records.
   */
  readonly retired?: readonly RetiredSession[];
}

/** A replaced session whose keys stay on the device until it ends, for reading only. */
export interface RetiredSession {
  readonly keyId: string;
  readonly grantId: GrantId;
  readonly expirationTime: number;
}

/** The highest numbers a node has accepted for a session (what `raise` lifts counters above). */
export interface CounterFloor {
  readonly maxSeq: number;
  readonly maxOrd: Readonly<Partial<Record<Scope, number>>>;
}

/**
 * Where a client keeps session keys and records. `reserve` is the crash-safety rule:
 * the counters are durably advanced BEFORE anything is signed with them, so a crash can
 * only skip numbers, never reuse one (reuse would be an equivocation that kills the
 * session on every node).
 */
export interface SessionStore {
  generateKeys(): Promise<{ readonly keyId: string; readonly keys: SessionKeys }>;
  loadKeys(keyId: string): Promise<SessionKeys | undefined>;
  /** Destroys the keys for good: what was encrypted to them can no longer be read. */
  destroyKeys(keyId: string): Promise<void>;

  getRecord(slot: string): Promise<SessionRecord | undefined>;
  putRecord(slot: string, record: SessionRecord): Promise<void>;
  deleteRecord(slot: string): Promise<void>;
  listSlots(): Promise<string[]>;

  /** Durably takes the next sequence number and the next ordinal of `scope`. */
  reserve(slot: string, scope: Scope): Promise<{ readonly seq: number; readonly ord: number }>;
  /** Durably appends to / removes from the record's outbox. */
  enqueue(slot: string, action: SignedAction): Promise<void>;
  dequeue(slot: string, actionSignature: string): Promise<void>;
  /**
   * Durably lifts the record's counters above what a node has already accepted for
   * `grantId` (a keystore restored from a backup would otherwise reuse numbers); never
   * lowers them. Does nothing when the slot now holds another session.
   */
  raise(slot: string, grantId: GrantId, floor: CounterFloor): Promise<SessionRecord | undefined>;
  /** Durably drops replaced sessions (whose keys were destroyed) from the record. */
  forgetRetired(slot: string, keyIds: readonly string[]): Promise<void>;
  /**
   * Atomically puts a new session in an occupied slot, keeping the outbox as it is at
   * that moment (actions queued while the wallet was being asked are not lost).
   */
  replaceSession(slot: string, next: SessionRecord): Promise<SessionRecord>;
}

/** Advances a record's counters (pure). */
export function advance(
  record: SessionRecord,
  scope: Scope,
): { record: SessionRecord; seq: number; ord: number } {
  const seq = record.nextSeq;
  const ord = record.nextOrd[scope] ?? 1;
  return {
    record: { ...record, nextSeq: seq + 1, nextOrd: { ...record.nextOrd, [scope]: ord + 1 } },
    seq,
    ord,
  };
}

/** Lifts counters above a node's floor (pure); the same record when nothing changes. */
export function raiseCounters(record: SessionRecord, floor: CounterFloor): SessionRecord {
  let changed = false;
  const nextSeq = Math.max(record.nextSeq, floor.maxSeq + 1);
  if (nextSeq !== record.nextSeq) changed = true;
  const nextOrd: Partial<Record<Scope, number>> = { ...record.nextOrd };
  for (const [scope, max] of Object.entries(floor.maxOrd) as [Scope, number][]) {
    if (!Number.isSafeInteger(max)) continue;
    if ((nextOrd[scope] ?? 1) <= max) {
      nextOrd[scope] = max + 1;
      changed = true;
    }
  }
  return changed ? { ...record, nextSeq, nextOrd } : record;
}

/** A store's one atomic read-modify-write of a slot's record (throws if the slot is empty). */
export type RecordUpdate = (slot: string, change: (r: SessionRecord) => SessionRecord) => unknown;

/**
 * The counter and outbox operations of a SessionStore, written once over the store's
 * atomic update: every store gets the same crash-safety rule from the same code.
 */
export function recordOperations(
  update: RecordUpdate,
): Pick<
  SessionStore,
  "reserve" | "enqueue" | "dequeue" | "raise" | "forgetRetired" | "replaceSession"
> {
  return {
    async reserve(slot, scope) {
      let taken = { seq: 0, ord: 0 };
      await update(slot, (r) => {
        const a = advance(r, scope);
        taken = { seq: a.seq, ord: a.ord };
        return a.record;
      });
      return taken;
    },
    async enqueue(slot, action) {
      await update(slot, (r) => ({ ...r, outbox: [...r.outbox, action] }));
    },
    async dequeue(slot, actionSignature) {
      await update(slot, (r) => ({
        ...r,
        outbox: r.outbox.filter((a) => a.signature !== actionSignature),
      }));
    },
    async raise(slot, grantId, floor) {
      let after: SessionRecord | undefined;
      await update(slot, (r) => {
        after = r.grantId === grantId ? raiseCounters(r, floor) : r;
        return after;
      });
      return after;
    },
    async replaceSession(slot, next) {
      let merged = next;
      await update(slot, (r) => {
        merged = { ...next, outbox: [...r.outbox] };
        return merged;
      });
      return merged;
    },
    async forgetRetired(slot, keyIds) {
      await update(slot, (r) => ({
        ...r,
        retired: (r.retired ?? []).filter((x) => !keyIds.includes(x.keyId)),
      }));
    },
  };
}

/**
 * The counter and outbox operations every store shares (`recordOperations`), over the
 * store's own atomic update: a store extends this and implements `updateRecord`.
 */
export abstract class RecordOperationsStore
  implements
    Pick<
      SessionStore,
      "reserve" | "enqueue" | "dequeue" | "raise" | "forgetRetired" | "replaceSession"
    >
{
  /** Applies `change` to the record in `slot` atomically, durably before it settles. */
  protected abstract updateRecord(
    slot: string,
    change: (r: SessionRecord) => SessionRecord,
  ): unknown;

  readonly #ops = recordOperations((slot, change) => this.updateRecord(slot, change));

  reserve(slot: string, scope: Scope): Promise<{ seq: number; ord: number }> {
    return this.#ops.reserve(slot, scope);
  }

  enqueue(slot: string, action: SignedAction): Promise<void> {
    return this.#ops.enqueue(slot, action);
  }

  dequeue(slot: string, actionSignature: string): Promise<void> {
    return this.#ops.dequeue(slot, actionSignature);
  }

  raise(slot: string, grantId: GrantId, floor: CounterFloor): Promise<SessionRecord | undefined> {
    return this.#ops.raise(slot, grantId, floor);
  }

  forgetRetired(slot: string, keyIds: readonly string[]): Promise<void> {
    return this.#ops.forgetRetired(slot, keyIds);
  }

  replaceSession(slot: string, next: SessionRecord): Promise<SessionRecord> {
    return this.#ops.replaceSession(slot, next);
  }
}

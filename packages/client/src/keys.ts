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

/** A store's one atomic read-modify-write of a slot's record (throws if the slot is empty). */
export type RecordUpdate = (slot: string, change: (r: SessionRecord) => SessionRecord) => unknown;

/**
 * The counter and outbox operations of a SessionStore, written once over the store's
 * atomic update: every store gets the same crash-safety rule from the same code.
 */
export function recordOperations(
  update: RecordUpdate,
): Pick<SessionStore, "reserve" | "enqueue" | "dequeue"> {
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
  };
}

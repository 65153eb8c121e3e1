/**
 * The one piece of cryptography the protocol needs injected: Ed25519 verification.
 * A backend only runs the group equation; the strict rule around it (canonical S,
 * canonical and not small-order public keys) is applied by `verifyEd25519Strict`, so
 * every backend accepts exactly the same signatures.
 */
export interface Ed25519Backend {
  readonly name: string;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** Backends that can verify synchronously offer this; hot paths use it to skip a promise. */
  readonly verifySync?: (
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ) => boolean;
  /** A native SHA-256 where the runtime has one (ids are hashed on the ingest hot path). */
  readonly sha256?: (data: Uint8Array) => Uint8Array;
}

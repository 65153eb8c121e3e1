/**
 * Errors the client raises itself, beside the protocol's numbered ones (`ProtocolError`,
 * re-exported here so an app imports one place). The protocol's codes are what a node
 * answers; these are what only a client can know: no wallet to sign with, an answer that
 * did not come from a Sesame node. Each has a stable `reason` an app can switch on.
 */
import { ErrorCode, isProtocolError, ProtocolError } from "@sesame/protocol";

export { ErrorCode, isProtocolError, ProtocolError };

export interface ClientErrorContextMap {
  /** This step needs a wallet signature and no wallet is connected (or it is unreadable). */
  readonly WALLET_REQUIRED: { readonly step: string };
  /** The wallet connected is not the session's wallet. */
  readonly WRONG_WALLET: { readonly expected: string; readonly actual: string };
  /** `renew()` with no live session on this device. */
  readonly NOTHING_TO_RENEW: Record<string, never>;
  /**
   * An HTTP answer without a Sesame error body (a proxy, a load balancer): `status` says
   * what it was; `transient` whether the action stays queued and is retried.
   */
  readonly HTTP_STATUS: {
    readonly status: number;
    readonly transient: boolean;
    readonly retryAfterMs: number | null;
  };
  /**
   * A node's answer that does not verify: a signature, a grant, a revocation or a field
   * that disagrees with what was signed. `what` names the answer, `id` the item (or ""),
   * `problem` what failed. The answer is refused as a whole; nothing of it is used.
   */
  readonly FORGED_READ: { readonly what: string; readonly id: string; readonly problem: string };
  /** The keystore passphrase is wrong, or the keystore file was altered. */
  readonly KEYSTORE_PASSPHRASE: { readonly path: string };
}

export type ClientErrorReason = keyof ClientErrorContextMap;

const MESSAGES: { readonly [R in ClientErrorReason]: (c: ClientErrorContextMap[R]) => string } = {
  WALLET_REQUIRED: (c) => `connect the wallet first: ${c.step} needs its signature`,
  WRONG_WALLET: (c) => `this wallet (${c.actual}) is not the session's wallet (${c.expected})`,
  NOTHING_TO_RENEW: () => "no live session on this device to renew: start one",
  HTTP_STATUS: (c) =>
    c.status === 413
      ? "HTTP 413: something between this client and the node refuses requests this large; the action cannot be delivered through it"
      : `HTTP ${c.status} without a Sesame error body (a proxy or gateway answered)${c.transient ? "; kept queued and retried" : ""}`,
  FORGED_READ: (c) =>
    `the node's answer (${c.what}${c.id === "" ? "" : ` ${c.id}`}) does not verify: ${c.problem}`,
  KEYSTORE_PASSPHRASE: (c) =>
    `the keystore passphrase is wrong, or the keystore ${c.path} was altered`,
};

export class SesameClientError<R extends ClientErrorReason = ClientErrorReason> extends Error {
  /** The stable reason an app switches on (the same string as `code`). */
  readonly reason: R;
  readonly context: ClientErrorContextMap[R];

  constructor(reason: R, context: ClientErrorContextMap[R]) {
    super(MESSAGES[reason](context as never));
    this.name = reason;
    this.reason = reason;
    this.context = Object.freeze({ ...context }) as ClientErrorContextMap[R];
  }
}

export function isClientError<R extends ClientErrorReason>(
  e: unknown,
  reason?: R,
): e is SesameClientError<R> {
  return e instanceof SesameClientError && (reason === undefined || e.reason === reason);
}

/**
 * Refusals that say "later", not "never": the action stays queued and is retried with
 * backoff. A node's own 6003/6004/6007/6008/6009, a node's per-action OVER_RATE (4003: valid,
 * accepted once the hour allows), and non-Sesame 408/429/5xx answers. Everything else a
 * node refuses is final for that action; a non-Sesame 413 is final too (it cannot pass).
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof SesameClientError) return e.reason === "HTTP_STATUS" && e.context.transient;
  return (
    e instanceof ProtocolError &&
    (e.code === ErrorCode.TOO_MANY_REQUESTS ||
      e.code === ErrorCode.REQUEST_TIMEOUT ||
      // The node may or may not have stored it: resending the same signed action tells.
      e.code === ErrorCode.WRITE_OUTCOME_UNKNOWN ||
      e.code === ErrorCode.INTERNAL ||
      e.code === ErrorCode.UNAVAILABLE ||
      e.code === ErrorCode.OVER_RATE)
  );
}

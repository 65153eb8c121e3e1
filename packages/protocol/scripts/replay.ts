/**
 * How a test vector is run: the one definition shared by the generator (which refuses to
 * write a vector whose real outcome differs from the one written down) and by the replay
 * test (which reads the committed JSON back from disk). Another implementation follows
 * the same steps, described in test-vectors/README.md.
 */
import {
  type ActionId,
  applyAction,
  applyRevocation,
  decodeSignedRequest,
  type Ed25519Backend,
  type EquivocationProof,
  ErrorCode,
  type ErrorName,
  errorName,
  fromHex,
  initialSessionState,
  isProtocolError,
  type PolicyOptions,
  revocationCovers,
  revokeForEquivocation,
  SCOPE_OF_KIND,
  type SessionState,
  type SignedGrant,
  type SignedRevocation,
  type VerifiedGrant,
  type VerifyContext,
  verifyAction,
  verifyEd25519Strict,
  verifyEquivocation,
  verifyGrant,
  verifyRevocation,
  verifySignedRequest,
} from "../src/index.js";

/** The verifier's side of every vector file: where it runs and its clock. */
export interface VectorContext {
  readonly chain: string;
  readonly network: string;
  readonly domains: readonly string[];
  readonly maxLifetimeMs: number;
  readonly memoPrograms: readonly string[];
  /** The verifier's clock (ms since 1970) where a check needs one. */
  readonly now: number;
  readonly maxFutureSkewMs: number;
  readonly lateGraceMs: number;
}

export function verifyContextOf(ctx: VectorContext): VerifyContext {
  return {
    chain: ctx.chain,
    network: ctx.network,
    domains: ctx.domains,
    maxLifetimeMs: ctx.maxLifetimeMs,
    memoPrograms: ctx.memoPrograms,
  };
}

export function policyOptionsOf(ctx: VectorContext): PolicyOptions {
  return { maxFutureSkewMs: ctx.maxFutureSkewMs, lateGraceMs: ctx.lateGraceMs };
}

/** A grant as it travels: its text and the wallet's signature (or transaction). */
export type GrantInput = SignedGrant;

export type Expected =
  | { readonly outcome: "accepted" }
  | { readonly outcome: "duplicate" }
  | { readonly outcome: "error"; readonly code: number; readonly name: ErrorName };

/** An action received by a node at `receivedAt` (node clock). */
export interface ActionStep {
  readonly op: "action";
  readonly receivedAt: number;
  /** The wire form `{payload, signature}`. */
  readonly action: unknown;
  readonly expected: Expected;
}

/** A wallet-signed revocation received by the node; applied when it covers the session. */
export interface RevocationStep {
  readonly op: "revocation";
  readonly receivedAt: number;
  readonly revocation: SignedRevocation;
  readonly expected: { readonly covers: boolean };
}

export type PolicyStep = ActionStep | RevocationStep;
export type StepResult = Expected | { readonly covers: boolean };

export function expectedError(code: ErrorCode): Expected {
  return { outcome: "error", code, name: errorName(code) };
}

/**
 * Runs steps through the policy engine the way a node does, from `initialSessionState`:
 *  - an action is verified (`verifyAction`); a verification error is the step's outcome;
 *  - the store is the accepted actions, looked up by sequence number and by
 *    (scope, ordinal) to give `applyAction` its collisions;
 *  - an accepted action is stored; a duplicate changes nothing;
 *  - on EQUIVOCATION the session is revoked (`revokeForEquivocation` at receipt time)
 *    and the conflicting action is not stored;
 *  - a revocation is verified, and applied (`applyRevocation`) when `revocationCovers`.
 */
export async function runPolicySteps(
  grant: VerifiedGrant,
  steps: readonly PolicyStep[],
  ctx: VectorContext,
  backend: Ed25519Backend,
): Promise<{ results: StepResult[]; state: SessionState }> {
  let state = initialSessionState(grant.id);
  const bySequence = new Map<number, ActionId>();
  const byOrdinal = new Map<string, ActionId>();
  const results: StepResult[] = [];
  for (const step of steps) {
    if (step.op === "revocation") {
      const verified = await verifyRevocation(step.revocation, ctx, backend);
      const covers = revocationCovers(verified.revocation, grant.grant, grant.id);
      if (covers) state = applyRevocation(state, verified.revocation, step.receivedAt);
      results.push({ covers });
      continue;
    }
    let action: Awaited<ReturnType<typeof verifyAction>>;
    try {
      action = await verifyAction(step.action, grant, backend);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      results.push(expectedError(e.code));
      continue;
    }
    const p = action.payload;
    const ordinalKey = `${SCOPE_OF_KIND[p.kind]}:${p.ord}`;
    const collisions = {
      bySequence: bySequence.get(p.seq) ?? null,
      byOrdinal: byOrdinal.get(ordinalKey) ?? null,
    };
    const r = applyAction(
      state,
      grant.grant,
      action,
      step.receivedAt,
      collisions,
      policyOptionsOf(ctx),
    );
    if (r.ok) {
      state = r.value.state;
      if (r.value.duplicate) results.push({ outcome: "duplicate" });
      else {
        bySequence.set(p.seq, action.id);
        byOrdinal.set(ordinalKey, action.id);
        results.push({ outcome: "accepted" });
      }
    } else {
      if (r.error.code === ErrorCode.EQUIVOCATION)
        state = revokeForEquivocation(state, step.receivedAt);
      results.push(expectedError(r.error.code));
    }
  }
  return { results, state };
}

/** A file of invalid cases; action, equivocation, request and policy cases name a grant. */
export interface InvalidFile {
  readonly context: VectorContext;
  readonly grants: Readonly<Record<string, GrantInput>>;
  readonly cases: readonly InvalidCase[];
}

interface CaseBase {
  readonly name: string;
  readonly description: string;
  readonly expectedCode: number;
  readonly expectedName: string;
}

export type InvalidCase = CaseBase &
  (
    | { readonly kind: "grant"; readonly grant: unknown }
    | {
        readonly kind: "action";
        readonly grant: string;
        /** The action as JSON, or `actionJson`: its exact wire text, for what JSON files cannot hold. */
        readonly action?: unknown;
        readonly actionJson?: string;
      }
    | { readonly kind: "revocation"; readonly revocation: unknown }
    | { readonly kind: "equivocation"; readonly grant: string; readonly proof: unknown }
    | {
        readonly kind: "request";
        readonly grant: string;
        readonly request: unknown;
        readonly expected: { readonly method: string; readonly path: string; readonly now: number };
      }
    | { readonly kind: "policy"; readonly grant: string; readonly steps: readonly PolicyStep[] }
  );

/** Verifies a grant the vector relies on; its failure is a broken vector, not an outcome. */
export async function verifyNamedGrant(
  file: Pick<InvalidFile, "grants" | "context">,
  name: string,
  backend: Ed25519Backend,
): Promise<VerifiedGrant> {
  const input = file.grants[name];
  if (input === undefined) throw new Error(`the vector names an unknown grant ${name}`);
  try {
    return await verifyGrant(input, verifyContextOf(file.context), backend);
  } catch (e) {
    throw new Error(`grant ${name} of the vectors does not verify: ${String(e)}`);
  }
}

function sameResult(a: StepResult, b: StepResult): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Runs one invalid case and returns the code of the ProtocolError it ends with, or null
 * when it is (wrongly) accepted. Anything but a ProtocolError propagates.
 */
export async function runInvalidCase(
  c: InvalidCase,
  file: InvalidFile,
  backend: Ed25519Backend,
): Promise<number | null> {
  const ctx = file.context;
  if (c.kind === "policy") {
    const grant = await verifyNamedGrant(file, c.grant, backend);
    const { results } = await runPolicySteps(grant, c.steps, ctx, backend);
    // Every step before the last must go as recorded: the case is about the last one.
    for (let i = 0; i < c.steps.length - 1; i++) {
      const step = c.steps[i] as PolicyStep;
      if (!sameResult(results[i] as StepResult, step.expected)) {
        throw new Error(`${c.name}: setup step ${i} gave ${JSON.stringify(results[i])}`);
      }
    }
    const last = results[results.length - 1];
    return last !== undefined && "outcome" in last && last.outcome === "error" ? last.code : null;
  }
  try {
    switch (c.kind) {
      case "grant":
        await verifyGrant(c.grant as SignedGrant, verifyContextOf(ctx), backend);
        break;
      case "action": {
        const action = c.actionJson === undefined ? c.action : JSON.parse(c.actionJson);
        await verifyAction(action, await verifyNamedGrant(file, c.grant, backend), backend);
        break;
      }
      case "revocation":
        await verifyRevocation(c.revocation as SignedRevocation, ctx, backend);
        break;
      case "equivocation":
        await verifyEquivocation(
          c.proof as EquivocationProof,
          await verifyNamedGrant(file, c.grant, backend),
          backend,
        );
        break;
      case "request": {
        const grant = await verifyNamedGrant(file, c.grant, backend);
        await verifySignedRequest(decodeSignedRequest(c.request), c.expected, grant, backend);
        break;
      }
    }
  } catch (e) {
    if (isProtocolError(e)) return e.code;
    throw e;
  }
  return null;
}

/** A raw case of the pinned Ed25519 rule. */
export interface Ed25519Case {
  readonly name: string;
  readonly description: string;
  readonly publicKeyHex: string;
  readonly messageHex: string;
  readonly signatureHex: string;
  readonly expected: { readonly outcome: "valid" } | Expected;
}

/** Runs `verifyEd25519Strict`: `valid`, or the error it refuses with. */
export async function runEd25519Case(
  c: Ed25519Case,
  backend: Ed25519Backend,
): Promise<Ed25519Case["expected"]> {
  try {
    await verifyEd25519Strict(
      backend,
      fromHex(c.publicKeyHex),
      fromHex(c.messageHex),
      fromHex(c.signatureHex),
      "vector",
    );
    return { outcome: "valid" };
  } catch (e) {
    if (isProtocolError(e)) return expectedError(e.code);
    throw e;
  }
}

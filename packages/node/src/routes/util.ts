import { ErrorCode, isProtocolError, ProtocolError } from "@sesame/protocol";
import type { NodeContext } from "../context.js";

/** Two requests racing to insert the same row: the loser retries and sees the winner's row. */
export async function retryOnConflict<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if ((e as { code?: unknown }).code === "23505") return await run();
    throw e;
  }
}

/** Counts a refusal by code, then rethrows it for the error handler. */
export function countRefusal(ctx: NodeContext, e: unknown): never {
  if (isProtocolError(e))
    ctx.metrics.inc("sesame_messages_refused_total", { code: String(e.code) });
  throw e;
}

/** A write body must be a JSON object; anything else is refused before any other work. */
export function objectBody<T>(body: unknown, shape: string, keys: readonly string[]): T {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, { field: "body", reason: `must be ${shape}` });
  }
  // As for actions: a field the node does not know is refused, not silently dropped.
  for (const key of Object.keys(body)) {
    if (!keys.includes(key)) {
      throw new ProtocolError(ErrorCode.UNKNOWN_FIELD, { field: key.slice(0, 64) });
    }
  }
  return body as T;
}

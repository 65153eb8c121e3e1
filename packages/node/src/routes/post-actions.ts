import {
  decodeSignedAction,
  ErrorCode,
  httpStatus,
  isProtocolError,
  ProtocolError,
} from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import type { ItemResult, SubmitTicket } from "../ingest.js";
import { ActionsBody, ErrorBody, ItemResult as ItemResultSchema } from "../schemas.js";
import type { App } from "../server.js";

export const MAX_BATCH = 100;

function count(ctx: NodeContext, results: readonly ItemResult[], items: readonly unknown[]): void {
  results.forEach((r, i) => {
    if (r.ok) {
      if (!r.duplicate) {
        const kind = (items[i] as { payload: { kind: string } }).payload.kind;
        ctx.metrics.inc("sesame_messages_accepted_total", { kind });
      }
    } else ctx.metrics.inc("sesame_messages_refused_total", { code: String(r.error.code) });
  });
}

export function postActions(app: App, ctx: NodeContext): void {
  app.post(
    "/v1/actions",
    {
      attachValidation: true,
      schema: {
        summary: "Submit one session-signed action, or a batch of up to 100 with a result per item",
        description:
          "One action: 201 when stored, 200 when it was stored before (the same answer), else the error. A batch `{actions: [...]}`: 200 with `results`, one per item, in order. Answers come only after the commit.",
        body: ActionsBody,
        response: {
          200: Type.Union([
            ItemResultSchema,
            Type.Object({ results: Type.Array(ItemResultSchema) }),
          ]),
          201: ItemResultSchema,
          "4xx": ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const body = req.body as unknown;
      const ticket: SubmitTicket = { committing: false };
      const timeoutMs = ctx.config.requestTimeoutMs;
      // Queued actions are withdrawn at the deadline (certainly not stored: 6004); once any
      // is in a commit, the outcome is the commit's and the answer cannot wait for it (6009).
      req.onDeadline = () =>
        ticket.committing
          ? new ProtocolError(ErrorCode.WRITE_OUTCOME_UNKNOWN, { timeoutMs })
          : new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs });
      const options = { signal: req.deadline ?? undefined, ticket, timeoutMs };
      if (isBatch(body)) {
        const items = body.actions;
        // Items of the wrong shape are answered here, without touching storage.
        const results: (ItemResult | undefined)[] = items.map((item) => shapeRefusal(item));
        const good = items.filter((_, i) => results[i] === undefined);
        const stored = good.length > 0 ? await ctx.ingest.submit(good, options) : [];
        let next = 0;
        const all = results.map((r) => r ?? (stored[next++] as ItemResult));
        count(ctx, all, items);
        if (reply.sent) return reply;
        return reply.status(200).send({ results: all });
      }
      const refused = shapeRefusal(body);
      if (refused !== undefined && !refused.ok) {
        count(ctx, [refused], [body]);
        return reply.status(httpStatus(refused.error.code)).send(refused.error);
      }
      const [result] = (await ctx.ingest.submit([body], options)) as [ItemResult];
      count(ctx, [result], [body]);
      if (reply.sent) return reply;
      if (result.ok) return reply.status(result.duplicate ? 200 : 201).send(result);
      return reply.status(httpStatus(result.error.code)).send(result.error);
    },
  );
}

const BATCH_KEYS = new Set(["actions"]);
const GRANT_ID = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;

/** `{actions: [...]}` with 1..MAX_BATCH items, or a refusal; anything else is one action. */
function isBatch(body: unknown): body is { actions: unknown[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "body",
      reason: "must be an action {payload, signature} or a batch {actions: [...]}",
    });
  }
  if (!("actions" in body)) return false;
  for (const key of Object.keys(body))
    if (!BATCH_KEYS.has(key)) throw new ProtocolError(ErrorCode.UNKNOWN_FIELD, { field: key });
  const items = (body as { actions: unknown }).actions;
  if (!Array.isArray(items)) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "actions",
      reason: "must be an array",
    });
  }
  if (items.length === 0) {
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "actions",
      reason: `must hold 1 to ${MAX_BATCH} actions`,
    });
  }
  if (items.length > MAX_BATCH) {
    throw new ProtocolError(ErrorCode.BATCH_TOO_LARGE, { max: MAX_BATCH, actual: items.length });
  }
  return true;
}

/**
 * The envelope of an action checked without storage: an object `{payload, signature}`
 * whose payload names a well-formed grant id. Cheap for the common, well-formed item;
 * a bad one gets the protocol decoder's precise refusal.
 */
function shapeRefusal(item: unknown): ItemResult | undefined {
  if (
    typeof item === "object" &&
    item !== null &&
    !Array.isArray(item) &&
    typeof (item as { signature?: unknown }).signature === "string"
  ) {
    const payload = (item as { payload?: unknown }).payload;
    if (typeof payload === "object" && payload !== null && !Array.isArray(payload)) {
      const grant = (payload as { grant?: unknown }).grant;
      if (typeof grant === "string" && GRANT_ID.test(grant)) return undefined;
      if (grant === undefined) {
        return {
          ok: false,
          error: new ProtocolError(ErrorCode.INVALID_FIELD, {
            field: "payload.grant",
            reason: "is missing",
          }).toJSON(),
        };
      }
    }
  }
  try {
    decodeSignedAction(item);
  } catch (e) {
    if (isProtocolError(e)) return { ok: false, error: e.toJSON() };
    throw e;
  }
  return {
    ok: false,
    error: new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "action",
      reason: "must be an object {payload, signature}",
    }).toJSON(),
  };
}

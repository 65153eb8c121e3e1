import { ErrorCode, httpStatus, ProtocolError } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import type { ItemResult } from "../ingest.js";
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
      if (typeof body === "object" && body !== null && "actions" in body) {
        const items = (body as { actions: unknown }).actions;
        if (!Array.isArray(items)) {
          throw new ProtocolError(ErrorCode.INVALID_FIELD, {
            field: "actions",
            reason: "must be an array",
          });
        }
        if (items.length > MAX_BATCH) {
          throw new ProtocolError(ErrorCode.BATCH_TOO_LARGE, {
            max: MAX_BATCH,
            actual: items.length,
          });
        }
        const results = await ctx.ingest.submit(items);
        count(ctx, results, items);
        return reply.status(200).send({ results });
      }
      const [result] = (await ctx.ingest.submit([body])) as [ItemResult];
      count(ctx, [result], [body]);
      if (result.ok) return reply.status(result.duplicate ? 200 : 201).send(result);
      return reply.status(httpStatus(result.error.code)).send(result.error);
    },
  );
}

import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import { INSTANCE_HEADER } from "../federation.js";
import type { App } from "../server.js";
import { readSyncPage, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT } from "../sync-log.js";

export function getSync(app: App, ctx: NodeContext): void {
  app.get(
    "/v1/sync",
    {
      schema: {
        summary: "This node's log after a cursor, for peers (federation)",
        description:
          "Grants, actions, revocations and equivocation proofs in this node's log order, each as the signed message: `{items: [{logId, type, id, message}], next, head}`. Resume with `after=next`; the page is complete up to `next` (docs/PROTOCOL.md §13). Nothing served is to be trusted: a peer verifies every message itself.",
        querystring: Type.Object({
          after: Type.Optional(
            Type.String({ pattern: "^[0-9]{1,16}$", description: "`next` of the previous page" }),
          ),
          limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: SYNC_MAX_LIMIT, default: SYNC_DEFAULT_LIMIT }),
          ),
        }),
      },
    },
    async (req, reply) => {
      const after = Number(req.query.after ?? "0");
      const page = await readSyncPage(ctx.storage.db, after, req.query.limit ?? SYNC_DEFAULT_LIMIT);
      if (ctx.federation !== undefined) reply.header(INSTANCE_HEADER, ctx.federation.instance);
      return reply.header("content-type", "application/json; charset=utf-8").send(page.json);
    },
  );
}

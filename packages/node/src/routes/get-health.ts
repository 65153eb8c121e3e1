import { Type } from "@sinclair/typebox";
import { sql } from "kysely";
import type { NodeContext } from "../context.js";
import type { App } from "../server.js";

export function getHealth(app: App, ctx: NodeContext): void {
  app.get(
    "/health",
    {
      config: { rateLimit: false },
      schema: {
        summary: "Liveness and database reachability",
        response: {
          200: Type.Object({
            status: Type.Literal("ok"),
            engine: Type.String(),
            network: Type.String(),
            chain: Type.String(),
          }),
          503: Type.Object({ status: Type.Literal("unavailable"), reason: Type.String() }),
        },
      },
    },
    async (_req, reply) => {
      try {
        await sql`SELECT 1`.execute(ctx.storage.db);
      } catch (e) {
        return reply
          .status(503)
          .send({ status: "unavailable", reason: String((e as Error).message) });
      }
      return {
        status: "ok" as const,
        engine: ctx.storage.engine,
        network: ctx.config.verify.network,
        chain: ctx.config.verify.chain,
      };
    },
  );
}

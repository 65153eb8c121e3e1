import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import type { App } from "../server.js";
import type { StreamEvent } from "../stream.js";

const HEARTBEAT_MS = 15_000;

export function getStream(app: App, ctx: NodeContext): void {
  // An open stream never finishes by itself: end them all when the server closes, or
  // close() would wait for every subscriber to hang up.
  const open = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const end of open) end();
  });
  app.get(
    "/v1/stream",
    {
      schema: {
        summary:
          "Server-sent events of everything accepted (actions, grants, revocations, equivocations)",
        description:
          "Each event's `id` is its log id and its `event` the type. Reconnect with `Last-Event-ID` (or `?after=`) to resume exactly after the last event seen.",
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }),
      },
    },
    async (req, reply) => {
      const header = req.headers["last-event-id"];
      const fromHeader =
        typeof header === "string" && /^[0-9]{1,16}$/.test(header) ? Number(header) : undefined;
      const after = fromHeader ?? req.query.after ?? Number.MAX_SAFE_INTEGER;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      res.write(": sesame stream\n\n");
      const send = (events: readonly StreamEvent[]) => {
        let chunk = "";
        for (const e of events)
          chunk += `id: ${e.logId}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
        res.write(chunk);
      };
      // No cursor: live events only (start from the newest log id).
      const start = after === Number.MAX_SAFE_INTEGER ? await ctx.stream.latest() : after;
      const unsubscribe = await ctx.stream.subscribe(start, send);
      const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
      const end = () => {
        open.delete(end);
        clearInterval(heartbeat);
        unsubscribe();
        res.end();
      };
      open.add(end);
      req.raw.on("close", end);
    },
  );
}

import { ErrorCode, ProtocolError } from "@sesame/protocol";
import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import type { App } from "../server.js";
import type { StreamSink } from "../stream.js";

const HEARTBEAT_MS = 15_000;
/** What the stream asks a client to wait before reconnecting, ms. */
const RETRY_MS = 1000;

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
      config: { deadline: false },
      schema: {
        summary:
          "Server-sent events of everything accepted (actions, grants, revocations, equivocations)",
        description:
          "Each event's `id` is its log id and its `event` the type. Reconnect with `Last-Event-ID` (or `?after=`) to resume exactly after the last event seen: 1 to 16 decimal digits (anything else is refused with 1002; an empty one counts as absent); a log id beyond the newest is clamped to it. A revocation event's `hidden` lists the actions it hid (compromised since T): remove them. A reader that stays too far behind is disconnected and resumes by `Last-Event-ID`.",
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }),
      },
    },
    async (req, reply) => {
      // HEAD (added by Fastify for every GET): the headers, not an endless body.
      if (req.method === "HEAD")
        return reply.header("content-type", "text/event-stream; charset=utf-8").send();
      // An empty Last-Event-ID counts as absent (an EventSource that saw no id sends none);
      // anything but 1–16 decimal digits is refused rather than silently replaced.
      const header = req.headers["last-event-id"];
      let fromHeader: number | undefined;
      if (typeof header === "string" && header !== "") {
        if (!/^[0-9]{1,16}$/.test(header)) {
          throw new ProtocolError(ErrorCode.INVALID_FIELD, {
            field: "headers.last-event-id",
            reason: "must be a log id: 1 to 16 decimal digits",
          });
        }
        fromHeader = Number(header);
      }
      const requested = fromHeader ?? req.query.after;
      if (ctx.stream.full) {
        throw new ProtocolError(ErrorCode.UNAVAILABLE, {
          reason: "this node serves as many stream subscribers as it can; retry later",
        });
      }
      // No cursor: live events only (start from the newest log id).
      // A log id beyond the newest one stored resumes from the newest one.
      const start =
        requested === undefined ? await ctx.stream.latest() : await ctx.stream.clamp(requested);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      // `retry:` tells an EventSource how long to wait before it reconnects (with
      // Last-Event-ID) when this node ends the stream, e.g. after dropping a slow reader.
      res.write(`retry: ${RETRY_MS}\n: sesame stream\n\n`);
      const sink: StreamSink = {
        write(events) {
          let chunk = "";
          for (const e of events)
            chunk += `id: ${e.logId}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
          return res.write(chunk);
        },
        drained: () =>
          new Promise<void>((resolve) => {
            if (!res.writableNeedDrain || res.destroyed) return resolve();
            const done = () => {
              res.off("drain", done);
              res.off("close", done);
              resolve();
            };
            res.on("drain", done);
            res.on("close", done);
          }),
        buffered: () => res.writableLength,
        drop: () => res.destroy(),
      };
      const unsubscribe = ctx.stream.subscribe(start, sink);
      if (unsubscribe === undefined) {
        res.destroy();
        return;
      }
      const heartbeat = setInterval(() => {
        if (!res.writableNeedDrain) res.write(": keep-alive\n\n");
      }, HEARTBEAT_MS);
      const end = () => {
        open.delete(end);
        clearInterval(heartbeat);
        unsubscribe();
        res.end();
      };
      open.add(end);
      res.on("close", end);
    },
  );
}

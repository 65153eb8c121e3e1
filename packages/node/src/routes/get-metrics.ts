import { Type } from "@sinclair/typebox";
import type { NodeContext } from "../context.js";
import type { App } from "../server.js";

export function getMetrics(app: App, ctx: NodeContext): void {
  app.get(
    "/metrics",
    {
      config: { rateLimit: false },
      schema: {
        summary: "Prometheus metrics",
        description:
          "Prometheus text format 0.0.4: `sesame_messages_accepted_total` by kind, `sesame_messages_refused_total` by code, and latency histograms (`sesame_http_request_duration_seconds` by route and method, among others). Never rate limited.",
        response: {
          200: {
            description: "Prometheus text",
            content: { "text/plain": { schema: Type.String() } },
          },
        },
      },
    },
    async (_req, reply) => reply.type("text/plain; version=0.0.4").send(ctx.metrics.render()),
  );
}

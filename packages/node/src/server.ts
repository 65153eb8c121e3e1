import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { maxHeaderSize, STATUS_CODES } from "node:http";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { ErrorCode, isProtocolError, ProtocolError } from "@sesame/protocol";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import type { NodeContext } from "./context.js";
import { LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS } from "./db/connect.js";
import { runWithStatementDeadline } from "./db/deadline.js";
import { routes } from "./routes/index.js";
import { SHARED_SCHEMAS } from "./schemas.js";

export type App = FastifyInstance<
  import("node:http").Server,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  import("fastify").FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module "fastify" {
  interface FastifyRequest {
    /** Aborted when the request's handler deadline (`requestTimeoutMs`) passes. */
    deadline: AbortSignal | null;
    /** The refusal a route answers when its deadline passes (default: by method). */
    onDeadline: (() => ProtocolError) | null;
  }
  interface FastifyContextConfig {
    /** `false` for a route that may run longer than the handler deadline (the stream). */
    deadline?: boolean;
  }
}

export interface ServerOptions {
  readonly logger?: boolean;
}

/** Builds the HTTP API around a context. Listening is the caller's. */
export async function buildServer(ctx: NodeContext, options: ServerOptions = {}): Promise<App> {
  const receiveTimeoutMs = Math.max(ctx.config.requestTimeoutMs, 1000);
  const idleTimeoutMs = Math.max(ctx.config.requestTimeoutMs, 60_000);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: ctx.config.bodyLimit,
    // Socket-level limits: a request must arrive within the deadline, and a socket may be
    // idle at most a minute (the stream sends a heartbeat more often than that).
    requestTimeout: receiveTimeoutMs,
    connectionTimeout: idleTimeoutMs,
    // An idle keep-alive socket is closed by the node after this, and the node says so
    // (`Keep-Alive: timeout=N`); Node's HTTP clients then drop it a second earlier. It must
    // stay below the idle limit above: a socket the node drops for idleness while it still
    // advertises a longer keep-alive is one a client may reuse at that very moment (the
    // request then fails with ECONNRESET: 3 of 176,547 in a 10-minute soak before this).
    keepAliveTimeout: idleTimeoutMs - 5_000,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
    genReqId: () => randomUUID(),
    clientErrorHandler: (error, socket) => writeClientError(error, socket, ctx),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  // Fastify's JSON parser decodes bytes leniently (U+FFFD for invalid UTF-8); signed
  // messages must be refused as malformed instead, before anything is verified.
  const parseJson = app.getDefaultJsonParser("error", "error");
  const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    let text: string;
    try {
      text = strictUtf8.decode(body as Buffer);
    } catch {
      done(new ProtocolError(ErrorCode.MALFORMED_JSON, { reason: "the body is not valid UTF-8" }));
      return;
    }
    parseJson(req, text, done);
  });
  // Every write takes JSON only: a text/plain body is refused before any handler runs.
  app.removeContentTypeParser("text/plain");
  ctx.metrics.describe(
    "sesame_read_statements_skipped_total",
    "SQL statements of reads not sent because the request's deadline had passed",
  );
  ctx.metrics.inc("sesame_read_statements_skipped_total", {}, 0);
  const skipped = () => ctx.metrics.inc("sesame_read_statements_skipped_total");
  app.decorateRequest("deadline", null);
  app.decorateRequest("onDeadline", null);
  app.addHook("onRoute", (route) => {
    if (route.config?.deadline === false) return;
    const handler = route.handler as (this: unknown, ...args: unknown[]) => unknown;
    route.handler = function (this: unknown, req, reply) {
      return withDeadline(
        ctx.config.requestTimeoutMs,
        req,
        () => handler.call(this, req, reply),
        skipped,
      );
    } as typeof route.handler;
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Sesame node API",
        version: "1",
        description:
          "Session keys for decentralized social media on Solana. Every refusal is an ErrorBody with a stable numeric code (docs/PROTOCOL.md).",
      },
    },
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) =>
        (json.$id as string | undefined) ?? `def-${i}`,
    },
  });
  // Per IP and per process (the counters live in this process's memory): several
  // processes behind one address multiply the allowance. Routes opt out by their config
  // (`rateLimit: false`: /health and /metrics), not by URL. 0 turns it off.
  if (ctx.config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: ctx.config.rateLimitPerMinute,
      timeWindow: 60_000,
      errorResponseBuilder: (_req, context) => {
        const e = new ProtocolError(ErrorCode.TOO_MANY_REQUESTS, { retryAfterMs: context.ttl });
        return Object.assign(new Error(e.message), { statusCode: 429, protocol: e });
      },
    });
  }

  app.addHook("onResponse", async (req, reply) => {
    ctx.metrics.observe(
      "sesame_http_request_duration_seconds",
      { route: req.routeOptions.url ?? "unmatched", method: req.method },
      reply.elapsedTime / 1000,
    );
  });

  app.setNotFoundHandler((req, reply) => {
    const e = new ProtocolError(ErrorCode.NOT_FOUND, {
      what: `${req.method} ${req.url.split("?")[0]}`,
    });
    void reply.status(e.status).send(e.toJSON());
  });

  app.setErrorHandler((error: FastifyError & { protocol?: ProtocolError }, req, reply) => {
    const e = toProtocolError(error, ctx);
    if (e.code === ErrorCode.INTERNAL) req.log.error({ err: error }, "internal error");
    ctx.metrics.inc("sesame_http_errors_total", { code: String(e.code) });
    void reply.status(e.status).send(e.toJSON());
  });

  routes(app, ctx);
  return app;
}

/**
 * Errors Node's HTTP parser meets before Fastify routes anything (oversized headers, a
 * timeout, bytes that are not HTTP) get a coded ErrorBody too, not Fastify's uncoded one.
 */
function writeClientError(
  error: Error & { code?: string },
  socket: import("node:net").Socket,
  ctx: NodeContext,
): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, e] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, new ProtocolError(ErrorCode.PAYLOAD_TOO_LARGE, { maxBytes: maxHeaderSize })]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [
            408,
            new ProtocolError(ErrorCode.REQUEST_TIMEOUT, {
              timeoutMs: ctx.config.requestTimeoutMs,
            }),
          ]
        : [
            400,
            new ProtocolError(ErrorCode.INVALID_FIELD, {
              field: "request",
              reason: "not a valid HTTP/1.1 request",
            }),
          ];
  const body = JSON.stringify(e.toJSON());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * Runs a handler against the request's deadline. When it passes, the request's signal is
 * aborted (a route may withdraw work not yet started) and the answer is the route's
 * `onDeadline` refusal, or by method: 6004 for a read (nothing changed), 6009 for a write
 * (it may still commit; resending the same signed message is safe). The handler's own
 * result, if it comes later, is dropped.
 */
async function withDeadline(
  ms: number,
  req: import("fastify").FastifyRequest,
  run: () => unknown,
  onSkip: () => void,
): Promise<unknown> {
  const controller = new AbortController();
  // Each queued action of a batch listens for the deadline (up to 100): not a leak.
  setMaxListeners(0, controller.signal);
  req.deadline = controller.signal;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(
        req.onDeadline?.() ??
          (req.method === "GET" || req.method === "HEAD"
            ? new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs: ms })
            : new ProtocolError(ErrorCode.WRITE_OUTCOME_UNKNOWN, { timeoutMs: ms })),
      );
    }, ms);
  });
  // A read's statements after the deadline are not sent (db/deadline.ts); a write's are,
  // since its transaction or group commit may serve other requests too.
  const work =
    req.method === "GET" || req.method === "HEAD"
      ? runWithStatementDeadline({ signal: controller.signal, timeoutMs: ms, onSkip }, () =>
          Promise.resolve().then(run),
        )
      : Promise.resolve().then(run);
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    work.catch(() => {});
  }
}

/** `querystring` + `/limit` → `query.limit`; `body` + `/a/0` → `a.0`. */
function fieldOf(context: string | undefined, path: string, missing?: unknown): string {
  const parts = path.split("/").filter((p) => p !== "");
  if (typeof missing === "string") parts.push(missing);
  const prefix =
    context === "querystring"
      ? "query"
      : context === "params"
        ? "params"
        : context === "headers"
          ? "headers"
          : undefined;
  if (parts.length === 0) return prefix ?? context ?? "request";
  return [...(prefix === undefined ? [] : [prefix]), ...parts].join(".");
}

function toProtocolError(
  error: FastifyError & { protocol?: ProtocolError },
  ctx: NodeContext,
): ProtocolError {
  if (isProtocolError(error)) return error;
  if (error.protocol !== undefined) return error.protocol;
  if (error.validation !== undefined) {
    const first = error.validation[0];
    return new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: fieldOf(
        error.validationContext,
        first?.instancePath ?? "",
        (first?.params as { missingProperty?: unknown } | undefined)?.missingProperty,
      ),
      reason: first?.message ?? error.message,
    });
  }
  if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return new ProtocolError(ErrorCode.PAYLOAD_TOO_LARGE, { maxBytes: ctx.config.bodyLimit });
  }
  if (
    error.code === "FST_ERR_CTP_INVALID_JSON_BODY" ||
    error instanceof SyntaxError ||
    error.code === "FST_ERR_CTP_EMPTY_JSON_BODY"
  ) {
    return new ProtocolError(ErrorCode.MALFORMED_JSON, { reason: error.message });
  }
  if (error.statusCode === 415 || error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    return new ProtocolError(ErrorCode.MALFORMED_JSON, { reason: "send application/json" });
  }
  // PostgreSQL gave up on a lock wait or a statement, or broke a deadlock: the transaction
  // rolled back, nothing was stored, and the same request may be sent again.
  const sqlState = (error as { code?: unknown }).code;
  if (sqlState === "55P03")
    return new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs: LOCK_TIMEOUT_MS });
  if (sqlState === "57014")
    return new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs: STATEMENT_TIMEOUT_MS });
  if (sqlState === "40P01" || sqlState === "40001")
    return new ProtocolError(ErrorCode.UNAVAILABLE, {
      reason: "the transaction was rolled back in a conflict; send the same request again",
    });
  if (error.statusCode === 408)
    return new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs: ctx.config.requestTimeoutMs });
  if (error.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH")
    return new ProtocolError(ErrorCode.MALFORMED_JSON, { reason: error.message });
  return new ProtocolError(ErrorCode.INTERNAL, { reference: randomUUID() });
}

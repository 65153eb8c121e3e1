import { randomUUID } from "node:crypto";
import { maxHeaderSize, STATUS_CODES } from "node:http";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { ErrorCode, isProtocolError, ProtocolError } from "@sesame/protocol";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import type { NodeContext } from "./context.js";
import { routes } from "./routes/index.js";
import { SHARED_SCHEMAS } from "./schemas.js";

export type App = FastifyInstance<
  import("node:http").Server,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  import("fastify").FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface ServerOptions {
  readonly logger?: boolean;
}

/** Builds the HTTP API around a context. Listening is the caller's. */
export async function buildServer(ctx: NodeContext, options: ServerOptions = {}): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: ctx.config.bodyLimit,
    requestTimeout: ctx.config.requestTimeoutMs,
    connectionTimeout: ctx.config.requestTimeoutMs,
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
  await app.register(rateLimit, {
    max: ctx.config.rateLimitPerMinute,
    timeWindow: 60_000,
    allowList: (req) => req.url === "/health" || req.url === "/metrics",
    errorResponseBuilder: (_req, context) => {
      const e = new ProtocolError(ErrorCode.TOO_MANY_REQUESTS, { retryAfterMs: context.ttl });
      return Object.assign(new Error(e.message), { statusCode: 429, protocol: e });
    },
  });

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

function toProtocolError(
  error: FastifyError & { protocol?: ProtocolError },
  ctx: NodeContext,
): ProtocolError {
  if (isProtocolError(error)) return error;
  if (error.protocol !== undefined) return error.protocol;
  if (error.validation !== undefined) {
    const first = error.validation[0];
    return new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: `${error.validationContext ?? "request"}${first?.instancePath ?? ""}`,
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
  if (error.statusCode === 408)
    return new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs: ctx.config.requestTimeoutMs });
  return new ProtocolError(ErrorCode.INTERNAL, { reference: randomUUID() });
}

/**
 * An HTTP proxy in front of a real node that can rewrite what the node answers: JSON
 * answers through `tamper`, live stream events through `tamperEvent`. Requests pass
 * through unchanged. For tests of what the SDK does with a node that lies.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

// biome-ignore lint/suspicious/noExplicitAny: answers are rewritten freely by tests.
export type Json = any;

export interface StreamBlock {
  id: string;
  event: string;
  data: Json;
}

export interface LyingProxy {
  readonly url: string;
  /** Rewrites the JSON answer of `path` (method GET or POST); identity by default. */
  tamper: (path: string, body: Json) => Json;
  /** Rewrites one stream event; identity by default. */
  tamperEvent: (block: StreamBlock) => StreamBlock;
  /** The target node moved (restarted on another port). */
  target: string;
  close(): Promise<void>;
}

const FORWARDED = ["accept", "content-type", "sesame-request", "last-event-id"];

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length === 0 ? undefined : Buffer.concat(chunks);
}

export async function startLyingProxy(target: string): Promise<LyingProxy> {
  const state: LyingProxy = {
    url: "",
    target,
    tamper: (_p, b) => b,
    tamperEvent: (b) => b,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const headers: Record<string, string> = {};
      for (const h of FORWARDED) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      const body = await readBody(req);
      let upstream: Response;
      try {
        upstream = await fetch(`${state.target}${req.url ?? "/"}`, {
          method: req.method ?? "GET",
          headers,
          ...(body === undefined ? {} : { body: new Uint8Array(body) }),
        });
      } catch {
        res.writeHead(502).end();
        return;
      }
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const type = upstream.headers.get("content-type") ?? "";
      if (type.startsWith("text/event-stream") && upstream.body !== null) {
        res.writeHead(upstream.status, { "content-type": "text/event-stream" });
        const reader = upstream.body.pipeThrough(new TextDecoderStream()).getReader();
        req.on("close", () => void reader.cancel().catch(() => {}));
        let buffer = "";
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end = buffer.indexOf("\n\n");
            while (end >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              end = buffer.indexOf("\n\n");
              const lines = block.split("\n");
              const get = (p: string) => lines.find((l) => l.startsWith(p))?.slice(p.length);
              const data = get("data: ");
              const id = get("id: ");
              if (data === undefined || id === undefined) {
                res.write(`${block}\n\n`);
                continue;
              }
              const out = state.tamperEvent({
                id,
                event: get("event: ") ?? "message",
                data: JSON.parse(data),
              });
              res.write(
                `id: ${out.id}\nevent: ${out.event}\ndata: ${JSON.stringify(out.data)}\n\n`,
              );
            }
          }
        } catch {
          // The node went away, or the client left.
        }
        res.end();
        return;
      }
      const text = await upstream.text();
      let json: Json;
      try {
        json = text === "" ? undefined : JSON.parse(text);
      } catch {
        res.writeHead(upstream.status, { "content-type": type }).end(text);
        return;
      }
      const out = upstream.ok ? state.tamper(path, json) : json;
      res
        .writeHead(upstream.status, { "content-type": "application/json" })
        .end(JSON.stringify(out));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return state;
}

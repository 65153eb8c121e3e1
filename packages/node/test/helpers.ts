import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import {
  type ActionId,
  type ActionKind,
  type ActionPayload,
  type BodyOfKind,
  ErrorCode,
  errorName,
  type GrantId,
  type Revocation,
  type RevocationTarget,
  SCOPE_OF_KIND,
  type Scope,
  type SignedAction,
  type WalletAddress,
} from "@sesame/protocol";
import { expect, onTestFinished } from "vitest";
import {
  type GrantFixture,
  makeGrant,
  signAction,
  signRequest,
  signRevocation,
  T0,
  TEST_CONTEXT,
  type TestKey,
  testEncryptionKey,
  testNonce,
} from "../../protocol/scripts/fixtures.js";
import {
  createNode,
  type DatabaseOptions,
  dropSchema,
  type Engine,
  type NodeConfig,
  type NodeOptions,
  openDatabase,
  type SesameNode,
  type Storage,
} from "../src/index.js";

export const DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const ENGINES: readonly Engine[] = ["pglite", "postgres"];

/** The node clock tests start at: a minute after the fixtures' grants were issued. */
export const NOW = T0 + 60_000;

// ---------------------------------------------------------------------------------------
// Storage: PGlite cloned from a migrated template, or an own schema on PostgreSQL.

const INT8_OID = 20;
const PGLITE_PARSERS = { [INT8_OID]: (value: string) => Number(value) };

let template: Promise<Blob> | undefined;

/**
 * initdb plus migrations cost seconds per PGlite; a tarball of a migrated data directory
 * loads in a fraction of that. It is built once and kept in the temp directory, keyed by
 * the migrations' source and the PGlite version, so parallel test files and later runs
 * share it.
 */
function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    const pkg = await readFile(join(dirname(entry), "..", "package.json"));
    const migrations = await readFile(new URL("../src/db/migrations.ts", import.meta.url));
    const key = createHash("sha256").update(pkg).update(migrations).digest("hex");
    const path = join(tmpdir(), `sesame-pglite-template-${key.slice(0, 16)}.tar`);
    try {
      return new Blob([await readFile(path)]);
    } catch {
      // Not built yet: build it below.
    }
    const pglite = await PGlite.create({ dataDir: "memory://", parsers: PGLITE_PARSERS });
    const storage = await openDatabase({ pglite }); // migrates
    const dump = await pglite.dumpDataDir("none");
    await storage.close();
    const partial = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, path);
    // Templates of older migrations are of no more use (best effort).
    for (const name of await readdir(tmpdir())) {
      if (
        name.startsWith("sesame-pglite-template-") &&
        name.endsWith(".tar") &&
        join(tmpdir(), name) !== path
      )
        await rm(join(tmpdir(), name), { force: true }).catch(() => {});
    }
    return dump;
  })();
  return template;
}

/** A migrated PGlite from the template: in memory, or in `dataDir` (which must be empty). */
export async function templatePglite(dataDir = "memory://"): Promise<PGlite> {
  return await PGlite.create({
    dataDir,
    loadDataDir: await pgliteTemplate(),
    parsers: PGLITE_PARSERS,
  });
}

const idle: PGlite[] = [];

/** Empties every table of a used instance and restarts its sequences; false if it cannot. */
async function resetPglite(pglite: PGlite): Promise<boolean> {
  try {
    const tables = await pglite.query<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE 'kysely%'",
    );
    const sequences = await pglite.query<{ name: string }>(
      "SELECT sequencename AS name FROM pg_sequences WHERE schemaname = current_schema()",
    );
    await pglite.exec(
      [
        `TRUNCATE ${tables.rows.map((t) => t.name).join(", ")}`,
        ...sequences.rows.map((q) => `ALTER SEQUENCE ${q.name} RESTART`),
      ].join(";\n"),
    );
    return true;
  } catch {
    await pglite.close().catch(() => {});
    return false;
  }
}

/**
 * A migrated, empty in-memory PGlite for one test. Loading the template still costs a
 * second or more of CPU per instance, so an instance a test has closed is kept and
 * emptied (TRUNCATE, sequences restarted: tens of milliseconds) for the next test of the
 * same worker. The test sees a PGlite whose `close()` hands it back instead.
 */
export async function leasePglite(): Promise<PGlite> {
  let pglite: PGlite | undefined;
  for (let reused = idle.pop(); reused !== undefined; reused = idle.pop()) {
    if (await resetPglite(reused)) {
      pglite = reused;
      break;
    }
  }
  const target = pglite ?? (await templatePglite());
  let returned = false;
  return new Proxy(target, {
    get(t, prop) {
      if (prop === "close") {
        return async () => {
          if (returned) return;
          returned = true;
          idle.push(t);
        };
      }
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

/** A database a test may open several times (restarts); dropped or deleted at `cleanup`. */
export interface TestDatabase {
  readonly engine: Engine;
  /** Options for the next open; the first opens a fresh, migrated database. */
  open(): Promise<DatabaseOptions>;
  cleanup(): Promise<void>;
}

/**
 * In memory (`persistent: false`, PGlite only) it can be opened once; on a PGlite data
 * directory or a PostgreSQL schema it survives a close.
 */
export async function testDatabase(
  engine: Engine,
  { persistent = false }: { persistent?: boolean } = {},
): Promise<TestDatabase> {
  if (engine === "postgres") {
    const schema = `t_${process.pid}_${randomBytes(4).toString("hex")}`;
    return {
      engine,
      open: async () => ({ databaseUrl: DATABASE_URL, schema }),
      cleanup: () => dropSchema(DATABASE_URL, schema),
    };
  }
  if (!persistent) {
    let opened = false;
    return {
      engine,
      async open() {
        if (opened) throw new Error("an in-memory PGlite cannot be reopened");
        opened = true;
        return { pglite: await leasePglite() };
      },
      cleanup: async () => {},
    };
  }
  const dir = await mkdtemp(join(tmpdir(), "sesame-pglite-"));
  const dataDir = join(dir, "data");
  let opened = false;
  return {
    engine,
    async open() {
      if (opened) return { pgliteDir: dataDir };
      opened = true;
      return { pglite: await templatePglite(dataDir) };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A fresh, migrated, isolated store: in-memory PGlite, or an own schema on PostgreSQL. */
export async function freshStorage(
  engine: Engine,
): Promise<{ storage: Storage; cleanup: () => Promise<void> }> {
  const database = await testDatabase(engine);
  const storage = await openDatabase(await database.open());
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await database.cleanup();
    },
  };
}

// ---------------------------------------------------------------------------------------
// A node listening on a real port, with a clock the test moves.

export interface TestClock {
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export interface TestNode {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly node: SesameNode;
  readonly clock: TestClock;
  close(): Promise<void>;
}

export interface NodeTestOptions {
  readonly config?: Partial<NodeConfig>;
  /** The node clock's start; default NOW. */
  readonly now?: number;
  /** The funds tier's chain and settings (default none: tips refused). */
  readonly chain?: NodeOptions["chain"];
  readonly funds?: NodeOptions["funds"];
}

/** Starts a node on `database` (verifying against TEST_CONTEXT) on a free port. */
export async function startNode(
  database: DatabaseOptions,
  options: NodeTestOptions = {},
): Promise<TestNode> {
  let now = options.now ?? NOW;
  const node = await createNode({
    database,
    config: { verify: TEST_CONTEXT, ...options.config },
    clock: () => now,
    ...(options.chain === undefined ? {} : { chain: options.chain }),
    ...(options.funds === undefined ? {} : { funds: options.funds }),
  });
  let url: string;
  try {
    url = await node.app.listen({ port: 0, host: "127.0.0.1" });
  } catch (e) {
    await node.close();
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    url,
    node,
    clock: {
      now: () => now,
      set: (ms) => {
        now = ms;
      },
      advance: (ms) => {
        now += ms;
      },
    },
    close: () => {
      closed ??= node.close();
      return closed;
    },
  };
}

/**
 * A node on a fresh database of `engine`, closed and dropped when the current test ends.
 */
export async function freshNode(engine: Engine, options: NodeTestOptions = {}): Promise<TestNode> {
  const database = await testDatabase(engine);
  let node: TestNode;
  try {
    node = await startNode(await database.open(), options);
  } catch (e) {
    await database.cleanup();
    throw e;
  }
  onTestFinished(async () => {
    await node.close();
    await database.cleanup();
  });
  return node;
}

// ---------------------------------------------------------------------------------------
// HTTP

export interface HttpReply<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface ErrorBodyJson {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly context: Record<string, unknown>;
}

/** One HTTP request; a JSON answer is parsed, anything else is left as text. */
export async function request<T = unknown>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<HttpReply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] ??= "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: body ?? null });
  const text = await res.text();
  const json = (res.headers.get("content-type") ?? "").includes("application/json");
  return {
    status: res.status,
    headers: res.headers,
    body: (json ? JSON.parse(text) : text) as T,
    text,
  };
}

export const get = <T = unknown>(base: string, path: string, headers?: Record<string, string>) =>
  request<T>(base, "GET", path, headers === undefined ? {} : { headers });

export const post = <T = unknown>(base: string, path: string, body: unknown) =>
  request<T>(base, "POST", path, { body });

/** Asserts an HTTP refusal: the status, and a body of exactly {code, name, message, context}. */
export function expectRefusal(reply: HttpReply<unknown>, status: number, code: ErrorCode): void {
  expect({ status: reply.status, body: reply.body }).toEqual({
    status,
    body: {
      code,
      name: errorName(code),
      message: expect.any(String),
      context: expect.any(Object),
    },
  });
}

/** The same for one item of a batch answer. */
export function expectItemRefusal(item: unknown, code: ErrorCode): void {
  expect(item).toEqual({
    ok: false,
    error: {
      code,
      name: errorName(code),
      message: expect.any(String),
      context: expect.any(Object),
    },
  });
}

export { ErrorCode };

// ---------------------------------------------------------------------------------------
// Grants, sessions and signed messages from the deterministic fixtures.

export interface AcceptedItem {
  readonly ok: true;
  readonly id: string;
  readonly logId: number;
  readonly duplicate: boolean;
}

/** A registered session that signs actions with the next sequence number and ordinal. */
export class TestSession {
  #seq = 0;
  readonly #ords = new Map<Scope, number>();

  constructor(
    readonly fixture: GrantFixture,
    readonly grantId: GrantId,
  ) {}

  get wallet(): WalletAddress {
    return this.fixture.grant.wallet;
  }

  get walletKey(): TestKey {
    return this.fixture.wallet;
  }

  /** Signs an action; `seq`/`ord` default to the next unused, `ts` to `clock` or NOW. */
  sign<K extends ActionKind>(
    kind: K,
    body: BodyOfKind[K],
    at: { ts?: number; seq?: number; ord?: number } = {},
  ): SignedAction {
    const scope = SCOPE_OF_KIND[kind];
    const seq = at.seq ?? this.#seq + 1;
    const ord = at.ord ?? (this.#ords.get(scope) ?? 0) + 1;
    this.#seq = Math.max(this.#seq, seq);
    this.#ords.set(scope, Math.max(this.#ords.get(scope) ?? 0, ord));
    const payload = {
      v: 1,
      kind,
      grant: this.grantId,
      seq,
      ord,
      ts: at.ts ?? NOW,
      body,
    } as ActionPayload;
    return signAction(this.fixture.session, payload);
  }

  /** A signed `Sesame-Request` header value for `GET path` at `ts`. */
  requestHeader(path: string, ts: number, method = "GET"): string {
    const signed = signRequest(this.fixture.session, {
      v: 1,
      grant: this.grantId,
      method,
      path,
      ts,
    });
    return Buffer.from(JSON.stringify(signed)).toString("base64url");
  }
}

export const postBody = (text: string): BodyOfKind["post"] => ({ text, links: [], mentions: [] });
export const replyBody = (parent: string, text: string): BodyOfKind["reply"] => ({
  parent: parent as ActionId,
  text,
  links: [],
  mentions: [],
});
export const reactBody = (target: string, reaction = "like"): BodyOfKind["react"] => ({
  target: target as ActionId,
  reaction,
});
export const followBody = (target: string): BodyOfKind["follow"] => ({
  target: target as WalletAddress,
});
export const profileBody = (displayName: string, bio = ""): BodyOfKind["profile"] => ({
  displayName,
  bio,
  avatarUrl: "",
});
/** An encrypted DM to `to` for one of its session encryption keys; the payload is opaque. */
export const dmBody = (to: TestSession, label: string): BodyOfKind["dm"] =>
  ({
    to: to.wallet,
    messageId: testNonce(`dm ${label}`),
    copies: [
      {
        key: to.fixture.grant.encryptionKey,
        ephemeral: testEncryptionKey(`ephemeral ${label}`),
        ciphertext: Buffer.from(`sealed box of ${label}`).toString("base64url"),
      },
    ],
  }) as BodyOfKind["dm"];

/** Registers a fixture grant over HTTP (expects 201) and returns its session. */
export async function registerSession(base: string, fixture: GrantFixture): Promise<TestSession> {
  const reply = await post<{ id: GrantId }>(base, "/v1/grants", {
    text: fixture.text,
    signature: fixture.signature,
  });
  expect(reply.status, reply.text).toBe(201);
  return new TestSession(fixture, reply.body.id);
}

/** `makeGrant(wallet, session, overrides)`, registered. */
export async function session(
  base: string,
  wallet: string,
  sessionLabel = `${wallet}-session`,
  overrides: Record<string, unknown> = {},
): Promise<TestSession> {
  return await registerSession(base, makeGrant(wallet, sessionLabel, overrides));
}

/** Posts one action, expects it stored (201), and returns its id and log id. */
export async function accept(base: string, action: SignedAction): Promise<AcceptedItem> {
  const reply = await post<AcceptedItem>(base, "/v1/actions", action);
  expect(reply.status, reply.text).toBe(201);
  return reply.body;
}

/** A wallet-signed revocation, as posted to /v1/revocations. */
export function revocation(
  wallet: TestKey,
  target: RevocationTarget,
  options: { issuedAt?: number; compromisedSince?: number | null; nonce?: string } = {},
): { text: string; signature: string } {
  const rev: Revocation = {
    version: 1,
    wallet: wallet.address as WalletAddress,
    network: TEST_CONTEXT.network,
    target,
    compromisedSince: options.compromisedSince ?? null,
    issuedAt: options.issuedAt ?? NOW,
    nonce: options.nonce ?? testNonce(`revocation ${JSON.stringify(target)}`),
  };
  return signRevocation(wallet, rev);
}

// ---------------------------------------------------------------------------------------
// Server-sent events

export interface SseEvent {
  readonly id: number;
  readonly event: string;
  readonly data: unknown;
}

export interface SseClient {
  /** Resolves with the next `n` events, waiting for them as long as needed. */
  take(n: number): Promise<SseEvent[]>;
  /** Resolves with every event up to and including the first that matches. */
  until(match: (e: SseEvent) => boolean): Promise<SseEvent[]>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens `GET /v1/stream` and parses events as they arrive. Resolves once the response
 * headers are in (the subscription is then live). Closed when the current test ends.
 */
export async function openStream(
  base: string,
  options: { lastEventId?: number | string; query?: string } = {},
): Promise<SseClient> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (options.lastEventId !== undefined) headers["last-event-id"] = String(options.lastEventId);
  const res = await fetch(`${base}/v1/stream${options.query ?? ""}`, {
    headers,
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const body = res.body;
  if (body === null) throw new Error("no stream body");
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const queue: SseEvent[] = [];
  let wake = null as (() => void) | null;
  let buffer = "";
  let done = false;
  const pump = (async () => {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buffer += chunk.value;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          if (!fields.has("data")) continue;
          queue.push({
            id: Number(fields.get("id")),
            event: fields.get("event") ?? "message",
            data: JSON.parse(fields.get("data") as string),
          });
        }
        wake?.();
      }
    } catch {
      // Aborted by close().
    } finally {
      done = true;
      wake?.();
    }
  })();
  const next = async (): Promise<SseEvent> => {
    while (queue.length === 0) {
      if (done) throw new Error("the stream ended");
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
    return queue.shift() as SseEvent;
  };
  let closing: Promise<void> | undefined;
  const client: SseClient = {
    async take(n) {
      const out: SseEvent[] = [];
      while (out.length < n) out.push(await next());
      return out;
    },
    async until(match) {
      const out: SseEvent[] = [];
      for (;;) {
        const e = await next();
        out.push(e);
        if (match(e)) return out;
      }
    },
    ended: pump,
    close() {
      closing ??= (async () => {
        controller.abort();
        await pump;
      })();
      return closing;
    },
  };
  onTestFinished(() => client.close());
  return client;
}

/**
 * Waits for a node child process (test fixtures `serve-*.mjs`) to print its first stdout
 * line, `{"url": …}`; fails with its stderr if it exits first. `stderr()` reads what the
 * process has written there so far.
 */
export async function listeningUrl(
  child: import("node:child_process").ChildProcess,
): Promise<{ url: string; stderr: () => string }> {
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  let stdout = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n") && line !== undefined)
        resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`node process exited with ${code}: ${stderr}`)));
    child.once("error", reject);
  });
  return { url, stderr: () => stderr };
}

/**
 * Builds packages/node (tsc -b, incremental: quick when fresh), for tests that run the
 * built JavaScript in child processes, so a file run alone never tests an older build.
 */
export async function buildNodePackage(): Promise<void> {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const tsc = ["node_modules/typescript/bin/tsc", "-b", "packages/node"];
  await promisify(execFile)(process.execPath, tsc, { cwd: root }).catch((e) => {
    throw new Error(`the build failed: ${(e as { stdout?: string }).stdout ?? e}`);
  });
}

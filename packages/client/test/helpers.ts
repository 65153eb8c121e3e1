/**
 * Shared by the client's and the CLI's tests: a real Sesame node listening on a port (on
 * its own PostgreSQL schema, or on PGlite), and SDK clients whose wallet prompts are
 * counted.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import {
  createNode,
  type DatabaseOptions,
  dropSchema,
  type NodeOptions,
  openDatabase,
  type SesameNode,
} from "@sesame/node";
import type { Scope, ScopeLimit, WalletAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { sql } from "kysely";
import {
  type AppIdentity,
  MemorySessionStore,
  NodeApi,
  SessionManager,
  type SessionPolicy,
  type SessionStore,
  SocialClient,
  type SocialClientOptions,
} from "../src/index.js";
import { createKeypairFile, keypairWallet } from "../src/node.js";

export const CONTEXT = Object.freeze({ chain: "solana:localnet", network: "sesame-test" });
export const DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export type TestEngine = "postgres" | "pglite";
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

// ---------------------------------------------------------------------------------------
// PGlite from a migrated template: initdb + migrations cost seconds; loading a tarball of
// a migrated data directory costs a fraction. Same cache key as the node's tests.

const INT8_OID = 20;
const PGLITE_PARSERS = { [INT8_OID]: (value: string) => Number(value) };
let template: Promise<Blob> | undefined;

function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    const pkg = await readFile(join(dirname(entry), "..", "package.json"));
    const migrations = await readFile(join(ROOT, "packages/node/src/db/migrations.ts"));
    const key = createHash("sha256").update(pkg).update(migrations).digest("hex");
    const path = join(tmpdir(), `sesame-pglite-template-${key.slice(0, 16)}.tar`);
    try {
      return new Blob([await readFile(path)]);
    } catch {
      // Not built yet.
    }
    const pglite = await PGlite.create({ dataDir: "memory://", parsers: PGLITE_PARSERS });
    const storage = await openDatabase({ pglite });
    const dump = await pglite.dumpDataDir("none");
    await storage.close();
    const partial = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, path);
    return dump;
  })();
  return template;
}

/** A migrated PGlite: in memory, or in `dataDir` (empty or absent). */
export async function templatePglite(dataDir = "memory://"): Promise<PGlite> {
  return await PGlite.create({
    dataDir,
    loadDataDir: await pgliteTemplate(),
    parsers: PGLITE_PARSERS,
  });
}

/** A fresh PGlite data directory, migrated, ready for `pgliteDir` (survives restarts). */
export async function templatePgliteDir(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), "sesame-client-pglite-")), "data");
  const pglite = await templatePglite(dir);
  await pglite.close();
  return dir;
}

// ---------------------------------------------------------------------------------------
// A node on a real port.

export interface TestNode {
  readonly url: string;
  readonly port: number;
  readonly node: SesameNode;
  /** Moves the node's clock (ms added to the real time). */
  offset: number;
  close(): Promise<void>;
}

export interface TestNodeOptions {
  readonly engine?: TestEngine;
  /** PGlite data directory to open (restarts); implies engine pglite. */
  readonly pgliteDir?: string;
  /** Keep this PostgreSQL schema (restarts); implies engine postgres. */
  readonly schema?: string;
  readonly port?: number;
  /** The funds tier's chain (default none: tips refused). */
  readonly chain?: NodeOptions["chain"];
  /** Node settings beside the verify context (e.g. a short request deadline). */
  readonly config?: NodeOptions["config"];
}

/** Starts a node verifying against CONTEXT; PostgreSQL (own schema) unless told otherwise. */
export async function startTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const engine: TestEngine =
    options.pgliteDir !== undefined
      ? "pglite"
      : options.schema
        ? "postgres"
        : (options.engine ?? "postgres");
  let database: DatabaseOptions;
  let cleanup = async () => {};
  if (engine === "postgres") {
    const schema = options.schema ?? `c_${process.pid}_${randomBytes(4).toString("hex")}`;
    database = { databaseUrl: DATABASE_URL, schema, poolSize: 4 };
    if (options.schema === undefined) cleanup = () => dropSchema(DATABASE_URL, schema);
  } else if (options.pgliteDir !== undefined) {
    database = { pgliteDir: options.pgliteDir };
  } else {
    database = { pglite: await templatePglite() };
  }
  const state = { offset: 0 };
  const node = await createNode({
    database,
    config: { ...options.config, verify: CONTEXT },
    clock: () => Date.now() + state.offset,
    ...(options.chain === undefined ? {} : { chain: options.chain }),
  });
  const url = await node.app.listen({ port: options.port ?? 0, host: "127.0.0.1" });
  let closed: Promise<void> | undefined;
  return {
    url,
    port: Number(new URL(url).port),
    node,
    get offset() {
      return state.offset;
    },
    set offset(ms: number) {
      state.offset = ms;
    },
    close() {
      closed ??= node.close().then(cleanup);
      return closed;
    },
  };
}

/** Every row of every table of the node's database, as JSON text (for "no plaintext" checks). */
export async function dumpDatabase(node: SesameNode): Promise<{ tables: string[]; text: string }> {
  const db = node.ctx.storage.db;
  const tables = (
    await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'
      order by table_name`.execute(db)
  ).rows.map((r) => r.table_name);
  const parts: string[] = [];
  for (const table of tables) {
    const rows = (await sql`select * from ${sql.table(table)}`.execute(db)).rows;
    parts.push(`${table}: ${JSON.stringify(rows)}`);
  }
  return { tables, text: parts.join("\n") };
}

// ---------------------------------------------------------------------------------------
// Clients whose wallet prompts are counted.

export function app(device: string, domain = "app.sesame.test"): AppIdentity {
  return { domain, uri: `https://${domain}/`, device, ...CONTEXT };
}

export function newWalletFile(): { path: string; address: WalletAddress } {
  const dir = mkdtempSync(join(tmpdir(), "sesame-wallet-"));
  const path = join(dir, "id.json");
  return { path, address: createKeypairFile(path) };
}

export interface TestClient {
  readonly address: WalletAddress;
  readonly walletPath: string;
  readonly store: SessionStore;
  readonly api: NodeApi;
  readonly manager: SessionManager;
  readonly social: SocialClient;
  /** Wallet signature requests so far (each would be one prompt). */
  prompts(): number;
  /** The same wallet, store and app again, as after a page reload (prompts keep counting). */
  reload(): TestClient;
}

export interface TestClientOptions {
  readonly store?: SessionStore;
  readonly wallet?: { path: string; address: WalletAddress };
  readonly app?: AppIdentity;
  readonly api?: NodeApi;
  readonly clock?: () => number;
  readonly renewBeforeMs?: number;
  readonly retry?: SocialClientOptions["retry"];
  readonly onRenewError?: (e: unknown) => void;
  readonly onRefused?: SocialClientOptions["onRefused"];
}

export function testClient(url: string, options: TestClientOptions = {}): TestClient {
  const { path, address } = options.wallet ?? newWalletFile();
  const store = options.store ?? new MemorySessionStore();
  const api = options.api ?? new NodeApi(url);
  const identity = options.app ?? app("test device");
  const counter = { n: 0 };
  const wallet = keypairWallet(path, () => counter.n++);
  const make = (): TestClient => {
    const manager = new SessionManager({
      store,
      api,
      walletAddress: address,
      wallet,
      app: identity,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.renewBeforeMs === undefined ? {} : { renewBeforeMs: options.renewBeforeMs }),
    });
    const social = new SocialClient({
      manager,
      store,
      api,
      backend: nodeEd25519(),
      context: CONTEXT,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.onRenewError === undefined ? {} : { onRenewError: options.onRenewError }),
      ...(options.onRefused === undefined ? {} : { onRefused: options.onRefused }),
    });
    return {
      address,
      walletPath: path,
      store,
      api,
      manager,
      social,
      prompts: () => counter.n,
      reload: make,
    };
  };
  return make();
}

export function policy(
  scopes: readonly Scope[],
  limits: Partial<Record<Scope, Partial<ScopeLimit>>> = {},
  durationMs = 3_600_000,
): SessionPolicy {
  return {
    scopes,
    limits: Object.fromEntries(
      scopes.map((s) => [
        s,
        { total: limits[s]?.total ?? null, perHour: limits[s]?.perHour ?? null },
      ]),
    ),
    durationMs,
  };
}

// ---------------------------------------------------------------------------------------
// Child processes running TypeScript from source (no build needed).

export interface Child {
  readonly pid: number;
  /** Resolves with the first stdout line that starts with `prefix`. */
  line(prefix: string): Promise<string>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function runTs(script: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions", "source", script, ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    for (const w of [...waiters]) {
      const line = out.split("\n").find((l) => l.startsWith(w.prefix));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
  }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr: err })));
  return {
    pid: child.pid ?? -1,
    line(prefix) {
      const found = out.split("\n").find((l) => l.startsWith(prefix));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ prefix, resolve });
        void exited.then((e) =>
          reject(new Error(`child exited (${e.code ?? e.signal}) before "${prefix}": ${e.stderr}`)),
        );
      });
    },
    async kill(signal) {
      child.kill(signal);
      return (await exited).code;
    },
    exited,
  };
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

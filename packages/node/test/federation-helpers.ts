/**
 * Federation test harness: node processes (the built package) each on its own database,
 * peered through TCP links the test can cut (a real network partition on loopback).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { TEST_CONTEXT } from "../../protocol/scripts/fixtures.js";
import type { DatabaseOptions, PeerStatus } from "../src/index.js";
import { get, listeningUrl, NOW, post } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./fixtures/serve-federated-node.mjs", import.meta.url));

/** The processes run the built package: build it (incremental, quick when fresh). */
export async function buildNodePackage(): Promise<void> {
  const tsc = ["node_modules/typescript/bin/tsc", "-b", "packages/node"];
  await promisify(execFile)(process.execPath, tsc, { cwd: ROOT }).catch((e) => {
    throw new Error(`the build failed: ${(e as { stdout?: string }).stdout ?? e}`);
  });
}

export interface NodeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** What the process wrote to stderr so far (federation logs refusals there). */
  stderr(): string;
}

/** Starts a federated node process on `database`, pulling `peers`; waits for its URL. */
export async function spawnNode(
  database: DatabaseOptions,
  peers: readonly string[],
  env: Record<string, string> = {},
): Promise<NodeProcess> {
  const dbEnv: Record<string, string> =
    database.pgliteDir !== undefined
      ? { SESAME_PGLITE_DIR: database.pgliteDir }
      : { DATABASE_URL: database.databaseUrl ?? "", SESAME_SCHEMA: database.schema ?? "" };
  const child = spawn(process.execPath, [SCRIPT], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...dbEnv,
      SESAME_PEERS: peers.join(","),
      SESAME_TEST_NOW: String(NOW),
      SESAME_CHAIN: TEST_CONTEXT.chain,
      SESAME_NETWORK: TEST_CONTEXT.network,
      SESAME_SYNC_INTERVAL_MS: "500",
      SESAME_SYNC_MAX_BACKOFF_MS: "2000",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { url, stderr } = await listeningUrl(child);
  return { url, child, stderr };
}

export async function stopNode(p: NodeProcess | undefined): Promise<void> {
  if (p === undefined || p.child.exitCode !== null) return;
  const exited = once(p.child, "exit");
  p.child.kill("SIGTERM");
  await exited;
}

/**
 * A one-way TCP link on loopback (a proxy in this process): a node reaches a peer through
 * it. Cutting it drops every open connection and refuses new ones, as a partition would.
 */
export class Link {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #target: number | undefined;
  #cut = false;
  #port = 0;

  private constructor() {
    this.#server = createServer((client) => {
      const target = this.#target;
      if (this.#cut || target === undefined) {
        client.destroy();
        return;
      }
      const upstream = connect(target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async open(): Promise<Link> {
    const link = new Link();
    link.#server.listen(0, "127.0.0.1");
    await once(link.#server, "listening");
    link.#port = (link.#server.address() as { port: number }).port;
    return link;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Points the link at a node's URL (again after the node restarts on another port). */
  target(url: string): void {
    this.#target = Number(new URL(url).port);
  }

  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
  }

  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    this.#server.close();
    await once(this.#server, "close").catch(() => {});
  }
}

export interface LogItem {
  readonly logId: number;
  readonly type: string;
  readonly id: string;
  readonly message: unknown;
}

/** Every item of a node's sync log (all pages). */
export async function fullLog(url: string): Promise<LogItem[]> {
  const out: LogItem[] = [];
  let after = "0";
  for (;;) {
    const page = await get<{ items: LogItem[]; next: string; head: number }>(
      url,
      `/v1/sync?after=${after}&limit=5000`,
    );
    if (page.status !== 200) throw new Error(`sync page: ${page.status} ${page.text}`);
    out.push(...page.body.items);
    if (page.body.items.length < 5000) return out;
    after = page.body.next;
  }
}

/** The set a node holds: its message ids, sorted, with their SHA-256 over "id\n" lines. */
export async function messageSet(url: string): Promise<{ ids: string[]; hash: string; n: number }> {
  const log = await fullLog(url);
  const ids = [...new Set(log.map((i) => `${i.type}:${i.id}`))].sort();
  const hash = createHash("sha256")
    .update(ids.map((i) => `${i}\n`).join(""))
    .digest("hex");
  return { ids, hash, n: log.length };
}

export async function peersOf(url: string): Promise<PeerStatus[]> {
  return (await get<{ peers: PeerStatus[] }>(url, "/v1/peers")).body.peers;
}

/** Asks a node to pull all its peers now (as `sesame sync` does). */
export async function syncNow(url: string): Promise<void> {
  const r = await post(url, "/v1/peers/sync", {});
  if (r.status !== 200) throw new Error(`sync now: ${r.status} ${r.text}`);
}

/** Polls `check` until it returns a value other than undefined (or the deadline passes). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until every node holds the same set; returns it. */
export async function converged(urls: readonly string[]): Promise<{ ids: string[]; hash: string }> {
  try {
    return await waitFor("the nodes to converge", async () => {
      const sets = await Promise.all(urls.map(messageSet));
      const first = sets[0];
      if (first === undefined) return undefined;
      return sets.every((s) => s.hash === first.hash) ? first : undefined;
    });
  } catch (e) {
    // Say what differs, and how each node sees its peers.
    const sets = await Promise.all(urls.map(messageSet));
    const all = new Set(sets.flatMap((s) => s.ids));
    const missing = sets.map(
      (s, i) => `${urls[i]} lacks ${[...all].filter((id) => !s.ids.includes(id)).join(", ")}`,
    );
    const peers = await Promise.all(
      urls.map(async (u) => `${u}: ${JSON.stringify(await peersOf(u))}`),
    );
    throw new Error(`${(e as Error).message}\n${missing.join("\n")}\n${peers.join("\n")}`);
  }
}

/**
 * Shared by the node benchmarks: a node in its own process, a keep-alive HTTP client,
 * percentiles, keys and grants, and the raw Ed25519 verify/s ceiling of one core.
 */
import { type ChildProcess, fork } from "node:child_process";
import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { grantToText, type Signature, toBase58, utf8, validateGrant } from "@sesame/protocol";

const here = dirname(fileURLToPath(import.meta.url));

export const DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const NETWORK = "sesame-bench";
export const CHAIN = "solana:localnet";

export type Engine = "pglite" | "postgres";

export function argValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

export function numberArg(name: string, fallback: number): number {
  const v = argValue(name);
  return v === undefined ? fallback : Number(v);
}

export function enginesArg(): Engine[] {
  const v = argValue("engine");
  if (v === undefined || v === "both") return ["postgres", "pglite"];
  if (v !== "pglite" && v !== "postgres")
    throw new Error(`--engine must be pglite, postgres or both`);
  return [v];
}

export interface NodeProcess {
  readonly port: number;
  readonly pid: number;
  rss(): Promise<number>;
  close(): Promise<void>;
}

export interface NodeProcessOptions {
  readonly engine: Engine;
  readonly pgliteDir?: string;
  readonly databaseUrl?: string;
  readonly schema?: string;
  readonly verifyWorkers?: number;
  readonly poolSize?: number;
  /** Run the embedded chain (served at /rpc), journaled in this directory. */
  readonly chainDir?: string;
  readonly network?: string;
  /** Federation: peers this node pulls, and how (see `FederationOptions`). */
  readonly peers?: readonly string[];
  readonly sync?: {
    readonly intervalMs?: number;
    readonly pageSize?: number;
    readonly nudge?: boolean;
  };
}

/**
 * Starts bench/serve-node.mjs (the built node) in a child process and waits until it
 * listens. BENCH_NODE_PROF=<dir> writes a V8 CPU profile of the node process there.
 */
export async function startNode(options: NodeProcessOptions): Promise<NodeProcess> {
  const profDir = process.env.BENCH_NODE_PROF;
  const execArgv = [
    ...(profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
    ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== ""),
  ];
  const child: ChildProcess = fork(join(here, "serve-node.mjs"), [JSON.stringify(options)], {
    execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m: { type?: string; port?: number }) => {
      if (m.type === "ready" && typeof m.port === "number") resolve(m.port);
      else reject(new Error(`unexpected message from the node: ${JSON.stringify(m)}`));
    });
    void exited.then((code) => reject(new Error(`the node exited with ${code} before listening`)));
  });
  return {
    port,
    pid: child.pid ?? 0,
    rss: () =>
      new Promise<number>((resolve) => {
        const onMessage = (m: { type?: string; rss?: number }) => {
          if (m.type === "rss" && typeof m.rss === "number") {
            child.off("message", onMessage);
            resolve(m.rss);
          }
        };
        child.on("message", onMessage);
        child.send({ type: "rss" });
      }),
    async close() {
      if (child.exitCode === null) child.send({ type: "close" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A keep-alive client for one node on 127.0.0.1. */
export class Client {
  readonly #agent: http.Agent;

  constructor(
    readonly port: number,
    sockets = 16,
  ) {
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  request(
    method: "GET" | "POST",
    path: string,
    body?: string,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: this.port,
          method,
          path,
          agent: this.#agent,
          headers:
            body === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  async json<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const r = await this.request(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
    );
    if (r.status >= 300)
      throw new Error(`${method} ${path} -> ${r.status}: ${r.text.slice(0, 300)}`);
    return JSON.parse(r.text) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function rawKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: "jwk" });
  return Uint8Array.from(Buffer.from(jwk.x as string, "base64url"));
}

export interface BenchSession {
  readonly wallet: string;
  readonly sessionAddress: string;
  readonly encryptionAddress: string;
  readonly walletKey: KeyObject;
  readonly sessionKey: KeyObject;
  readonly sessionPublic: KeyObject;
  readonly grant: { readonly text: string; readonly signature: Signature };
}

/**
 * A wallet and a session with post, reply, react, follow and profile scopes and caps that
 * never bind, valid from `from` (default two minutes ago) for `lifetimeMs` (default 7 days).
 */
export function makeSession(
  now: number,
  window: { from?: number; lifetimeMs?: number } = {},
  domain = "bench.sesame.test",
): BenchSession {
  const from = window.from ?? now - 120_000;
  const wallet = generateKeyPairSync("ed25519");
  const session = generateKeyPairSync("ed25519");
  const enc = generateKeyPairSync("x25519");
  const unlimited = { total: null, perHour: null };
  const grant = validateGrant({
    version: 1,
    domain,
    wallet: toBase58(rawKey(wallet.publicKey)),
    statement: "Benchmark session.",
    uri: `https://${domain}/`,
    chain: CHAIN,
    network: NETWORK,
    device: "bench",
    sessionKey: toBase58(rawKey(session.publicKey)),
    encryptionKey: toBase58(rawKey(enc.publicKey)),
    scopes: ["post", "reply", "react", "follow", "profile"],
    limits: {
      post: unlimited,
      reply: unlimited,
      react: unlimited,
      follow: unlimited,
      profile: unlimited,
    },
    tipBudget: null,
    issuedAt: from,
    notBefore: from,
    expirationTime: from + (window.lifetimeMs ?? 7 * 86_400_000),
    nonce: toBase58(randomBytes(16)),
  });
  const text = grantToText(grant);
  return {
    wallet: grant.wallet,
    sessionAddress: grant.sessionKey,
    encryptionAddress: grant.encryptionKey,
    walletKey: wallet.privateKey,
    sessionKey: session.privateKey,
    sessionPublic: session.publicKey,
    grant: { text, signature: toBase58(sign(null, utf8(text), wallet.privateKey)) as Signature },
  };
}

export interface VerifySample {
  readonly key: KeyObject;
  readonly bytes: Uint8Array;
  readonly sig: Uint8Array;
}

/**
 * The ceiling: raw node:crypto Ed25519 verifications per second on this process's one
 * thread (parsed keys, no decoding), median of `rounds` rounds.
 */
export function rawVerifyCeiling(
  samples: readonly VerifySample[],
  rounds = 5,
  roundMs = 1000,
): { median: number; rounds: number[] } {
  const rates: number[] = [];
  let j = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    let done = 0;
    while (performance.now() - start < roundMs) {
      for (let k = 0; k < 256; k++) {
        const s = samples[j] as VerifySample;
        j = (j + 1) % samples.length;
        if (!verify(null, s.bytes, s.key, s.sig)) throw new Error("a benchmark signature failed");
      }
      done += 256;
    }
    rates.push((done * 1000) / (performance.now() - start));
  }
  const sorted = [...rates].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] as number, rounds: rates };
}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(raw)]),
    format: "der",
    type: "spki",
  });
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function ms(n: number): string {
  return `${n.toFixed(n < 10 ? 2 : 1)} ms`;
}

const TICKS = 100;

/** CPU seconds (user + system) of a process, all its threads, from /proc (Linux). */
export function processCpuSeconds(pid: number, thread?: number): number {
  try {
    const stat = readFileSync(
      thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
      "utf8",
    );
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL server process on this machine. */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (comm !== "postgres") continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) / TICKS;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/** Machine-wide CPU seconds: busy, idle and stolen by the hypervisor (noisy neighbours). */
export function machineCpu(): { busy: number; idle: number; steal: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] as string;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return {
    busy: (user + nice + system + irq + softirq) / TICKS,
    idle: (idle + iowait) / TICKS,
    steal: steal / TICKS,
  };
}

/** CPU seconds of each thread of a process, by thread id. */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`))
      out.set(Number(tid), processCpuSeconds(pid, Number(tid)));
  } catch {
    // the process ended
  }
  return out;
}

export interface CpuSnapshot {
  readonly pid: number;
  readonly threads: Map<number, number>;
  readonly node: number;
  /** The node's main thread alone (the rest: verify workers, GC and compiler threads). */
  readonly nodeMain: number;
  readonly postgres: number;
  readonly self: number;
  readonly machine: { busy: number; idle: number; steal: number };
}

export function cpuSnapshot(nodePid: number): CpuSnapshot {
  const self = process.cpuUsage();
  return {
    pid: nodePid,
    threads: threadCpuSeconds(nodePid),
    node: processCpuSeconds(nodePid),
    nodeMain: processCpuSeconds(nodePid, nodePid),
    postgres: postgresCpuSeconds(),
    self: (self.user + self.system) / 1e6,
    machine: machineCpu(),
  };
}

/** CPU seconds per action of the node, PostgreSQL and this process together. */
export function cpuPerAction(a: CpuSnapshot, b: CpuSnapshot, actions: number): number {
  return (b.node - a.node + (b.postgres - a.postgres) + (b.self - a.self)) / actions;
}

/** Where the CPU went between two snapshots, per `units` (e.g. per 1,000 actions), in ms. */
export function cpuReport(a: CpuSnapshot, b: CpuSnapshot, seconds: number, units: number): string {
  const per = (x: number) => ((x * 1000) / units).toFixed(1);
  const busy = b.machine.busy - a.machine.busy;
  const steal = b.machine.steal - a.machine.steal;
  const ours = b.node - a.node + (b.postgres - a.postgres) + (b.self - a.self);
  // The node's threads other than the main one, busiest first (verify workers lead).
  const others = [...b.threads]
    .filter(([tid]) => tid !== b.pid)
    .map(([tid, t]) => t - (a.threads.get(tid) ?? 0))
    .sort((x, y) => y - x);
  return (
    `cpu ms per 1,000 actions: node ${per(b.node - a.node)} (main thread ${per(b.nodeMain - a.nodeMain)}; ` +
    `other threads ${others
      .filter((t) => t > 0.005 * seconds)
      .map(per)
      .join(" + ")}), postgres ${per(b.postgres - a.postgres)}, ` +
    `load generator ${per(b.self - a.self)}; machine busy ${(busy / seconds).toFixed(2)} of ${cpus().length} cores, ` +
    `of which other processes ${(Math.max(0, busy - ours) / seconds).toFixed(2)}, stolen ${(steal / seconds).toFixed(2)}`
  );
}

/**
 * Starting a funded session on the embedded chain: p50/p99 of START (build from chain
 * facts, wallet signature, send, confirm), first on a device (creates its session token
 * account) and again on the same device (reuses it); in-process and through
 * `@solana/kit`'s createSolanaRpc against the embedded /rpc served by Fastify on
 * 127.0.0.1. Baseline in the same run: a plain SOL transfer through the same path.
 * Also the protocol's verifyGrant over the signed wire transaction.
 *
 * End to end with a node: a real Sesame node in its own process (PGlite on disk, the
 * embedded chain journaled on disk, as `npm start` runs), START through its /rpc, then
 * the grant POSTed to its /v1/grants and accepted. Baselines in the same run: one raw
 * LiteSVM transfer round trip (build, sign, execute), and a SOL transfer through the
 * node's /rpc. Also the journal's cost: a transfer on a durable vs an in-memory chain.
 * Goal: START p99 < 150 ms, with the node's step.
 *
 *   npm run bench -- session [--sessions=200]
 */

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { grantToText, toBase58, validateGrant, verifyGrant } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  type Chain,
  EmbeddedChain,
  prepareStartSession,
  rpcChain,
  signTransaction,
  solanaRpcPlugin,
  submitTransaction,
  wireBase64,
} from "@sesame/solana";
import {
  type Address,
  appendTransactionMessageInstructions,
  compileTransaction,
  createTransactionMessage,
  generateKeyPairSigner,
  type KeyPairSigner,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
} from "@solana/kit";
import { getTransferSolInstruction } from "@solana-program/system";
import Fastify from "fastify";
import { LiteSVM } from "litesvm";
import { startNode } from "./lib.js";

const CONTEXT = { chain: "solana:localnet", network: "sesame-bench" };

/** A full grant (all scopes, a 5-token tip budget) of about 1 KB: its memo carries the id. */
function grantText(wallet: string, session: string, mint: string): string {
  const now = Date.now();
  const scopes = ["post", "reply", "react", "follow", "profile", "dm", "tip"];
  return grantToText(
    validateGrant({
      version: 1,
      domain: "bench.sesame.test",
      wallet,
      statement: "Benchmark session with funds.",
      uri: "https://bench.sesame.test/",
      chain: "solana:localnet",
      network: "sesame-bench",
      device: "bench",
      sessionKey: session,
      encryptionKey: toBase58(crypto.getRandomValues(new Uint8Array(32))),
      scopes,
      limits: Object.fromEntries(scopes.map((s) => [s, { total: 1000, perHour: 100 }])),
      tipBudget: { mint, amount: "5000000", decimals: 6 },
      issuedAt: now,
      notBefore: now,
      expirationTime: now + 86_400_000,
      nonce: toBase58(crypto.getRandomValues(new Uint8Array(16))),
    }),
  );
}

function argNumber(name: string, fallback: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function stats(samples: readonly number[]): Stats {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: samples.length,
    p50: round(percentile(samples, 50)),
    p99: round(percentile(samples, 99)),
    max: round(Math.max(...samples)),
  };
}

async function transfer(chain: Chain, from: KeyPairSigner, to: Address): Promise<void> {
  const lifetime = await chain.latestBlockhash();
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(from, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime, m),
    (m) =>
      appendTransactionMessageInstructions(
        [getTransferSolInstruction({ source: from, destination: to, amount: 1000n })],
        m,
      ),
  );
  const signed = await signTransaction(compileTransaction(message), [from]);
  await submitTransaction(chain, signed, undefined, lifetime.lastValidBlockHeight);
}

interface Run {
  readonly start: number[];
  readonly restart: number[];
  readonly transfer: number[];
  readonly verify: number[];
  readonly sizes: Set<number>;
}

async function run(chain: Chain, embedded: EmbeddedChain, sessions: number): Promise<Run> {
  const out: Run = { start: [], restart: [], transfer: [], verify: [], sizes: new Set() };
  const backend = nodeEd25519();
  const sink = await generateKeyPairSigner();
  await embedded.airdrop(sink.address, 1_000_000_000n); // a transfer to it stays rent-exempt
  for (let i = 0; i < sessions; i++) {
    const wallet = await generateKeyPairSigner();
    await embedded.fund(wallet.address, { lamports: 1_000_000_000n, tokens: 50_000_000n });
    for (const phase of ["start", "restart"] as const) {
      const session = await generateKeyPairSigner();
      const text = grantText(wallet.address, session.address, embedded.demoMint.address);
      const t0 = performance.now();
      const built = await prepareStartSession(chain, { grantText: text, deviceId: "bench-device" });
      const signed = await signTransaction(built.transaction, [wallet]);
      await submitTransaction(chain, signed, built, built.lastValidBlockHeight);
      out[phase].push(performance.now() - t0);
      out.sizes.add(built.size);
      const v0 = performance.now();
      await verifyGrant({ text, transaction: wireBase64(signed) }, CONTEXT, backend);
      out.verify.push(performance.now() - v0);
    }
    const t1 = performance.now();
    await transfer(chain, wallet, sink.address);
    out.transfer.push(performance.now() - t1);
  }
  return out;
}

function report(label: string, r: Run, warmup: number) {
  const cut = (xs: number[]) => xs.slice(warmup);
  const start = stats(cut(r.start));
  const restart = stats(cut(r.restart));
  const transferStats = stats(cut(r.transfer));
  const verify = stats(cut(r.verify));
  const line = (name: string, s: Stats) =>
    `  ${name.padEnd(44)} p50 ${s.p50.toFixed(2).padStart(7)} ms   p99 ${s.p99.toFixed(2).padStart(7)} ms   max ${s.max.toFixed(2).padStart(7)} ms   (n=${s.n})`;
  console.log(`\n${label}`);
  console.log(line("START, first on the device (creates account)", start));
  console.log(line("START, same device again (reuses account)", restart));
  console.log(line("baseline: plain SOL transfer, same path", transferStats));
  console.log(line("verifyGrant over the signed wire", verify));
  console.log(
    `  START p99 / transfer p99: ${(start.p99 / transferStats.p99).toFixed(2)}x   goal p99 < 150 ms: ${start.p99 < 150 && restart.p99 < 150 ? "met" : "NOT met"}   sizes: ${[...r.sizes].sort().join(", ")} bytes`,
  );
  return {
    start,
    restart,
    transfer: transferStats,
    verifyGrant: verify,
    sizes: [...r.sizes].sort(),
  };
}

/** One raw LiteSVM transfer round trip: build, sign, execute (no RPC, no journal). */
async function rawLiteSvm(samples: number): Promise<number[]> {
  const svm = new LiteSVM();
  const from = await generateKeyPairSigner();
  const to = await generateKeyPairSigner();
  svm.airdrop(from.address, lamports(10_000_000_000n));
  svm.airdrop(to.address, lamports(1_000_000_000n));
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(from, m),
      (m) =>
        setTransactionMessageLifetimeUsingBlockhash(
          { blockhash: svm.latestBlockhash(), lastValidBlockHeight: 0n },
          m,
        ),
      (m) =>
        appendTransactionMessageInstructions(
          [
            getTransferSolInstruction({
              source: from,
              destination: to.address,
              amount: 1000n + BigInt(i),
            }),
          ],
          m,
        ),
    );
    const signed = await signTransaction(compileTransaction(message), [from]);
    const result = svm.sendTransaction(signed);
    if ("err" in result) throw new Error("the raw transfer failed");
    out.push(performance.now() - t0);
  }
  return out;
}

/** START through a node's /rpc, then the grant POSTed to the node and accepted. */
async function withNode(sessions: number, warmup: number) {
  const dir = mkdtempSync(join(os.tmpdir(), "sesame-bench-session-"));
  const node = await startNode({
    engine: "pglite",
    pgliteDir: join(dir, "pglite"),
    chainDir: join(dir, "chain"),
    network: CONTEXT.network,
  });
  const base = `http://127.0.0.1:${node.port}`;
  const chain = rpcChain(`${base}/rpc`, { pollMs: 1 });
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const mint = (
    (await (await fetch(`${base}/v1/chain`)).json()) as { demoMint: { address: string } }
  ).demoMint.address;
  const r = {
    start: [] as number[],
    restart: [] as number[],
    chainPart: [] as number[],
    nodePart: [] as number[],
    transfer: [] as number[],
  };
  try {
    const sink = await generateKeyPairSigner();
    await post("/v1/faucet", { wallet: sink.address });
    for (let i = 0; i < sessions; i++) {
      const wallet = await generateKeyPairSigner();
      await post("/v1/faucet", { wallet: wallet.address });
      for (const phase of ["start", "restart"] as const) {
        const session = await generateKeyPairSigner();
        const text = grantText(wallet.address, session.address, mint);
        const t0 = performance.now();
        const built = await prepareStartSession(chain, {
          grantText: text,
          deviceId: "bench-device",
        });
        const signed = await signTransaction(built.transaction, [wallet]);
        await submitTransaction(chain, signed, built, built.lastValidBlockHeight);
        const t1 = performance.now();
        const accepted = await post("/v1/grants", { text, transaction: wireBase64(signed) });
        const t2 = performance.now();
        if (accepted.duplicate !== false) throw new Error("the grant was not stored as new");
        r[phase].push(t2 - t0);
        r.chainPart.push(t1 - t0);
        r.nodePart.push(t2 - t1);
      }
      const t3 = performance.now();
      await transfer(chain, wallet, sink.address);
      r.transfer.push(performance.now() - t3);
    }
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const raw = await rawLiteSvm(sessions);
  const cut = (xs: number[]) => xs.slice(warmup);
  const line = (name: string, st: Stats) =>
    `  ${name.padEnd(52)} p50 ${st.p50.toFixed(2).padStart(7)} ms   p99 ${st.p99.toFixed(2).padStart(7)} ms   max ${st.max.toFixed(2).padStart(7)} ms   (n=${st.n})`;
  const out = {
    start: stats(cut(r.start)),
    restart: stats(cut(r.restart)),
    chainPart: stats(cut(r.chainPart)),
    nodePart: stats(cut(r.nodePart)),
    transfer: stats(cut(r.transfer)),
    rawLiteSvmTransfer: stats(cut(raw)),
  };
  console.log(
    "\nend to end with a node (its own process: PGlite on disk, embedded chain journaled on disk)",
  );
  console.log(line("START + grant accepted, first on the device", out.start));
  console.log(line("START + grant accepted, same device again", out.restart));
  console.log(line("  of which START on chain (build, sign, send, confirm)", out.chainPart));
  console.log(line("  of which POST /v1/grants until accepted", out.nodePart));
  console.log(line("baseline: SOL transfer through the node's /rpc", out.transfer));
  console.log(
    line("baseline: raw LiteSVM transfer (build, sign, execute)", out.rawLiteSvmTransfer),
  );
  const worst = Math.max(out.start.p99, out.restart.p99);
  console.log(
    `  goal p99 < 150 ms with the node: ${worst < 150 ? "met" : "NOT met"} (worst p99 ${worst.toFixed(1)} ms); START+grant p50 / raw LiteSVM p50: ${(out.start.p50 / out.rawLiteSvmTransfer.p50).toFixed(1)}x`,
  );
  return out;
}

/** The journal's cost per transaction: the same transfer on a durable and an in-memory chain. */
async function journalCost(samples: number, warmup: number) {
  const dir = mkdtempSync(join(os.tmpdir(), "sesame-bench-journal-"));
  const durable = await EmbeddedChain.create({ dataDir: dir });
  const memory = await EmbeddedChain.create();
  const times = { durable: [] as number[], memory: [] as number[] };
  try {
    const pairs = [
      ["durable", durable],
      ["memory", memory],
    ] as const;
    const senders = new Map<string, KeyPairSigner>();
    const sink = await generateKeyPairSigner();
    for (const [name, chain] of pairs) {
      const from = await generateKeyPairSigner();
      await chain.airdrop(from.address, 10_000_000_000n);
      await chain.airdrop(sink.address, 1_000_000_000n);
      senders.set(name, from);
    }
    for (let i = 0; i < samples; i++) {
      for (const [name, chain] of pairs) {
        const t0 = performance.now();
        await transfer(chain, senders.get(name) as KeyPairSigner, sink.address);
        times[name].push(performance.now() - t0);
      }
    }
  } finally {
    await durable.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const d = stats(times.durable.slice(warmup));
  const m = stats(times.memory.slice(warmup));
  console.log("\nthe chain's journal (in-process transfer, build + sign + send + confirm)");
  console.log(
    `  durable chain (journal + fdatasync)   p50 ${d.p50.toFixed(2)} ms   p99 ${d.p99.toFixed(2)} ms`,
  );
  console.log(
    `  in-memory chain                       p50 ${m.p50.toFixed(2)} ms   p99 ${m.p99.toFixed(2)} ms`,
  );
  console.log(`  journal cost per transaction          p50 +${(d.p50 - m.p50).toFixed(2)} ms`);
  return { durable: d, memory: m, costP50Ms: Math.round((d.p50 - m.p50) * 1000) / 1000 };
}

export async function sessionBench(): Promise<Record<string, unknown>> {
  const sessions = argNumber("sessions", 200);
  // Other processes on the machine widen the tail: say how busy it was.
  const loadBefore = os.loadavg()[0] ?? 0;
  console.log(`load average at start: ${loadBefore.toFixed(2)} on ${os.cpus().length} CPUs`);
  const warmup = Math.min(10, Math.floor(sessions / 10));

  const inProcess = await EmbeddedChain.create();
  const local = report(
    "in-process (EmbeddedChain as the Chain)",
    await run(inProcess, inProcess, sessions),
    warmup,
  );

  const served = await EmbeddedChain.create();
  const app = Fastify();
  await app.register(solanaRpcPlugin, { chain: served });
  const base = await app.listen({ host: "127.0.0.1", port: 0 });
  let http: ReturnType<typeof report>;
  try {
    const chain = rpcChain(`${base}/rpc`, { pollMs: 1 });
    http = report(
      "over HTTP (kit createSolanaRpc -> Fastify /rpc -> EmbeddedChain)",
      await run(chain, served, sessions),
      warmup,
    );
  } finally {
    await app.close();
  }
  const node = await withNode(sessions, warmup);
  const journal = await journalCost(sessions, warmup);
  const loadAfter = os.loadavg()[0] ?? 0;
  console.log(`load average at end: ${loadAfter.toFixed(2)}`);
  return {
    sessions,
    warmup,
    loadAverage: { start: loadBefore, end: loadAfter },
    inProcess: local,
    http,
    node,
    journal,
    goalP99Ms: 150,
  };
}

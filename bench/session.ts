/**
 * Starting a funded session on the embedded chain: p50/p99 of START (build from chain
 * facts, wallet signature, send, confirm), first on a device (creates its session token
 * account) and again on the same device (reuses it); in-process and through
 * `@solana/kit`'s createSolanaRpc against the embedded /rpc served by Fastify on
 * 127.0.0.1. Baseline in the same run: a plain SOL transfer through the same path.
 * Also the protocol's verifyGrant over the signed wire transaction (the check a node makes
 * before storing the grant; the node's own "grant accepted" step is not measured here
 * until the node integration lands). Goal: START p99 < 150 ms.
 *
 *   npm run bench -- session [--sessions=200]
 */

import os from "node:os";
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
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
} from "@solana/kit";
import { getTransferSolInstruction } from "@solana-program/system";
import Fastify from "fastify";

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
  const loadAfter = os.loadavg()[0] ?? 0;
  console.log(`load average at end: ${loadAfter.toFixed(2)}`);
  return {
    sessions,
    warmup,
    loadAverage: { start: loadBefore, end: loadAfter },
    inProcess: local,
    http,
    goalP99Ms: 150,
  };
}

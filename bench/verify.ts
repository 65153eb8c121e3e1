/**
 * Verification throughput on one core: raw node:crypto Ed25519 verify/s, raw WebCrypto
 * verify/s, and the protocol's full `verifyAction` (decode, shape checks, canonical bytes,
 * strict rule, signature, id) per second, with its ratio to raw node:crypto.
 */
import { createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import {
  type ActionPayload,
  actionSigningBytes,
  type Signature,
  toBase58,
  validateGrant,
  grantToText,
  type VerifiedGrant,
  verifyAction,
  verifyGrant,
  utf8,
} from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { webEd25519 } from "@sesame/protocol/web-crypto";

const SESSIONS = 32;
const PER_SESSION = 64;
const ROUNDS = 5;
const ROUND_MS = 1500;

function rawKey(publicKey: ReturnType<typeof createPublicKey>): Uint8Array {
  const jwk = publicKey.export({ format: "jwk" });
  return Uint8Array.from(Buffer.from(jwk.x as string, "base64url"));
}

interface Sample {
  grant: VerifiedGrant;
  publicKey: Uint8Array;
  wire: { payload: ActionPayload; signature: Signature };
  bytes: Uint8Array;
  sig: Uint8Array;
}

async function makeSamples(): Promise<Sample[]> {
  const backend = nodeEd25519();
  const samples: Sample[] = [];
  const now = Date.now();
  for (let s = 0; s < SESSIONS; s++) {
    const wallet = generateKeyPairSync("ed25519");
    const session = generateKeyPairSync("ed25519");
    const enc = generateKeyPairSync("x25519");
    const grant = validateGrant({
      version: 1,
      domain: "bench.sesame.test",
      wallet: toBase58(rawKey(wallet.publicKey)),
      statement: "Benchmark session.",
      uri: "https://bench.sesame.test/",
      chain: "solana:localnet",
      network: "sesame-bench",
      device: "bench",
      sessionKey: toBase58(rawKey(session.publicKey)),
      encryptionKey: toBase58(rawKey(enc.publicKey)),
      scopes: ["post", "react"],
      limits: { post: { total: null, perHour: null }, react: { total: null, perHour: null } },
      tipBudget: null,
      issuedAt: now,
      notBefore: now,
      expirationTime: now + 86_400_000,
      nonce: toBase58(Uint8Array.from({ length: 16 }, (_, i) => i + s + 1)),
    });
    const text = grantToText(grant);
    const signature = toBase58(sign(null, utf8(text), wallet.privateKey)) as Signature;
    const vg = await verifyGrant(
      { text, signature },
      { chain: "solana:localnet", network: "sesame-bench" },
      backend,
    );
    for (let i = 1; i <= PER_SESSION; i++) {
      const payload: ActionPayload =
        i % 2 === 0
          ? {
              v: 1,
              kind: "post",
              grant: vg.id,
              seq: i,
              ord: i,
              ts: now + i,
              body: { text: `Benchmark post number ${i} of session ${s}: hello, Sesame!`, links: [], mentions: [] },
            }
          : {
              v: 1,
              kind: "react",
              grant: vg.id,
              seq: i,
              ord: i,
              ts: now + i,
              body: { target: vg.id as unknown as never, reaction: "like" },
            };
      const bytes = actionSigningBytes(payload);
      const sig = sign(null, bytes, session.privateKey);
      // Round-trip through JSON so verifyAction sees what a node receives.
      const wire = JSON.parse(JSON.stringify({ payload, signature: toBase58(sig) }));
      samples.push({ grant: vg, publicKey: vg.sessionKeyBytes, wire, bytes, sig });
    }
  }
  return samples;
}

async function measure(label: string, run: (n: number) => Promise<number> | number): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    let done = 0;
    while (performance.now() - start < ROUND_MS) done += await run(256);
    rates.push((done * 1000) / (performance.now() - start));
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)] as number;
  console.log(`${label.padEnd(44)} ${Math.round(median).toString().padStart(8)} /s  (rounds: ${rates.map((x) => Math.round(x)).join(", ")})`);
  return median;
}

export async function verifyBench(): Promise<Record<string, unknown>> {
  const samples = await makeSamples();
  const n = samples.length;
  const keyObjects = samples.map((s) =>
    createPublicKey({
      key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(s.publicKey)]),
      format: "der",
      type: "spki",
    }),
  );
  const node = nodeEd25519();
  const web = webEd25519();
  let i = 0;
  const next = () => {
    i = (i + 1) % n;
    return i;
  };

  const raw = await measure("raw node:crypto Ed25519 verify", (batch) => {
    for (let k = 0; k < batch; k++) {
      const j = next();
      const s = samples[j] as Sample;
      if (!verify(null, s.bytes, keyObjects[j] as ReturnType<typeof createPublicKey>, s.sig)) throw new Error("bad");
    }
    return batch;
  });
  const rawWeb = await measure("raw WebCrypto Ed25519 verify", async (batch) => {
    for (let k = 0; k < batch; k++) {
      const s = samples[next()] as Sample;
      if (!(await web.verify(s.publicKey, s.bytes, s.sig))) throw new Error("bad");
    }
    return batch;
  });
  const full = await measure("verifyAction (node:crypto backend)", async (batch) => {
    for (let k = 0; k < batch; k++) {
      const s = samples[next()] as Sample;
      await verifyAction(s.wire, s.grant, node);
    }
    return batch;
  });
  const fullWeb = await measure("verifyAction (WebCrypto backend)", async (batch) => {
    for (let k = 0; k < batch; k++) {
      const s = samples[next()] as Sample;
      await verifyAction(s.wire, s.grant, web);
    }
    return batch;
  });
  const ratio = full / raw;
  const ratioWeb = fullWeb / rawWeb;
  console.log(`verifyAction / raw node:crypto = ${(ratio * 100).toFixed(1)}%  (aim >= 85%)`);
  console.log(`verifyAction(WebCrypto) / raw WebCrypto = ${(ratioWeb * 100).toFixed(1)}%`);
  return {
    rawNodeCryptoPerSec: Math.round(raw),
    rawWebCryptoPerSec: Math.round(rawWeb),
    verifyActionNodePerSec: Math.round(full),
    verifyActionWebPerSec: Math.round(fullWeb),
    ratioToRawNode: Number(ratio.toFixed(3)),
    ratioWebToRawWeb: Number(ratioWeb.toFixed(3)),
    samples: n,
  };
}

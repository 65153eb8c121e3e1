import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { testKey } from "../scripts/fixtures.js";
import { nodeEd25519, nodeEd25519VerifySync } from "../src/crypto/node-crypto.js";
import {
  assertStrictInputs,
  isCanonicalPointEncoding,
  isCanonicalScalar,
  isSmallOrderEncoding,
  isSmallOrderX25519,
  SMALL_ORDER_ENCODINGS,
  verifyEd25519Strict,
  verifyEd25519StrictSync,
  X25519_SMALL_ORDER_ENCODINGS,
} from "../src/crypto/strict.js";
import type { Ed25519Backend } from "../src/crypto/types.js";
import { webEd25519 } from "../src/crypto/web-crypto.js";
import { toBase58, toHex, utf8 } from "../src/encoding.js";
import { ErrorCode } from "../src/errors.js";
import { expectCode, expectCodeAsync } from "./helpers.js";

const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const P = 2n ** 255n - 19n;

function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function fromLe(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

/** A signature whose S (bytes 32..63) is `s`, with R from `r`. */
function withS(r: Uint8Array, s: bigint): Uint8Array {
  const sig = new Uint8Array(64);
  sig.set(r.subarray(0, 32), 0);
  sig.set(le32(s), 32);
  return sig;
}

function clearSign(encoding: Uint8Array): Uint8Array {
  const out = Uint8Array.from(encoding);
  out[31] = (out[31] as number) & 0x7f;
  return out;
}

function setSign(encoding: Uint8Array): Uint8Array {
  const out = Uint8Array.from(encoding);
  out[31] = (out[31] as number) | 0x80;
  return out;
}

/**
 * The eight torsion points, derived without the table under test: for a point Q on the
 * curve, [L]Q kills Q's prime-order part and leaves a torsion point; when that point has
 * order 8 its multiples are all eight.
 */
function torsionPoints() {
  for (let y = 2n; y < 100n; y++) {
    let q: ReturnType<typeof Point.fromBytes>;
    try {
      q = Point.fromBytes(le32(y));
    } catch {
      continue; // y is not on the curve
    }
    const t = q.multiplyUnsafe(L - 1n).add(q);
    if (!t.double().double().equals(Point.ZERO)) {
      const points = [];
      let acc = Point.ZERO;
      for (let k = 0; k < 8; k++) {
        points.push(acc);
        acc = acc.add(t);
      }
      expect(acc.equals(Point.ZERO)).toBe(true);
      return points;
    }
  }
  throw new Error("no point of order 8 found");
}

const TORSION = torsionPoints();
const TABLE = new Set(SMALL_ORDER_ENCODINGS.map(toHex));

describe("small-order public keys", () => {
  it("derives eight distinct torsion points, each of small order", () => {
    expect(new Set(TORSION.map((p) => p.toHex())).size).toBe(8);
    for (const p of TORSION) {
      expect(p.isSmallOrder()).toBe(true);
      expect(p.multiplyUnsafe(8n).equals(Point.ZERO)).toBe(true);
    }
  });

  it("lists the encoding (sign bit cleared) of every torsion point", () => {
    for (const p of TORSION) expect(TABLE.has(toHex(clearSign(p.toBytes())))).toBe(true);
  });

  it("catches every torsion point with either sign bit", () => {
    for (const p of TORSION) {
      expect(isSmallOrderEncoding(p.toBytes())).toBe(true);
      expect(isSmallOrderEncoding(setSign(p.toBytes()))).toBe(true);
      expect(isSmallOrderEncoding(clearSign(p.toBytes()))).toBe(true);
    }
  });

  it("lists nothing else than the torsion points and their non-canonical y = p, p + 1 forms", () => {
    const canonical = new Set(TORSION.map((p) => toHex(clearSign(p.toBytes()))));
    const nonCanonical = [le32(P), le32(P + 1n)].map(toHex);
    expect(TABLE).toEqual(new Set([...canonical, ...nonCanonical]));
    for (const hex of nonCanonical) {
      const point = Point.fromHex(hex, true); // ZIP-215 decoding accepts y >= p
      expect(point.isSmallOrder()).toBe(true);
    }
  });

  it("does not flag the public keys of random seeds (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const pk = ed25519.getPublicKey(seed);
        expect(isSmallOrderEncoding(pk)).toBe(false);
        expect(isCanonicalPointEncoding(pk)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("does not flag a key that differs from a listed encoding in one low byte", () => {
    for (const bad of SMALL_ORDER_ENCODINGS) {
      const near = Uint8Array.from(bad);
      near[5] = (near[5] as number) ^ 1;
      expect(isSmallOrderEncoding(near)).toBe(false);
    }
  });
});

describe("isCanonicalScalar", () => {
  it("accepts S below L and refuses L, L + 1 and 2^256 - 1", () => {
    const r = new Uint8Array(32);
    expect(isCanonicalScalar(withS(r, 0n))).toBe(true);
    expect(isCanonicalScalar(withS(r, 1n))).toBe(true);
    expect(isCanonicalScalar(withS(r, L - 1n))).toBe(true);
    expect(isCanonicalScalar(withS(r, L))).toBe(false);
    expect(isCanonicalScalar(withS(r, L + 1n))).toBe(false);
    expect(isCanonicalScalar(withS(r, 2n ** 256n - 1n))).toBe(false);
    expect(isCanonicalScalar(withS(r, 2n ** 252n))).toBe(true);
    expect(isCanonicalScalar(withS(r, 2n ** 253n))).toBe(false);
  });

  it("reads the scalar at a given offset", () => {
    expect(isCanonicalScalar(le32(L), 0)).toBe(false);
    expect(isCanonicalScalar(le32(L - 1n), 0)).toBe(true);
  });

  it("agrees with S < L for any 32 bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (s) => {
        expect(isCanonicalScalar(s, 0)).toBe(fromLe(s) < L);
      }),
      { numRuns: 300 },
    );
  });
});

describe("isCanonicalPointEncoding", () => {
  it("accepts y < p and refuses p <= y < 2^255, with either sign bit", () => {
    for (const y of [0n, 1n, P - 1n]) {
      expect(isCanonicalPointEncoding(le32(y))).toBe(true);
      expect(isCanonicalPointEncoding(setSign(le32(y)))).toBe(true);
    }
    for (const y of [P, P + 1n, P + 2n, P + 18n, 2n ** 255n - 1n]) {
      expect(isCanonicalPointEncoding(le32(y))).toBe(false);
      expect(isCanonicalPointEncoding(setSign(le32(y)))).toBe(false);
    }
    expect(isCanonicalPointEncoding(le32(2n ** 255n - 2n ** 248n))).toBe(true);
  });
});

describe("assertStrictInputs and verifyEd25519Strict", () => {
  const alice = testKey("alice");
  const message = utf8("hello");
  const sig = alice.sign(message);
  const backends: Ed25519Backend[] = [nodeEd25519(), webEd25519()];

  it("refuses keys and signatures of the wrong length with 1008", () => {
    const e = expectCode(
      () => assertStrictInputs(new Uint8Array(31), sig, "a"),
      ErrorCode.INVALID_LENGTH,
    );
    expect(e.context).toEqual({ field: "publicKey", expected: 32, actual: 31 });
    const e2 = expectCode(
      () => assertStrictInputs(alice.publicKey, sig.subarray(0, 63), "a"),
      ErrorCode.INVALID_LENGTH,
    );
    expect(e2.context).toEqual({ field: "signature", expected: 64, actual: 63 });
  });

  it("refuses S >= L with 2002 even when S - L would verify (malleability)", async () => {
    const s = fromLe(sig.subarray(32));
    const malleated = withS(sig, s + L);
    for (const backend of backends) {
      const e = await expectCodeAsync(
        () => verifyEd25519Strict(backend, alice.publicKey, message, malleated, alice.address),
        ErrorCode.NON_CANONICAL_SIGNATURE,
      );
      expect(e.context).toEqual({ signer: alice.address });
    }
  });

  it("refuses the classic forgery (identity key, R = identity, S = 0) with 2003", async () => {
    const identity = le32(1n);
    const forged = withS(identity, 0n);
    // Under ZIP-215's cofactored rule this forgery verifies for every message.
    expect(ed25519.verify(forged, message, identity, { zip215: true })).toBe(true);
    for (const backend of backends) {
      for (const msg of [message, utf8("anything at all")]) {
        const e = await expectCodeAsync(
          () => verifyEd25519Strict(backend, identity, msg, forged, "mallory"),
          ErrorCode.SMALL_ORDER_PUBLIC_KEY,
        );
        expect(e.context).toEqual({ publicKey: toBase58(identity) });
      }
    }
  });

  it("refuses every small-order key with 2003, whatever its sign bit", () => {
    const zero = withS(new Uint8Array(32), 0n);
    for (const p of TORSION) {
      for (const key of [p.toBytes(), setSign(p.toBytes()), clearSign(p.toBytes())]) {
        expectCode(() => assertStrictInputs(key, zero, "m"), ErrorCode.SMALL_ORDER_PUBLIC_KEY);
      }
    }
    for (const bad of SMALL_ORDER_ENCODINGS) {
      expectCode(() => assertStrictInputs(bad, zero, "m"), ErrorCode.SMALL_ORDER_PUBLIC_KEY);
    }
  });

  it("refuses non-canonical keys (y >= p, not small order) with 2004", async () => {
    const zero = withS(new Uint8Array(32), 0n);
    for (const y of [P + 2n, P + 3n, P + 18n, 2n ** 255n - 1n]) {
      for (const key of [le32(y), setSign(le32(y))]) {
        const e = await expectCodeAsync(
          () => verifyEd25519Strict(nodeEd25519(), key, message, zero, "m"),
          ErrorCode.NON_CANONICAL_PUBLIC_KEY,
        );
        expect(e.context).toEqual({ publicKey: toBase58(key) });
      }
    }
  });

  it("checks S before the key (2002 wins over 2003)", () => {
    expectCode(
      () => assertStrictInputs(le32(1n), withS(new Uint8Array(32), L), "m"),
      ErrorCode.NON_CANONICAL_SIGNATURE,
    );
  });

  it("accepts a valid signature and refuses a wrong one with 2001 on every backend", async () => {
    for (const backend of backends) {
      await expect(
        verifyEd25519Strict(backend, alice.publicKey, message, sig, alice.address),
      ).resolves.toBeUndefined();
      const e = await expectCodeAsync(
        () => verifyEd25519Strict(backend, alice.publicKey, utf8("hellO"), sig, alice.address),
        ErrorCode.BAD_SIGNATURE,
      );
      expect(e.context).toEqual({ signer: alice.address });
    }
  });

  it("uses an async-only backend's verify when it has no verifySync", async () => {
    const calls: number[] = [];
    const asyncOnly: Ed25519Backend = {
      name: "async-only",
      verify: async (pk, msg, s) => {
        calls.push(1);
        return ed25519.verify(s, msg, pk, { zip215: false });
      },
    };
    await verifyEd25519Strict(asyncOnly, alice.publicKey, message, sig, "a");
    await expectCodeAsync(
      () => verifyEd25519Strict(asyncOnly, alice.publicKey, utf8("x"), sig, "a"),
      ErrorCode.BAD_SIGNATURE,
    );
    expect(calls.length).toBe(2);
  });

  it("verifyEd25519StrictSync applies the same rule with a synchronous verifier", () => {
    expect(() =>
      verifyEd25519StrictSync(nodeEd25519VerifySync, alice.publicKey, message, sig, "a"),
    ).not.toThrow();
    expectCode(
      () => verifyEd25519StrictSync(nodeEd25519VerifySync, alice.publicKey, utf8("x"), sig, "a"),
      ErrorCode.BAD_SIGNATURE,
    );
    expectCode(
      () =>
        verifyEd25519StrictSync(nodeEd25519VerifySync, le32(1n), message, withS(le32(1n), 0n), "a"),
      ErrorCode.SMALL_ORDER_PUBLIC_KEY,
    );
  });
});

describe("the node:crypto and WebCrypto backends", () => {
  const node = nodeEd25519();
  const web = webEd25519();

  it("accept the same valid signature and reject a tampered message or signature", async () => {
    const k = testKey("backend");
    const msg = utf8("sesame");
    const sig = k.sign(msg);
    const badSig = Uint8Array.from(sig);
    badSig[0] = (badSig[0] as number) ^ 1;
    for (const b of [node, web]) {
      expect(await b.verify(k.publicKey, msg, sig)).toBe(true);
      expect(await b.verify(k.publicKey, utf8("sesamE"), sig)).toBe(false);
      expect(await b.verify(k.publicKey, msg, badSig)).toBe(false);
      expect(await b.verify(testKey("other").publicKey, msg, sig)).toBe(false);
    }
    expect(nodeEd25519VerifySync(k.publicKey, msg, sig)).toBe(true);
    expect(nodeEd25519VerifySync(k.publicKey, msg, badSig)).toBe(false);
  });

  it("answer false, not throw, for keys or signatures of the wrong size", async () => {
    const k = testKey("backend");
    const msg = utf8("m");
    const sig = k.sign(msg);
    for (const b of [node, web]) {
      expect(await b.verify(new Uint8Array(31), msg, sig)).toBe(false);
      expect(await b.verify(k.publicKey, msg, sig.subarray(0, 10))).toBe(false);
    }
    expect(nodeEd25519VerifySync(new Uint8Array(5), msg, sig)).toBe(false);
  });

  it("keep verifying correctly when their key caches evict", async () => {
    const small = [nodeEd25519(1), webEd25519(globalThis.crypto.subtle, 1)];
    const keys = ["a", "b", "c"].map((l) => testKey(`cache ${l}`));
    const msg = utf8("cache");
    for (const b of small) {
      for (const round of [0, 1]) {
        for (const k of keys) {
          // Fresh arrays each round, so identity caches cannot answer.
          const pk = Uint8Array.from(k.publicKey);
          expect(await b.verify(pk, msg, k.sign(msg))).toBe(true);
          expect(await b.verify(pk, utf8(`x${round}`), k.sign(msg))).toBe(false);
        }
      }
    }
  });

  it("agree with each other and with RFC 8032 on random cases (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom("none", "message", "R", "S", "key"),
        fc.nat(),
        async (seed, msg, tamper, where) => {
          const pk = ed25519.getPublicKey(seed);
          let sig = ed25519.sign(msg, seed);
          let m = msg;
          let key = pk;
          if (tamper === "message") {
            m = Uint8Array.from([...msg, where & 0xff]);
          } else if (tamper === "R" || tamper === "S") {
            sig = Uint8Array.from(sig);
            const i = (tamper === "R" ? 0 : 32) + (where % 32);
            sig[i] = (sig[i] as number) ^ (1 << (where % 8));
          } else if (tamper === "key") {
            key = ed25519.getPublicKey(Uint8Array.from(seed, (b) => b ^ 0x5a));
          }
          const expected = tamper === "none";
          const reference = ed25519.verify(sig, m, key, { zip215: false });
          expect(reference).toBe(expected);
          expect(await node.verify(key, m, sig)).toBe(expected);
          expect(await web.verify(key, m, sig)).toBe(expected);
          expect(nodeEd25519VerifySync(key, m, sig)).toBe(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("are named", () => {
    expect(node.name).toBe("node:crypto");
    expect(web.name).toBe("WebCrypto");
  });
});

describe("small-order X25519 keys", () => {
  const X_TABLE = new Set(X25519_SMALL_ORDER_ENCODINGS.map(toHex));
  const inverse = (a: bigint) => {
    let [r, b, e] = [1n, ((a % P) + P) % P, P - 2n];
    for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
    return r;
  };

  it("holds the u = (1 + y) / (1 - y) of every Ed25519 torsion point but the identity", () => {
    for (const t of TORSION) {
      const { y } = t.toAffine();
      if (y === 1n) continue;
      expect(X_TABLE.has(toHex(le32(((1n + y) * inverse(1n - y)) % P)))).toBe(true);
    }
    expect(X_TABLE.size).toBe(7);
  });

  it("recognises every entry, with bit 255 set too, and noble refuses to agree with it", () => {
    const secret = x25519.utils.randomSecretKey();
    for (const entry of X25519_SMALL_ORDER_ENCODINGS) {
      const high = Uint8Array.from(entry);
      high[31] = (high[31] as number) | 0x80;
      for (const key of [entry, high]) {
        expect(isSmallOrderX25519(key)).toBe(true);
        expect(() => x25519.getSharedSecret(secret, key)).toThrow();
      }
    }
  });

  it("does not flag real keys", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        expect(isSmallOrderX25519(x25519.getPublicKey(seed))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

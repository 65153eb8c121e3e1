/**
 * Replays the committed interop vectors (test-vectors/*.json), read from disk as another
 * implementation would, with both Ed25519 backends; and checks that the committed files
 * are exactly what the generator produces now.
 */
import { readdirSync, readFileSync } from "node:fs";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import {
  type InvalidFile,
  runEd25519Case,
  runInvalidCase,
  runPolicySteps,
  verifyContextOf,
} from "../scripts/replay.js";
import {
  type ActionsFile,
  type Ed25519File,
  type EquivocationsFile,
  type GrantsFile,
  generateVectors,
  type PolicyFile,
  type RequestsFile,
  type RevocationsFile,
  serializeVectorFile,
} from "../scripts/vectors.js";
import { nodeEd25519 } from "../src/crypto/node-crypto.js";
import { webEd25519 } from "../src/crypto/web-crypto.js";
import {
  ACTION_KINDS,
  type ActionPayload,
  actionIdOf,
  actionSigningBytes,
  canonicalJson,
  concatBytes,
  type Ed25519Backend,
  errorName,
  fromBase58,
  fromHex,
  type Grant,
  grantTimeStatus,
  parseGrantText,
  parseRevocationText,
  requestSigningBytes,
  revocationCovers,
  toBase58,
  toHex,
  utf8,
  verifyAction,
  verifyEd25519Strict,
  verifyEquivocation,
  verifyGrant,
  verifyRevocation,
  verifySignedRequest,
} from "../src/index.js";

const DIR = new URL("../test-vectors/", import.meta.url);
const FILE_NAMES = [
  "actions",
  "ed25519",
  "equivocations",
  "grants",
  "invalid",
  "policy",
  "requests",
  "revocations",
];

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`${name}.json`, DIR), "utf8")) as T;
}

const grants = load<GrantsFile>("grants");
const actions = load<ActionsFile>("actions");
const revocations = load<RevocationsFile>("revocations");
const equivocations = load<EquivocationsFile>("equivocations");
const requests = load<RequestsFile>("requests");
const policy = load<PolicyFile>("policy");
const invalid = load<InvalidFile>("invalid");
const ed25519 = load<Ed25519File>("ed25519");

const BACKENDS: readonly Ed25519Backend[] = [nodeEd25519(), webEd25519()];

const idOf = (bytes: Uint8Array) => toBase58(sha256(bytes));
const hexOfBase58 = (text: string) => toHex(fromBase58(text, "base58"));
const ctx = verifyContextOf(grants.context);

describe("the committed vector files", () => {
  it("are exactly the files the generator produces now", async () => {
    const files = await generateVectors();
    expect(Object.keys(files).sort()).toEqual(FILE_NAMES);
    const onDisk = readdirSync(DIR)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(onDisk).toEqual(FILE_NAMES.map((n) => `${n}.json`));
    for (const [name, content] of Object.entries(files)) {
      const committed = readFileSync(new URL(`${name}.json`, DIR), "utf8");
      expect(committed, `${name}.json drifted from the generator: run npm run vectors`).toBe(
        serializeVectorFile(content),
      );
    }
  });

  it("cover every action kind and hold at least 40 invalid cases", () => {
    expect(actions.vectors.map((v) => v.kind)).toEqual(expect.arrayContaining([...ACTION_KINDS]));
    expect(invalid.cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(invalid.cases.map((c) => c.name)).size).toBe(invalid.cases.length);
    for (const kind of ["grant", "action", "revocation", "equivocation", "request", "policy"]) {
      expect(invalid.cases.some((c) => c.kind === kind)).toBe(true);
    }
  });

  it("record encodings that agree with each other (without the verifiers)", () => {
    for (const v of grants.vectors) {
      if ("textHex" in v) expect(toHex(utf8(v.text))).toBe(v.textHex);
      expect(idOf(utf8(v.text))).toBe(v.grantId);
      expect(hexOfBase58(v.signature)).toBe(v.signatureHex);
    }
    for (const v of actions.vectors) {
      const expected = concatBytes(
        Uint8Array.of(0xff),
        utf8(`sesame/1/action/${v.kind}\n`),
        utf8(v.canonicalJson),
      );
      expect(toHex(expected)).toBe(v.signedBytesHex);
      expect(idOf(expected)).toBe(v.actionId);
      expect(hexOfBase58(v.action.signature)).toBe(v.signatureHex);
    }
    for (const v of requests.vectors) {
      const expected = concatBytes(
        Uint8Array.of(0xff),
        utf8("sesame/1/request\n"),
        utf8(v.canonicalJson),
      );
      expect(toHex(expected)).toBe(v.signedBytesHex);
    }
    for (const v of revocations.vectors) {
      expect(toHex(utf8(v.text))).toBe(v.textHex);
      expect(idOf(utf8(v.text))).toBe(v.revocationId);
    }
  });
});

for (const backend of BACKENDS) {
  describe(`vectors with ${backend.name}`, () => {
    describe("grants.json", () => {
      for (const v of grants.vectors) {
        it(`${v.name}: verifies with the recorded id and parses to the recorded grant`, async () => {
          const signed =
            v.form === "message"
              ? { text: v.text, signature: v.signature }
              : { text: v.text, transaction: (v as { transaction: string }).transaction };
          const vg = await verifyGrant(signed, ctx, backend);
          expect(vg.id).toBe(v.grantId);
          expect(vg.form).toBe(v.form);
          expect(vg.signature).toBe(v.signature);
          expect(vg.grant.sessionKey).toBe(v.sessionKey);
          expect(JSON.parse(JSON.stringify(parseGrantText(v.text)))).toEqual(v.grant);
        });
      }
      for (const v of grants.vectors.filter((x) => x.form === "transaction")) {
        it(`${v.name}: the wire transaction is one signature then the signed message`, async () => {
          const t = v as unknown as {
            transaction: string;
            messageHex: string;
            signatureHex: string;
            memo: string;
            wallet: string;
            messageVector: string;
          };
          const wire = Buffer.from(t.transaction, "base64");
          expect(wire[0]).toBe(1);
          expect(toHex(wire.subarray(1, 65))).toBe(t.signatureHex);
          expect(toHex(wire.subarray(65))).toBe(t.messageHex);
          // The memo is the last instruction's data, at the end of the message.
          expect(t.messageHex.endsWith(toHex(utf8(t.memo)))).toBe(true);
          await verifyEd25519Strict(
            backend,
            fromBase58(t.wallet, "wallet"),
            fromHex(t.messageHex),
            fromHex(t.signatureHex),
            t.wallet,
          );
          const twin = grants.vectors.find((m) => m.name === t.messageVector);
          expect(twin?.grantId).toBe(v.grantId);
        });
      }
      it("timeStatus gives the recorded status", () => {
        for (const s of grants.timeStatus) {
          const v = grants.vectors.find((x) => x.name === s.grant);
          expect(v).toBeDefined();
          expect(grantTimeStatus(v?.grant as unknown as Grant, s.at, grants.context)).toBe(
            s.expected,
          );
        }
      });
    });

    describe("actions.json", () => {
      for (const v of actions.vectors) {
        it(`${v.name}: verifies with the recorded bytes and id`, async () => {
          const grant = await verifyGrant(actions.grant, ctx, backend);
          expect(grant.id).toBe(actions.grant.grantId);
          const va = await verifyAction(v.action, grant, backend);
          expect(va.id).toBe(v.actionId);
          expect(toHex(va.bytes)).toBe(v.signedBytesHex);
          expect(canonicalJson(va.payload)).toBe(v.canonicalJson);
          const payload = v.action.payload as ActionPayload;
          expect(toHex(actionSigningBytes(payload))).toBe(v.signedBytesHex);
          expect(actionIdOf(payload)).toBe(v.actionId);
        });
      }
    });

    describe("revocations.json", () => {
      for (const v of revocations.vectors) {
        it(`${v.name}: verifies, parses as recorded and covers the recorded grants`, async () => {
          const vr = await verifyRevocation(
            { text: v.text, signature: v.signature },
            revocations.context,
            backend,
          );
          expect(vr.id).toBe(v.revocationId);
          expect(JSON.parse(JSON.stringify(parseRevocationText(v.text)))).toEqual(v.revocation);
          for (const [name, expected] of Object.entries(v.covers)) {
            const g = revocations.grants[name];
            if (g === undefined) throw new Error(`unknown grant ${name}`);
            const vg = await verifyGrant(g, ctx, backend);
            expect(revocationCovers(vr.revocation, vg.grant, vg.id), name).toBe(expected);
          }
        });
      }
    });

    describe("equivocations.json", () => {
      for (const v of equivocations.vectors) {
        it(`${v.name}: is a valid proof by ${v.expectedBy}`, async () => {
          const grant = await verifyGrant(equivocations.grant, ctx, backend);
          const ve = await verifyEquivocation(v.proof, grant, backend);
          expect(ve.by).toBe(v.expectedBy);
          expect(ve.grant).toBe(equivocations.grant.grantId);
          expect({ a: ve.a.id, b: ve.b.id }).toEqual(v.actionIds);
        });
      }
    });

    describe("requests.json", () => {
      for (const v of requests.vectors) {
        it(`${v.name}: verifies with the recorded bytes`, async () => {
          const grant = await verifyGrant(requests.grant, ctx, backend);
          expect(toHex(requestSigningBytes(v.request.payload))).toBe(v.signedBytesHex);
          await expect(
            verifySignedRequest(v.request, v.expected, grant, backend),
          ).resolves.toBeUndefined();
        });
      }
    });

    describe("policy.json", () => {
      for (const s of policy.sequences) {
        it(`${s.name}: every step has the recorded outcome`, async () => {
          const grant = await verifyGrant(policy.grant, ctx, backend);
          const { results, state } = await runPolicySteps(grant, s.steps, policy.context, backend);
          expect(results).toEqual(s.steps.map((step) => step.expected));
          expect(JSON.parse(JSON.stringify(state))).toEqual(s.finalState);
        });
      }
    });

    describe("invalid.json", () => {
      for (const c of invalid.cases) {
        it(`${c.kind} ${c.name}: fails with ${c.expectedCode} ${c.expectedName}`, async () => {
          expect(errorName(c.expectedCode as Parameters<typeof errorName>[0])).toBe(c.expectedName);
          expect(await runInvalidCase(c, invalid, backend)).toBe(c.expectedCode);
        });
      }
    });

    describe("ed25519.json", () => {
      for (const c of ed25519.cases) {
        const outcome =
          c.expected.outcome === "valid" ? "is valid" : `fails with ${JSON.stringify(c.expected)}`;
        it(`${c.name}: ${outcome}`, async () => {
          expect(await runEd25519Case(c, backend)).toEqual(c.expected);
        });
      }
    });
  });
}

/**
 * An in-process tour of the protocol: a wallet signs one grant, a session key signs
 * actions, the policy engine accepts and refuses them, and a revocation ends it.
 * Everything here is the real code a node runs; only the storage is a Map.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import {
  type ActionId,
  type ActionPayload,
  actionSigningBytes,
  applyAction,
  applyRevocation,
  type Collisions,
  grantToText,
  initialSessionState,
  isProtocolError,
  type ProtocolError,
  revocationToText,
  SCOPE_OF_KIND,
  type SessionState,
  type Signature,
  toBase58,
  utf8,
  type VerifiedAction,
  type VerifiedGrant,
  validateGrant,
  validateRevocation,
  verifyAction,
  verifyGrant,
  verifyRevocation,
} from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";

const CONTEXT = { chain: "solana:localnet", network: "sesame-demo" } as const;
const backend = nodeEd25519();
const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = (s: string) => paint(32, s);
const red = (s: string) => paint(31, s);
const dim = (s: string) => paint(2, s);
const bold = (s: string) => paint(1, s);

function rawPublicKey(key: KeyObject): Uint8Array {
  return Uint8Array.from(Buffer.from(key.export({ format: "jwk" }).x as string, "base64url"));
}

function keypair(kind: "ed25519" | "x25519") {
  const { publicKey, privateKey } = generateKeyPairSync(kind as "ed25519");
  return { address: toBase58(rawPublicKey(publicKey)), privateKey };
}

/** A node's memory for one session: its state row and the actions it accepted. */
class DemoStore {
  state: SessionState;
  readonly bySeq = new Map<number, ActionId>();
  readonly byOrd = new Map<string, ActionId>();

  constructor(readonly grant: VerifiedGrant) {
    this.state = initialSessionState(grant.id);
  }

  collisions(a: VerifiedAction): Collisions {
    return {
      bySequence: this.bySeq.get(a.payload.seq) ?? null,
      byOrdinal: this.byOrd.get(`${SCOPE_OF_KIND[a.payload.kind]}/${a.payload.ord}`) ?? null,
    };
  }
}

async function main(): Promise<void> {
  const now = Date.now();
  console.log(bold("Sesame: session keys for decentralized social media on Solana\n"));

  const wallet = keypair("ed25519");
  const session = keypair("ed25519");
  const encryption = keypair("x25519");
  console.log(`wallet (identity)  ${wallet.address}`);
  console.log(`session key        ${session.address}  ${dim("(fresh, this device only)")}\n`);

  const grant = validateGrant({
    version: 1,
    domain: "demo.sesame.local",
    wallet: wallet.address,
    statement: "Let Sesame Demo post and react for me, within the limits below.",
    uri: "https://demo.sesame.local/",
    chain: CONTEXT.chain,
    network: CONTEXT.network,
    device: "Terminal demo",
    sessionKey: session.address,
    encryptionKey: encryption.address,
    scopes: ["post", "reply", "react"],
    limits: {
      post: { total: 3, perHour: 10 },
      reply: { total: 10, perHour: 2 },
      react: { total: null, perHour: 60 },
    },
    tipBudget: null,
    issuedAt: now,
    notBefore: now,
    expirationTime: now + 24 * 3_600_000,
    nonce: toBase58(randomBytes(16)),
  });
  const text = grantToText(grant);
  console.log(bold("1. The wallet is shown this text and signs it once:\n"));
  console.log(text.replace(/^/gm, "   │ "));
  const grantSignature = toBase58(sign(null, utf8(text), wallet.privateKey)) as Signature;
  const verified = await verifyGrant({ text, signature: grantSignature }, CONTEXT, backend);
  console.log(`\n   ${green("✓ grant verified")}  id ${verified.id}\n`);

  const store = new DemoStore(verified);
  let seq = 0;
  const ordinals = new Map<string, number>();
  const signed = (
    kind: ActionPayload["kind"],
    body: unknown,
    override: Partial<ActionPayload> = {},
  ) => {
    const scope = SCOPE_OF_KIND[kind];
    const ord = (ordinals.get(scope) ?? 0) + 1;
    ordinals.set(scope, ord);
    seq += 1;
    const payload = {
      v: 1,
      kind,
      grant: verified.id,
      seq,
      ord,
      ts: Date.now(),
      body,
      ...override,
    } as ActionPayload;
    return {
      payload,
      signature: toBase58(sign(null, actionSigningBytes(payload), session.privateKey)),
    };
  };

  const submit = async (label: string, wire: unknown, grantFor: VerifiedGrant = verified) => {
    let outcome: string;
    try {
      const action = await verifyAction(wire, grantFor, backend);
      const result = applyAction(store.state, grant, action, Date.now(), store.collisions(action));
      if (result.ok) {
        store.state = result.value.state;
        store.bySeq.set(action.payload.seq, action.id);
        store.byOrd.set(`${SCOPE_OF_KIND[action.payload.kind]}/${action.payload.ord}`, action.id);
        outcome = result.value.duplicate
          ? green("✓ duplicate: same answer, stored once")
          : green(`✓ accepted  ${dim(action.id.slice(0, 12))}`);
      } else {
        outcome = refusal(result.error);
      }
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      outcome = refusal(e);
    }
    console.log(`   ${label.padEnd(46)} ${outcome}`);
  };
  const refusal = (e: ProtocolError) => red(`✗ ${e.code} ${e.name}: ${e.message}`);

  console.log(bold("2. The app acts with the session key, with no more prompts:\n"));
  const first = signed("post", { text: "gm from a session key", links: [], mentions: [] });
  await submit("post #1", first);
  await submit(
    "post #2",
    signed("post", { text: "no wallet prompt needed", links: [], mentions: [] }),
  );
  await submit(
    "react to post #1",
    signed("react", { target: store.bySeq.get(1), reaction: "like" }),
  );
  await submit("post #1 sent again (network retry)", first);
  await submit("post #3", signed("post", { text: "third and last", links: [], mentions: [] }));
  await submit(
    "post #4 (cap is 3)",
    signed("post", { text: "one too many", links: [], mentions: [] }),
  );
  await submit(
    "reply #1",
    signed("reply", { parent: store.bySeq.get(1), text: "replying", links: [], mentions: [] }),
  );
  await submit(
    "reply #2",
    signed("reply", { parent: store.bySeq.get(1), text: "again", links: [], mentions: [] }),
  );
  await submit(
    "reply #3 (rate is 2 per hour)",
    signed("reply", { parent: store.bySeq.get(1), text: "and again", links: [], mentions: [] }),
  );
  await submit("follow (not granted)", signed("follow", { target: wallet.address }));
  const tampered = signed("react", { target: store.bySeq.get(1), reaction: "like" });
  await submit("a react whose text was altered in transit", {
    ...tampered,
    payload: { ...tampered.payload, body: { target: store.bySeq.get(1), reaction: "dislike" } },
  });
  await submit(
    "stamped 10 minutes in the future",
    signed("react", { target: store.bySeq.get(1), reaction: "fire" }, { ts: Date.now() + 600_000 }),
  );
  await submit("post signed by another key", {
    ...signed("post", { text: "forged", links: [], mentions: [] }),
    signature: toBase58(sign(null, utf8("x"), keypair("ed25519").privateKey)),
  });

  console.log(bold("\n3. The wallet revokes the session (one signature, from any device):\n"));
  const revocation = validateRevocation({
    version: 1,
    wallet: wallet.address,
    network: CONTEXT.network,
    target: { kind: "grant", grant: verified.id },
    compromisedSince: null,
    issuedAt: Date.now(),
    nonce: toBase58(randomBytes(16)),
  });
  const revText = revocationToText(revocation);
  console.log(revText.replace(/^/gm, "   │ "));
  const vr = await verifyRevocation(
    {
      text: revText,
      signature: toBase58(sign(null, utf8(revText), wallet.privateKey)) as Signature,
    },
    CONTEXT,
    backend,
  );
  store.state = applyRevocation(store.state, vr.revocation, Date.now());
  console.log(`\n   ${green("✓ revocation verified and applied")}\n`);
  await submit(
    "react after revocation",
    signed("react", { target: store.bySeq.get(1), reaction: "like" }),
  );

  const used = Object.entries(store.state.used)
    .map(([scope, n]) => `${scope} ${n}`)
    .join(", ");
  console.log(
    `\n   session ${store.state.status}; accepted: ${used}. History stays: nothing was deleted.`,
  );
  console.log(
    dim("\n   Run the tests with `npm test`; the protocol is specified in docs/PROTOCOL.md."),
  );
}

await main();

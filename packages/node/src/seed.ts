import { generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import {
  type ActionPayload,
  actionSigningBytes,
  type BodyOfKind,
  grantToText,
  SCOPE_OF_KIND,
  type Signature,
  toBase58,
  utf8,
  validateGrant,
} from "@sesame/protocol";
import { sql } from "kysely";
import type { NodeContext } from "./context.js";
import { registerGrant } from "./grants.js";

function raw(key: KeyObject): Uint8Array {
  return Uint8Array.from(Buffer.from(key.export({ format: "jwk" }).x as string, "base64url"));
}

interface DemoUser {
  readonly name: string;
  readonly wallet: string;
  readonly grant: string;
  readonly sessionKey: KeyObject;
  seq: number;
  readonly ords: Map<string, number>;
}

const PEOPLE = [
  { name: "Alice", bio: "Builds wallets. Thinks session keys should be boring." },
  { name: "Bob", bio: "Solana validator operator, occasional poet." },
  { name: "Carol", bio: "Writes about decentralized social media." },
  { name: "Dave", bio: "Here for the memes." },
];

const POSTS = [
  "gm! First post from a session key: one wallet prompt, then no more.",
  "Session keys that can only post, with a cap I chose. Finally.",
  "Revoked my old laptop's session from my phone. Took one click.",
  "Every post here is signed; anyone can check the caps were kept.",
  "Reading the grant text before signing is underrated.",
  "Tipping through an SPL delegate allowance: the chain enforces the budget.",
  "Federation means my grant works on every Sesame node.",
  "Hot take: wallet prompts for every like were never going to work.",
];

/** A PostgreSQL advisory lock key of its own ("sesame seed"). */
const SEED_LOCK = 0x5e5a_5eed;

/**
 * Seeds demo data (wallets, sessions, profiles, posts, replies, follows, reactions) once.
 * On PostgreSQL, nodes started together on one fresh schema seed one after the other under
 * an advisory lock (database-wide: nodes of other schemas merely wait), so only the first seeds.
 */
export async function seedDemo(ctx: NodeContext): Promise<{ seeded: boolean; wallets: string[] }> {
  if (ctx.storage.engine !== "postgres") return await seedOnce(ctx);
  return await ctx.storage.db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${SEED_LOCK})`.execute(conn);
    try {
      return await seedOnce(ctx);
    } finally {
      await sql`SELECT pg_advisory_unlock(${SEED_LOCK})`.execute(conn);
    }
  });
}

async function seedOnce(ctx: NodeContext): Promise<{ seeded: boolean; wallets: string[] }> {
  const existing = await ctx.storage.db.selectFrom("grants").select("id").limit(1).execute();
  if (existing.length > 0) return { seeded: false, wallets: [] };
  const now = ctx.clock();
  const users: DemoUser[] = [];
  for (const person of PEOPLE) {
    const wallet = generateKeyPairSync("ed25519");
    const session = generateKeyPairSync("ed25519");
    const enc = generateKeyPairSync("x25519");
    const grant = validateGrant({
      version: 1,
      domain: "demo.sesame.local",
      wallet: toBase58(raw(wallet.publicKey)),
      statement: "Seeded demo session: post, reply, react, follow and edit my profile.",
      uri: "https://demo.sesame.local/",
      chain: ctx.config.verify.chain,
      network: ctx.config.verify.network,
      device: `${person.name}'s seeded device`,
      sessionKey: toBase58(raw(session.publicKey)),
      encryptionKey: toBase58(raw(enc.publicKey)),
      scopes: ["post", "reply", "react", "follow", "profile"],
      limits: {
        post: { total: 100, perHour: 30 },
        reply: { total: 200, perHour: 60 },
        react: { total: null, perHour: 300 },
        follow: { total: 500, perHour: null },
        profile: { total: 20, perHour: 10 },
      },
      tipBudget: null,
      issuedAt: now - 60_000,
      notBefore: now - 60_000,
      expirationTime: now + 7 * 24 * 3_600_000,
      nonce: toBase58(randomBytes(16)),
    });
    const text = grantToText(grant);
    const signature = toBase58(sign(null, utf8(text), wallet.privateKey)) as Signature;
    const reg = await registerGrant(
      ctx.storage.db,
      ctx.grants,
      { text, signature },
      ctx.config.verify,
      ctx.backend,
      now,
      ctx.config.policy,
    );
    users.push({
      name: person.name,
      wallet: grant.wallet,
      grant: reg.id,
      sessionKey: session.privateKey,
      seq: 0,
      ords: new Map(),
    });
  }
  let clock = now - 50_000;
  const act = async <K extends ActionPayload["kind"]>(
    u: DemoUser,
    kind: K,
    body: BodyOfKind[K],
  ): Promise<string> => {
    const scope = SCOPE_OF_KIND[kind];
    const ord = (u.ords.get(scope) ?? 0) + 1;
    u.ords.set(scope, ord);
    u.seq += 1;
    clock += 1000;
    const payload = {
      v: 1,
      kind,
      grant: u.grant,
      seq: u.seq,
      ord,
      ts: clock,
      body,
    } as ActionPayload;
    const signature = toBase58(sign(null, actionSigningBytes(payload), u.sessionKey));
    const [r] = await ctx.ingest.submit([{ payload, signature }]);
    if (r === undefined || !r.ok) throw new Error(`seeding failed: ${JSON.stringify(r)}`);
    return r.id;
  };
  const [alice, bob, carol, dave] = users as [DemoUser, DemoUser, DemoUser, DemoUser];
  for (const [i, u] of users.entries()) {
    const person = PEOPLE[i] as (typeof PEOPLE)[number];
    await act(u, "profile", { displayName: person.name, bio: person.bio, avatarUrl: "" });
  }
  for (const [follower, targets] of [
    [alice, [bob, carol]],
    [bob, [alice, carol, dave]],
    [carol, [alice]],
    [dave, [alice, bob, carol]],
  ] as const) {
    for (const t of targets) await act(follower, "follow", { target: t.wallet as never });
  }
  const posts: string[] = [];
  for (const [i, text] of POSTS.entries()) {
    posts.push(
      await act(users[i % users.length] as DemoUser, "post", { text, links: [], mentions: [] }),
    );
  }
  const first = posts[0] as string;
  const reply1 = await act(bob, "reply", {
    parent: first as never,
    text: "Welcome! Same here: one prompt and done.",
    links: [],
    mentions: [],
  });
  await act(carol, "reply", {
    parent: reply1 as never,
    text: "And the caps are visible in the sessions list.",
    links: [],
    mentions: [],
  });
  await act(dave, "reply", {
    parent: posts[2] as never,
    text: "Which app did you use to revoke?",
    links: [],
    mentions: [],
  });
  for (const u of [bob, carol, dave])
    await act(u, "react", { target: first as never, reaction: "like" });
  await act(alice, "react", { target: posts[1] as never, reaction: "like" });
  await act(carol, "react", { target: posts[3] as never, reaction: "fire" });
  return { seeded: true, wallets: users.map((u) => u.wallet) };
}

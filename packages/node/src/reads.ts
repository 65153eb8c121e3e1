import { ErrorCode, ProtocolError, parseGrantText, type SessionState } from "@sesame/protocol";
import { type Kysely, sql } from "kysely";
import type { Database } from "./db/schema.js";

/** One stored action as served: its exact payload and signature, so any reader can verify it. */
export interface ServedAction {
  readonly id: string;
  readonly logId: number;
  readonly kind: string;
  readonly wallet: string;
  readonly grant: string;
  readonly receivedAt: number;
  readonly payload: unknown;
  readonly signature: string;
}

export interface ServedPost extends ServedAction {
  readonly replies: number;
  readonly reactions: Readonly<Record<string, number>>;
}

export interface Page<T> {
  readonly items: T[];
  /** Pass as `cursor` for the next (older) page; null at the end. */
  readonly next: string | null;
}

export interface PageQuery {
  readonly cursor?: string | undefined;
  readonly limit?: number | undefined;
}

export const MAX_PAGE = 100;
const DEFAULT_PAGE = 30;

interface ActionRow {
  id: string;
  log_id: number;
  kind: string;
  wallet: string;
  grant_id: string;
  received_at: number;
  payload: string;
  signature: string;
}

const ACTION_COLUMNS = [
  "id",
  "log_id",
  "kind",
  "wallet",
  "grant_id",
  "received_at",
  "payload",
  "signature",
] as const;

function served(row: ActionRow): ServedAction {
  return {
    id: row.id,
    logId: row.log_id,
    kind: row.kind,
    wallet: row.wallet,
    grant: row.grant_id,
    receivedAt: row.received_at,
    payload: JSON.parse(row.payload),
    signature: row.signature,
  };
}

/** Cursors are the log id of the last item served; pages run newest first. */
function pageBounds(q: PageQuery): { before: number; limit: number } {
  const limit = Math.min(Math.max(q.limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
  const before =
    q.cursor === undefined || q.cursor === "" ? Number.MAX_SAFE_INTEGER : Number(q.cursor);
  return { before: Number.isSafeInteger(before) ? before : Number.MAX_SAFE_INTEGER, limit };
}

function toPage<T extends { logId: number }>(items: T[], limit: number): Page<T> {
  const last = items[items.length - 1];
  return { items, next: items.length === limit && last !== undefined ? String(last.logId) : null };
}

interface PostRow extends ActionRow {
  replies: number;
  /** JSON object: reaction -> count. */
  reactions: string;
}

/**
 * The columns of a served post, from `actions a`, with its visible reply count and its
 * active reactions by kind computed in the same statement (one round trip per page).
 */
const POST_COLUMNS = sql`a.id, a.log_id, a.kind, a.wallet, a.grant_id, a.received_at, a.payload,
  a.signature,
  (SELECT count(*) FROM actions r WHERE r.parent = a.id AND r.kind = 'reply' AND NOT r.hidden)
    AS replies,
  (SELECT coalesce(json_object_agg(x.reaction, x.n), '{}')::text FROM (
    SELECT reaction, count(*) AS n FROM reactions WHERE target = a.id AND active GROUP BY reaction
  ) x) AS reactions`;

function servedPost(row: PostRow): ServedPost {
  return {
    ...served(row),
    replies: Number(row.replies),
    reactions: JSON.parse(row.reactions) as Record<string, number>,
  };
}

async function posts(db: Kysely<Database>, query: ReturnType<typeof sql>): Promise<ServedPost[]> {
  return (await sql<PostRow>`${query}`.execute(db)).rows.map(servedPost);
}

/** The global feed: every visible post, newest first. */
export async function globalFeed(db: Kysely<Database>, q: PageQuery): Promise<Page<ServedPost>> {
  const { before, limit } = pageBounds(q);
  const items = await posts(
    db,
    sql`SELECT ${POST_COLUMNS} FROM actions a
      WHERE a.kind = 'post' AND a.log_id < ${before} AND NOT a.hidden
      ORDER BY a.log_id DESC LIMIT ${limit}`,
  );
  return toPage(items, limit);
}

/**
 * Posts of the wallets `wallet` follows, newest first. Each followed wallet's newest page
 * comes from its own index range (wallet, kind, log_id), then the pages merge: the cost
 * grows with the number of follows, not with the size of the global log.
 */
export async function followingFeed(
  db: Kysely<Database>,
  wallet: string,
  q: PageQuery,
): Promise<Page<ServedPost>> {
  const { before, limit } = pageBounds(q);
  const items = await posts(
    db,
    sql`SELECT ${POST_COLUMNS} FROM follows f
      CROSS JOIN LATERAL (
        SELECT * FROM actions
        WHERE wallet = f.target AND kind = 'post' AND log_id < ${before} AND NOT hidden
        ORDER BY log_id DESC
        LIMIT ${limit}
      ) a
      WHERE f.follower = ${wallet} AND f.following
      ORDER BY a.log_id DESC
      LIMIT ${limit}`,
  );
  return toPage(items, limit);
}

export async function walletPosts(
  db: Kysely<Database>,
  wallet: string,
  q: PageQuery,
): Promise<Page<ServedPost>> {
  const { before, limit } = pageBounds(q);
  const items = await posts(
    db,
    sql`SELECT ${POST_COLUMNS} FROM actions a
      WHERE a.wallet = ${wallet} AND a.kind = 'post' AND a.log_id < ${before} AND NOT a.hidden
      ORDER BY a.log_id DESC LIMIT ${limit}`,
  );
  return toPage(items, limit);
}

/** A post or reply by id, with counts; undefined when absent or hidden. */
export async function getPost(db: Kysely<Database>, id: string): Promise<ServedPost | undefined> {
  const [post] = await posts(
    db,
    sql`SELECT ${POST_COLUMNS} FROM actions a
      WHERE a.id = ${id} AND a.kind IN ('post', 'reply') AND NOT a.hidden`,
  );
  return post;
}

/**
 * A thread: the root post and its replies at every depth, oldest first (conversation
 * order), paged forward by log id.
 */
export async function thread(
  db: Kysely<Database>,
  id: string,
  q: PageQuery,
): Promise<{ root: ServedPost; replies: Page<ServedPost> } | undefined> {
  const start = await getPost(db, id);
  if (start === undefined) return undefined;
  const rootId = start.kind === "post" ? start.id : await findRoot(db, start.id);
  const root = rootId === start.id ? start : ((await getPost(db, rootId)) ?? start);
  const limit = Math.min(Math.max(q.limit ?? 50, 1), MAX_PAGE);
  const after = q.cursor === undefined ? 0 : Number(q.cursor) || 0;
  const items = await posts(
    db,
    sql`WITH RECURSIVE t(id) AS (
        SELECT ${root.id}::text
        UNION
        SELECT a.id FROM actions a JOIN t ON a.parent = t.id WHERE a.kind = 'reply'
      )
      SELECT ${POST_COLUMNS}
      FROM actions a JOIN t ON a.id = t.id
      WHERE a.kind = 'reply' AND NOT a.hidden AND a.log_id > ${after}
      ORDER BY a.log_id ASC
      LIMIT ${limit}`,
  );
  const last = items[items.length - 1];
  return {
    root,
    replies: {
      items,
      next: items.length === limit && last !== undefined ? String(last.logId) : null,
    },
  };
}

async function findRoot(db: Kysely<Database>, id: string): Promise<string> {
  const row = (
    await sql<{ id: string }>`
      WITH RECURSIVE up(id, parent, depth) AS (
        SELECT id, parent, 0 FROM actions WHERE id = ${id}
        UNION ALL
        SELECT a.id, a.parent, up.depth + 1 FROM actions a JOIN up ON a.id = up.parent
        WHERE up.depth < 1000
      )
      SELECT id FROM up WHERE parent IS NULL OR NOT EXISTS (SELECT 1 FROM actions WHERE id = up.parent)
      ORDER BY depth DESC LIMIT 1`.execute(db)
  ).rows[0];
  return row?.id ?? id;
}

/** One current reaction, with the signed react action that set it (so a reader verifies it). */
export interface ServedReaction {
  readonly wallet: string;
  readonly reaction: string;
  readonly ts: number;
  /** The id of the action that set it: `signed.id`. */
  readonly action: string;
  readonly logId: number;
  readonly signed: ServedAction;
}

/**
 * The current reactions to a post or reply: counts by reaction over all of them, and who
 * reacted, newest first, paged by the log id of the action that set each reaction.
 * Undefined when there is no such (visible) post or reply.
 */
export async function reactionsOf(
  db: Kysely<Database>,
  target: string,
  q: PageQuery = {},
): Promise<
  | {
      counts: Record<string, number>;
      items: ServedReaction[];
      next: string | null;
    }
  | undefined
> {
  const post = await db
    .selectFrom("actions")
    .select("id")
    .where("id", "=", target)
    .where("kind", "in", ["post", "reply"])
    .where("hidden", "=", false)
    .executeTakeFirst();
  if (post === undefined) return undefined;
  const { before, limit } = pageBounds(q);
  const [rows, counted] = await Promise.all([
    db
      .selectFrom("reactions as r")
      .innerJoin("actions as a", "a.id", "r.action_id")
      .select([
        "r.wallet",
        "r.reaction",
        "r.ts",
        "r.action_id",
        "a.log_id",
        "a.kind",
        "a.grant_id",
        "a.received_at",
        "a.payload",
        "a.signature",
      ])
      .where("r.target", "=", target)
      .where("r.active", "=", true)
      .where("a.log_id", "<", before)
      .orderBy("a.log_id", "desc")
      .limit(limit)
      .execute(),
    db
      .selectFrom("reactions")
      .select(["reaction", (eb) => eb.fn.countAll<string>().as("n")])
      .where("target", "=", target)
      .where("active", "=", true)
      .groupBy("reaction")
      .execute(),
  ]);
  const counts: Record<string, number> = {};
  for (const c of counted) counts[c.reaction] = Number(c.n);
  const items = rows.map((r) => ({
    wallet: r.wallet,
    reaction: r.reaction,
    ts: Number(r.ts),
    action: r.action_id,
    logId: Number(r.log_id),
    signed: served({
      id: r.action_id,
      log_id: Number(r.log_id),
      kind: r.kind,
      wallet: r.wallet,
      grant_id: r.grant_id,
      received_at: Number(r.received_at),
      payload: r.payload,
      signature: r.signature,
    }),
  }));
  return { counts, ...toPage(items, limit) };
}

export interface ServedProfile {
  readonly wallet: string;
  readonly displayName: string;
  readonly bio: string;
  readonly avatarUrl: string;
  readonly updatedBy: string | null;
  readonly posts: number;
  readonly followers: number;
  readonly following: number;
  /**
   * The wallet-session-signed profile action the name, bio and avatar come from (null when
   * the wallet never set one), so a reader verifies them; the counts are the node's word.
   */
  readonly action: ServedAction | null;
}

export async function profile(db: Kysely<Database>, wallet: string): Promise<ServedProfile> {
  const p = await db
    .selectFrom("profiles")
    .selectAll()
    .where("wallet", "=", wallet)
    .executeTakeFirst();
  const counts = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom("actions")
        .select((e) => e.fn.countAll<number>().as("n"))
        .where("wallet", "=", wallet)
        .where("kind", "=", "post")
        .where("hidden", "=", false)
        .as("posts"),
      eb
        .selectFrom("follows")
        .select((e) => e.fn.countAll<number>().as("n"))
        .where("target", "=", wallet)
        .where("following", "=", true)
        .as("followers"),
      eb
        .selectFrom("follows")
        .select((e) => e.fn.countAll<number>().as("n"))
        .where("follower", "=", wallet)
        .where("following", "=", true)
        .as("following"),
    ])
    .executeTakeFirstOrThrow();
  const action =
    p === undefined
      ? undefined
      : await db
          .selectFrom("actions")
          .select(ACTION_COLUMNS)
          .where("id", "=", p.action_id)
          .executeTakeFirst();
  return {
    wallet,
    displayName: p?.display_name ?? "",
    bio: p?.bio ?? "",
    avatarUrl: p?.avatar_url ?? "",
    updatedBy: p?.action_id ?? null,
    posts: Number(counts.posts),
    followers: Number(counts.followers),
    following: Number(counts.following),
    action: action === undefined ? null : served(action),
  };
}

export interface ServedSession {
  readonly grant: string;
  readonly app: string;
  readonly device: string;
  readonly sessionKey: string;
  readonly encryptionKey: string;
  readonly scopes: string[];
  readonly limits: unknown;
  readonly tipBudget: unknown;
  readonly used: Readonly<Record<string, number>>;
  /** Highest sequence number and per-scope ordinals accepted (clients resume above them). */
  readonly maxSeq: number;
  readonly maxOrd: Readonly<Record<string, number>>;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expirationTime: number;
  readonly status: "active" | "pending" | "expired" | "revoked";
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
  readonly compromisedSince: number | null;
  /** The grant as signed, so a reader can verify it. */
  readonly text: string;
  readonly signature: string;
  /**
   * For a session revoked by a revocation: the first stored wallet-signed revocation that
   * covers it, so a reader verifies the status instead of taking the node's word.
   */
  readonly revocation?: { readonly text: string; readonly signature: string };
}

/** Ties of `issuedAt` go by grant id in byte order, whatever the database's collation. */
const GRANT_ID_BYTES = sql<string>`g.id COLLATE "C"`;

/** A sessions page's cursor: `<issuedAt>:<grantId>` of the last session served. */
export const SESSIONS_CURSOR = /^([0-9]{1,16}):([1-9A-HJ-NP-Za-km-z]{32,44})$/;

/**
 * A wallet's sessions, newest grant first (ties by grant id), with their usage so far and
 * status at `now`, a page at a time. `cursor` is the `next` of the previous page.
 */
export async function sessionsOf(
  db: Kysely<Database>,
  wallet: string,
  now: number,
  q: PageQuery = {},
): Promise<Page<ServedSession>> {
  const limit = Math.min(Math.max(q.limit ?? MAX_PAGE, 1), MAX_PAGE);
  const after = q.cursor === undefined || q.cursor === "" ? null : SESSIONS_CURSOR.exec(q.cursor);
  if (q.cursor !== undefined && q.cursor !== "" && after === null)
    throw new ProtocolError(ErrorCode.INVALID_FIELD, {
      field: "query.cursor",
      reason: "must be <issuedAt>:<grantId>, the `next` of the previous page",
    });
  let query = db
    .selectFrom("grants as g")
    .innerJoin("sessions as s", "s.grant_id", "g.id")
    .select([
      "g.id",
      "g.domain",
      "g.device",
      "g.session_key",
      "g.encryption_key",
      "g.text",
      "g.signature",
      "g.issued_at",
      "g.not_before",
      "g.expiration_time",
      "s.state",
      "s.status",
      "s.revoked_at",
      "s.revoked_by",
      "s.compromised_since",
    ])
    .where("g.wallet", "=", wallet);
  if (after !== null) {
    const issuedAt = Number(after[1]);
    const id = after[2] as string;
    query = query.where((eb) =>
      eb.or([
        eb("g.issued_at", "<", issuedAt),
        eb.and([eb("g.issued_at", "=", issuedAt), eb(GRANT_ID_BYTES, ">", id)]),
      ]),
    );
  }
  const rows = await query
    .orderBy("g.issued_at", "desc")
    .orderBy(GRANT_ID_BYTES)
    .limit(limit)
    .execute();
  const revocations = rows.some((r) => r.status === "revoked" && r.revoked_by === "revocation")
    ? await db
        .selectFrom("revocations")
        .select(["text", "signature", "target_grant", "issued_before"])
        .where("wallet", "=", wallet)
        .orderBy("log_id")
        .execute()
    : [];
  const items = rows.map((r): ServedSession => {
    const revocation =
      r.status === "revoked" && r.revoked_by === "revocation"
        ? revocations.find((v) =>
            v.target_grant === null
              ? v.issued_before !== null && r.issued_at < v.issued_before
              : v.target_grant === r.id,
          )
        : undefined;
    const grant = parseGrantText(r.text);
    const state = JSON.parse(r.state) as SessionState;
    const status =
      r.status === "revoked"
        ? "revoked"
        : now >= r.expiration_time
          ? "expired"
          : now < r.not_before
            ? "pending"
            : "active";
    return {
      grant: r.id,
      app: r.domain,
      device: r.device,
      sessionKey: r.session_key,
      encryptionKey: r.encryption_key,
      scopes: [...grant.scopes],
      limits: grant.limits,
      tipBudget: grant.tipBudget,
      used: state.used,
      maxSeq: state.maxSeq,
      maxOrd: state.maxOrd,
      issuedAt: r.issued_at,
      notBefore: r.not_before,
      expirationTime: r.expiration_time,
      status,
      revokedAt: r.revoked_at,
      revokedBy: r.revoked_by,
      compromisedSince: r.compromised_since,
      text: r.text,
      signature: r.signature,
      ...(revocation === undefined
        ? {}
        : { revocation: { text: revocation.text, signature: revocation.signature } }),
    };
  });
  const last = items[items.length - 1];
  return {
    items,
    next: items.length === limit && last !== undefined ? `${last.issuedAt}:${last.grant}` : null,
  };
}

/** Direct messages to or from a wallet (ciphertext only), newest first. */
export async function inbox(
  db: Kysely<Database>,
  wallet: string,
  q: PageQuery,
): Promise<Page<ServedAction>> {
  const { before, limit } = pageBounds(q);
  const rows = await db
    .selectFrom("actions")
    .select(ACTION_COLUMNS)
    .where("kind", "=", "dm")
    .where((eb) => eb.or([eb("target", "=", wallet), eb("wallet", "=", wallet)]))
    .where("log_id", "<", before)
    .where("hidden", "=", false)
    .orderBy("log_id", "desc")
    .limit(limit)
    .execute();
  return toPage(rows.map(served), limit);
}

export async function getGrant(
  db: Kysely<Database>,
  id: string,
): Promise<
  | {
      id: string;
      wallet: string;
      text: string;
      signature: string;
      form: string;
      transaction: string | null;
    }
  | undefined
> {
  return await db
    .selectFrom("grants")
    .select(["id", "wallet", "text", "signature", "form", "transaction"])
    .where("id", "=", id)
    .executeTakeFirst();
}

/**
 * Everything accepted after `afterLogId`, oldest first: the stream's backlog. Direct
 * messages and hidden actions are left out; a revocation lists, in `hidden`, the actions
 * it hid ("compromised since T"), so live readers can remove them.
 */
export async function logSince(
  db: Kysely<Database>,
  afterLogId: number,
  limit: number,
): Promise<{ logId: number; type: string; data: unknown }[]> {
  const rows = (
    await sql<{ log_id: number; type: string; data: string }>`
      SELECT * FROM (
        SELECT log_id, 'action' AS type,
          json_build_object('id', id, 'kind', kind, 'wallet', wallet, 'grant', grant_id, 'receivedAt', received_at,
            'payload', payload::json, 'signature', signature)::text AS data
        FROM actions WHERE log_id > ${afterLogId} AND NOT hidden AND kind <> 'dm'
        UNION ALL
        SELECT log_id, 'grant', json_build_object('id', id, 'wallet', wallet, 'text', text, 'signature', signature)::text
        FROM grants WHERE log_id > ${afterLogId}
        UNION ALL
        SELECT log_id, 'revocation', json_build_object('id', id, 'wallet', wallet, 'text', text, 'signature', signature,
          'hidden', CASE WHEN r.compromised_since IS NULL THEN '[]'::json ELSE (
            SELECT coalesce(json_agg(a.id ORDER BY a.log_id), '[]'::json)
            FROM actions a JOIN grants g ON g.id = a.grant_id
            WHERE a.wallet = r.wallet AND a.hidden AND a.kind <> 'dm' AND a.received_at >= r.compromised_since
              AND a.log_id < r.log_id
              AND (a.grant_id = r.target_grant OR (r.target_grant IS NULL AND g.issued_at < r.issued_before))
          ) END)::text
        FROM revocations r WHERE log_id > ${afterLogId}
        UNION ALL
        SELECT log_id, 'equivocation', json_build_object('id', id, 'grant', grant_id, 'by', by,
          'a', action_a::json, 'b', action_b::json)::text
        FROM equivocations WHERE log_id > ${afterLogId}
      ) log ORDER BY log_id ASC LIMIT ${limit}`.execute(db)
  ).rows;
  return rows.map((r) => ({ logId: r.log_id, type: r.type, data: JSON.parse(r.data) }));
}

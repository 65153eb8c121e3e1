import { type Kysely, sql } from "kysely";
import type { Database } from "./db/schema.js";

/** Largest page `GET /v1/sync` serves. */
export const SYNC_MAX_LIMIT = 5000;
export const SYNC_DEFAULT_LIMIT = 1000;
/**
 * A page stops early past this many characters of items (at least one item is always
 * served): under 32 MiB of UTF-8, well below what a puller accepts (64 MiB), even for
 * pages of the largest DMs.
 */
export const SYNC_MAX_PAGE_CHARS = 8 * 1024 * 1024;

/** One page of this node's log as served to peers: a JSON text, built by the database. */
export interface SyncPageText {
  /** `{"items":[...],"next":"<cursor>","head":<log id>}` */
  readonly json: string;
  readonly count: number;
  readonly next: number;
  readonly head: number;
}

/**
 * Reads the log after `after`, in log-id order: grants, actions (DMs as ciphertext; not
 * what a compromise revocation hid), revocations and equivocation proofs, each as the
 * exact signed message a client sent, so a peer can verify it by itself.
 *
 * One statement, so one snapshot: `head` is the newest log id visible in it. Log ids are
 * assigned under the log lock held until commit, so every id at or below `head` is settled
 * (committed or never will be); a page shorter than `limit` therefore moves the cursor to
 * `head`, past ids that were rolled back or hidden.
 */
export async function readSyncPage(
  db: Kysely<Database>,
  after: number,
  limit: number,
  maxChars: number = SYNC_MAX_PAGE_CHARS,
): Promise<SyncPageText> {
  const { rows } = await sql<{
    head: number | null;
    n: number;
    kept: number;
    last: number | null;
    items: string | null;
  }>`
    WITH page AS (
      SELECT log_id, item FROM (
        SELECT log_id, '{"logId":' || log_id || ',"type":"action","id":"' || id
          || '","message":{"payload":' || payload || ',"signature":"' || signature || '"}}' AS item
        FROM actions WHERE log_id > ${after} AND NOT hidden
        UNION ALL
        SELECT log_id, '{"logId":' || log_id || ',"type":"grant","id":"' || id
          || '","message":{"text":' || to_json(text)::text
          || CASE WHEN form = 'transaction' THEN ',"transaction":' || to_json(transaction)::text
             ELSE ',"signature":"' || signature || '"' END || '}}'
        FROM grants WHERE log_id > ${after}
        UNION ALL
        SELECT log_id, '{"logId":' || log_id || ',"type":"revocation","id":"' || id
          || '","message":{"text":' || to_json(text)::text || ',"signature":"' || signature || '"}}'
        FROM revocations WHERE log_id > ${after}
        UNION ALL
        SELECT log_id, '{"logId":' || log_id || ',"type":"equivocation","id":"' || id
          || '","message":{"a":' || action_a || ',"b":' || action_b || '}}'
        FROM equivocations WHERE log_id > ${after} AND action_a <> 'null'
      ) log ORDER BY log_id LIMIT ${limit}
    ),
    sized AS (
      SELECT log_id, item, sum(length(item)) OVER (ORDER BY log_id) AS chars,
        row_number() OVER (ORDER BY log_id) AS n
      FROM page
    ),
    kept AS (SELECT log_id, item FROM sized WHERE chars <= ${maxChars} OR n = 1)
    SELECT
      greatest((SELECT max(log_id) FROM actions), (SELECT max(log_id) FROM grants),
        (SELECT max(log_id) FROM revocations), (SELECT max(log_id) FROM equivocations)) AS head,
      (SELECT count(*) FROM page)::int8 AS n,
      (SELECT count(*) FROM kept)::int8 AS kept,
      (SELECT max(log_id) FROM kept) AS last,
      (SELECT string_agg(item, ',' ORDER BY log_id) FROM kept) AS items`.execute(db);
  const row = rows[0];
  const head = Number(row?.head ?? 0);
  const read = Number(row?.n ?? 0);
  const count = Number(row?.kept ?? 0);
  // A full page (by count or by size) resumes after its last item; a short one is
  // everything up to head.
  const next = read >= limit || count < read ? Number(row?.last ?? after) : Math.max(after, head);
  return {
    json: `{"items":[${row?.items ?? ""}],"next":"${next}","head":${head}}`,
    count,
    next,
    head,
  };
}

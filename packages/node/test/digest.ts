import { type Kysely, sql } from "kysely";
import type { Database } from "../src/index.js";

/** Every row of every table of a node's schema, sorted: what "nothing changed" compares. */
export type Digest = Readonly<Record<string, readonly string[]>>;

export async function digest(db: Kysely<Database>): Promise<Digest> {
  const tables = await sql<{ name: string }>`
    SELECT tablename AS name FROM pg_tables
    WHERE schemaname = current_schema() AND tablename NOT LIKE 'kysely%'
    ORDER BY tablename`.execute(db);
  const out: Record<string, string[]> = {};
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(name)}`.execute(db);
    out[name] = rows.rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort();
  }
  return out;
}

/** What `after` has that `before` has not, and the reverse, table by table (empty tables omitted). */
export function diff(
  before: Digest,
  after: Digest,
): { added: Record<string, string[]>; removed: Record<string, string[]> } {
  const added: Record<string, string[]> = {};
  const removed: Record<string, string[]> = {};
  for (const table of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = new Set(before[table] ?? []);
    const a = new Set(after[table] ?? []);
    const plus = [...a].filter((r) => !b.has(r));
    const minus = [...b].filter((r) => !a.has(r));
    if (plus.length > 0) added[table] = plus;
    if (minus.length > 0) removed[table] = minus;
  }
  return { added, removed };
}

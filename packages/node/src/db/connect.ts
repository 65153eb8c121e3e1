import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { withStatementDeadlines } from "./deadline.js";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";

export type Engine = "pglite" | "postgres";

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent the node runs on embedded PGlite. */
  readonly databaseUrl?: string | undefined;
  /** PostgreSQL schema to use (created if missing), e.g. one per test run. */
  readonly schema?: string | undefined;
  /** PGlite data directory; absent means in memory. */
  readonly pgliteDir?: string | undefined;
  /** An existing PGlite instance (tests clone a migrated one instead of running initdb). */
  readonly pglite?: PGlite | undefined;
  readonly poolSize?: number | undefined;
}

export interface Storage {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  /** Subscribes to NOTIFY on a channel (PostgreSQL: its own connection; PGlite: built in). */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const INT8_OID = 20;
/** No statement, lock wait or idle transaction holds a connection for ever. */
export const STATEMENT_TIMEOUT_MS = 15_000;
export const LOCK_TIMEOUT_MS = 10_000;
const STATEMENT_LIMITS = `-c statement_timeout=${STATEMENT_TIMEOUT_MS} -c lock_timeout=${LOCK_TIMEOUT_MS} -c idle_in_transaction_session_timeout=60000`;
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** A PostgreSQL schema name the node accepts: lower case letters, digits, `_`; 1–63 long. */
export function isSchemaName(name: string): boolean {
  return SCHEMA_RE.test(name);
}

/** int8 columns hold milliseconds and counters below 2^53: read them as numbers. */
const parseInt8 = (value: string) => Number(value);

export async function openDatabase(options: DatabaseOptions = {}): Promise<Storage> {
  const storage = options.databaseUrl ? await openPostgres(options) : await openPglite(options);
  await migrateToLatest(storage.db as Kysely<unknown>);
  return storage;
}

async function openPostgres(options: DatabaseOptions): Promise<Storage> {
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_RE.test(schema))
    throw new Error(`invalid schema name ${schema}`);
  const config: pg.PoolConfig = {
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID
          ? parseInt8
          : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  };
  config.options = STATEMENT_LIMITS;
  if (schema !== undefined) {
    const admin = new pg.Client({ connectionString: options.databaseUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } catch (e) {
      // IF NOT EXISTS is not safe against a concurrent CREATE: another process starting at
      // the same time may win the race (unique violation), and then the schema is there.
      if ((e as { code?: unknown }).code !== "23505") throw e;
    } finally {
      await admin.end();
    }
    config.options = `${STATEMENT_LIMITS} -c search_path=${schema}`;
  }
  const pool = new pg.Pool(config);
  const db = new Kysely<Database>({
    dialect: withStatementDeadlines(new PostgresDialect({ pool })),
  });
  const listeners: pg.Client[] = [];
  return {
    db,
    engine: "postgres",
    async listen(channel, onNotify) {
      const client = new pg.Client({ connectionString: options.databaseUrl });
      await client.connect();
      client.on("notification", (n) => {
        if (n.channel === channel) onNotify(n.payload ?? "");
      });
      await client.query(`LISTEN ${channel}`);
      listeners.push(client);
      return async () => {
        listeners.splice(listeners.indexOf(client), 1);
        await client.end();
      };
    },
    async close() {
      await Promise.all(listeners.splice(0).map((c) => c.end()));
      await db.destroy();
    },
  };
}

async function openPglite(options: DatabaseOptions): Promise<Storage> {
  const pglite =
    options.pglite ??
    (await PGlite.create(options.pgliteDir ?? "memory://", { parsers: { [INT8_OID]: parseInt8 } }));
  const db = new Kysely<Database>({
    dialect: withStatementDeadlines(new PGliteDialect({ pglite })),
  });
  return {
    db,
    engine: "pglite",
    async listen(channel, onNotify) {
      return await pglite.listen(channel, onNotify);
    },
    async close() {
      await db.destroy();
    },
  };
}

/** Drops a test schema and everything in it (PostgreSQL only). */
export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!SCHEMA_RE.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}

/**
 * The channel every commit NOTIFYs and every node LISTENs on. Channels are database-wide,
 * so it is named after the schema: a node never hears the commits of another schema in
 * the same database (whose log ids mean nothing here).
 */
export const LOG_CHANNEL = sql<string>`'sesame_log_' || md5(current_schema())`;

/** The name LOG_CHANNEL has for this database's schema. */
export async function logChannel(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ channel: string }>`SELECT ${LOG_CHANNEL} AS channel`.execute(db);
  return (rows[0] as { channel: string }).channel;
}

/** The advisory lock that serialises log-id assignment (see `lockLog`). */
export const LOG_LOCK = 7355608;

/** Serialises log-id assignment across processes for the rest of the transaction. */
export async function lockLog(db: Kysely<Database>): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${sql.lit(LOG_LOCK)})`.execute(db);
}

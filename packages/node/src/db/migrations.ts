import { type Kysely, sql } from "kysely";
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration";

/** Migrations run in name order, the same on PGlite and PostgreSQL. Never edit a shipped one. */
const MIGRATIONS: Record<string, Migration> = {
  "0001_initial": {
    async up(db: Kysely<unknown>) {
      await sql`CREATE SEQUENCE sesame_log`.execute(db);
      await sql`
        CREATE TABLE grants (
          id text PRIMARY KEY,
          log_id bigint NOT NULL UNIQUE,
          wallet text NOT NULL,
          session_key text NOT NULL UNIQUE,
          encryption_key text NOT NULL,
          domain text NOT NULL,
          device text NOT NULL,
          scopes text NOT NULL,
          text text NOT NULL,
          signature text NOT NULL,
          form text NOT NULL,
          transaction text,
          issued_at bigint NOT NULL,
          not_before bigint NOT NULL,
          expiration_time bigint NOT NULL,
          received_at bigint NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX grants_wallet ON grants (wallet, issued_at)`.execute(db);
      await sql`
        CREATE TABLE sessions (
          grant_id text PRIMARY KEY REFERENCES grants (id),
          wallet text NOT NULL,
          state text NOT NULL,
          status text NOT NULL,
          revoked_at bigint,
          revoked_by text,
          compromised_since bigint,
          updated_at bigint NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX sessions_wallet ON sessions (wallet)`.execute(db);
      await sql`
        CREATE TABLE actions (
          log_id bigint PRIMARY KEY,
          id text NOT NULL UNIQUE,
          grant_id text NOT NULL REFERENCES grants (id),
          wallet text NOT NULL,
          kind text NOT NULL,
          scope text NOT NULL,
          seq bigint NOT NULL,
          ord bigint NOT NULL,
          ts bigint NOT NULL,
          received_at bigint NOT NULL,
          payload text NOT NULL,
          signature text NOT NULL,
          parent text,
          root text,
          target text,
          hidden boolean NOT NULL DEFAULT false,
          UNIQUE (grant_id, seq),
          UNIQUE (grant_id, scope, ord)
        )`.execute(db);
      await sql`CREATE INDEX actions_kind_log ON actions (kind, log_id)`.execute(db);
      await sql`CREATE INDEX actions_wallet_kind_log ON actions (wallet, kind, log_id)`.execute(db);
      await sql`CREATE INDEX actions_root_log ON actions (root, log_id) WHERE kind = 'reply'`.execute(
        db,
      );
      await sql`CREATE INDEX actions_parent ON actions (parent, kind)`.execute(db);
      await sql`CREATE INDEX actions_target_kind_log ON actions (target, kind, log_id)`.execute(db);
      await sql`
        CREATE TABLE revocations (
          id text PRIMARY KEY,
          log_id bigint NOT NULL UNIQUE,
          wallet text NOT NULL,
          text text NOT NULL,
          signature text NOT NULL,
          target_grant text,
          issued_before bigint,
          compromised_since bigint,
          received_at bigint NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX revocations_wallet ON revocations (wallet)`.execute(db);
      await sql`
        CREATE TABLE equivocations (
          id text PRIMARY KEY,
          log_id bigint NOT NULL UNIQUE,
          grant_id text NOT NULL,
          by text NOT NULL,
          action_a text NOT NULL,
          action_b text NOT NULL,
          received_at bigint NOT NULL
        )`.execute(db);
      await sql`CREATE INDEX equivocations_grant ON equivocations (grant_id)`.execute(db);
      await sql`
        CREATE TABLE follows (
          follower text NOT NULL,
          target text NOT NULL,
          following boolean NOT NULL,
          ts bigint NOT NULL,
          action_id text NOT NULL,
          PRIMARY KEY (follower, target)
        )`.execute(db);
      await sql`CREATE INDEX follows_target ON follows (target) WHERE following`.execute(db);
      await sql`
        CREATE TABLE reactions (
          wallet text NOT NULL,
          target text NOT NULL,
          reaction text NOT NULL,
          active boolean NOT NULL,
          ts bigint NOT NULL,
          action_id text NOT NULL,
          PRIMARY KEY (target, wallet, reaction)
        )`.execute(db);
      await sql`
        CREATE TABLE profiles (
          wallet text PRIMARY KEY,
          display_name text NOT NULL,
          bio text NOT NULL,
          avatar_url text NOT NULL,
          ts bigint NOT NULL,
          action_id text NOT NULL
        )`.execute(db);
    },
  },
  "0002_tip_transactions": {
    async up(db: Kysely<unknown>) {
      // One Solana transaction backs at most one tip action.
      await sql`
        CREATE TABLE tip_transactions (
          signature text PRIMARY KEY,
          action_id text NOT NULL
        )`.execute(db);
    },
  },
  "0003_partial_link_indexes": {
    async up(db: Kysely<unknown>) {
      // Posts and profiles have no parent, and only follows, DMs and tips have a target:
      // index the rows that do, so every post insert maintains two indexes fewer. Lookups
      // by a parent or target value (= or IN) imply IS NOT NULL and use them as before.
      await sql`DROP INDEX actions_parent`.execute(db);
      await sql`CREATE INDEX actions_parent ON actions (parent, kind) WHERE parent IS NOT NULL`.execute(
        db,
      );
      await sql`DROP INDEX actions_target_kind_log`.execute(db);
      await sql`
        CREATE INDEX actions_target_kind_log ON actions (target, kind, log_id)
        WHERE target IS NOT NULL`.execute(db);
    },
  },
  "0004_peers": {
    async up(db: Kysely<unknown>) {
      // Federation: one row per peer with its durable cursor (the peer's log id this node
      // has applied up to) and counters; and the authentic messages a peer sent that could
      // not be applied yet (future timestamp, tip not yet on chain), retried until a limit.
      await sql`
        CREATE TABLE peers (
          url text PRIMARY KEY,
          cursor bigint NOT NULL DEFAULT 0,
          head bigint NOT NULL DEFAULT 0,
          pulled bigint NOT NULL DEFAULT 0,
          accepted bigint NOT NULL DEFAULT 0,
          duplicates bigint NOT NULL DEFAULT 0,
          refused bigint NOT NULL DEFAULT 0,
          refused_by_code text NOT NULL DEFAULT '{}',
          failures integer NOT NULL DEFAULT 0,
          backoff_until bigint NOT NULL DEFAULT 0,
          last_pull_at bigint,
          last_ok_at bigint,
          last_error text
        )`.execute(db);
      await sql`
        CREATE TABLE peer_deferred (
          peer text NOT NULL,
          log_id bigint NOT NULL,
          type text NOT NULL,
          message text NOT NULL,
          code integer NOT NULL,
          first_at bigint NOT NULL,
          PRIMARY KEY (peer, log_id)
        )`.execute(db);
    },
  },
  "0005_peers_added": {
    async up(db: Kysely<unknown>) {
      // Peers added at run time (`POST /v1/peers`, `sesame peers add`) are kept across
      // restarts; those configured at start (SESAME_PEERS) are not marked.
      await sql`ALTER TABLE peers ADD COLUMN added boolean NOT NULL DEFAULT false`.execute(db);
    },
  },
  "0006_read_partial_indexes": {
    async up(db: Kysely<unknown>) {
      // Reads of a large store (docs/DECISIONS.md, "Read indexes"). Each index holds exactly
      // the rows its query asks for, with the query's own predicates, so the planner uses it:
      // - the global feed: visible posts by log id (no reply or reaction rows to skip);
      // - a post's visible reply count (parent = id AND kind = 'reply' AND NOT hidden);
      // - a post's active reactions by kind: read in reaction order, no sort, and only the
      //   index once the table is vacuumed (index-only scan);
      // - a wallet's visible posts by log id: its posts page, the following feed's per-wallet
      //   ranges, and the profile's post count (index-only once vacuumed).
      await sql`
        CREATE INDEX actions_visible_posts_log ON actions (log_id)
        WHERE kind = 'post' AND NOT hidden`.execute(db);
      await sql`
        CREATE INDEX actions_visible_posts_wallet ON actions (wallet, log_id)
        WHERE kind = 'post' AND NOT hidden`.execute(db);
      await sql`
        CREATE INDEX actions_visible_replies_parent ON actions (parent)
        WHERE kind = 'reply' AND NOT hidden`.execute(db);
      await sql`
        CREATE INDEX reactions_active_target ON reactions (target, reaction)
        WHERE active`.execute(db);
    },
  },
  "0007_posts_out_of_kind_indexes": {
    async up(db: Kysely<unknown>) {
      // Since 0006 every read of posts asks for visible ones and uses the two partial post
      // indexes, so the general kind indexes need no post rows: a post insert then updates
      // two fewer indexes (ingest, docs/DECISIONS.md "Read indexes"). They keep serving every
      // other kind: the inbox (kind = 'dm'), profiles, follows and reactions of a wallet.
      await sql`DROP INDEX actions_kind_log`.execute(db);
      await sql`
        CREATE INDEX actions_kind_log ON actions (kind, log_id)
        WHERE kind <> 'post'`.execute(db);
      await sql`DROP INDEX actions_wallet_kind_log`.execute(db);
      await sql`
        CREATE INDEX actions_wallet_kind_log ON actions (wallet, kind, log_id)
        WHERE kind <> 'post'`.execute(db);
    },
  },
  "0008_actions_grant_check_in_write_path": {
    async up(db: Kysely<unknown>) {
      // Every action insert checked its grant through a foreign key: one index lookup and
      // a KEY SHARE row lock per row, about a quarter of a post insert's cost. The write
      // path already holds the session's row (FOR UPDATE), which exists only for a stored
      // grant, and grants are never deleted, so the key repeated a fact the transaction had
      // just read (docs/DECISIONS.md, "Ingest on PostgreSQL").
      await sql`ALTER TABLE actions DROP CONSTRAINT IF EXISTS actions_grant_id_fkey`.execute(db);
    },
  },
};

class InlineProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/** Brings the schema up to date; safe to call from several processes at once. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  // Kysely looks for its migration tables in every schema unless told which one: a
  // database holding another Sesame schema would then skip creating them in this one.
  const { rows } = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(
    db,
  );
  const schema = rows[0]?.schema ?? null;
  const migrator = new Migrator({
    db,
    provider: new InlineProvider(),
    ...(schema === null ? {} : { migrationTableSchema: schema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error !== undefined || failed !== undefined) {
    throw new Error(`migration ${failed?.migrationName ?? ""} failed: ${String(error)}`);
  }
}

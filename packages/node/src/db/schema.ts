import type { Generated } from "kysely";

/**
 * Every stored message takes a `log_id` from one sequence (`sesame_log`), assigned under
 * a transaction-scoped advisory lock, so log ids grow in commit order across processes:
 * the live stream and cursors resume by one number without missing a late commit.
 */
export interface GrantsTable {
  id: string;
  log_id: number;
  wallet: string;
  session_key: string;
  encryption_key: string;
  domain: string;
  device: string;
  scopes: string;
  text: string;
  signature: string;
  form: string;
  transaction: string | null;
  issued_at: number;
  not_before: number;
  expiration_time: number;
  received_at: number;
}

export interface SessionsTable {
  grant_id: string;
  wallet: string;
  /** The policy engine's SessionState, as JSON. */
  state: string;
  status: string;
  revoked_at: number | null;
  revoked_by: string | null;
  compromised_since: number | null;
  updated_at: number;
}

export interface ActionsTable {
  log_id: number;
  id: string;
  grant_id: string;
  wallet: string;
  kind: string;
  scope: string;
  seq: number;
  ord: number;
  ts: number;
  received_at: number;
  /** The payload's canonical JSON: exactly the signed bytes after the prefix. */
  payload: string;
  signature: string;
  /** reply: the parent; react/unreact: the target action; tip: the post. */
  parent: string | null;
  /** reply: the thread's root post; post: itself. */
  root: string | null;
  /** follow/unfollow: the followed wallet; dm: the recipient; tip: the author. */
  target: string | null;
  hidden: Generated<boolean>;
}

export interface RevocationsTable {
  id: string;
  log_id: number;
  wallet: string;
  text: string;
  signature: string;
  target_grant: string | null;
  issued_before: number | null;
  compromised_since: number | null;
  received_at: number;
}

export interface EquivocationsTable {
  id: string;
  log_id: number;
  grant_id: string;
  by: string;
  action_a: string;
  action_b: string;
  received_at: number;
}

export interface FollowsTable {
  follower: string;
  target: string;
  following: boolean;
  ts: number;
  action_id: string;
}

export interface ReactionsTable {
  wallet: string;
  target: string;
  reaction: string;
  active: boolean;
  ts: number;
  action_id: string;
}

export interface ProfilesTable {
  wallet: string;
  display_name: string;
  bio: string;
  avatar_url: string;
  ts: number;
  action_id: string;
}

export interface TipTransactionsTable {
  signature: string;
  action_id: string;
}

export interface PeersTable {
  url: string;
  /** The peer's log id this node has applied everything up to. */
  cursor: Generated<number>;
  /** The peer's newest log id, as of the last page. */
  head: Generated<number>;
  pulled: Generated<number>;
  accepted: Generated<number>;
  duplicates: Generated<number>;
  refused: Generated<number>;
  /** JSON object: error code → count. */
  refused_by_code: Generated<string>;
  failures: Generated<number>;
  /** Wall-clock ms before which this peer is not pulled (backoff). */
  backoff_until: Generated<number>;
  last_pull_at: number | null;
  last_ok_at: number | null;
  /** Added through `POST /v1/peers` (pulled after a restart too), not configured. */
  added: Generated<boolean>;
  last_error: string | null;
}

export interface PeerDeferredTable {
  peer: string;
  log_id: number;
  type: string;
  /** The message as the peer served it (JSON). */
  message: string;
  code: number;
  first_at: number;
}

export interface Database {
  grants: GrantsTable;
  sessions: SessionsTable;
  actions: ActionsTable;
  revocations: RevocationsTable;
  equivocations: EquivocationsTable;
  follows: FollowsTable;
  reactions: ReactionsTable;
  profiles: ProfilesTable;
  tip_transactions: TipTransactionsTable;
  peers: PeersTable;
  peer_deferred: PeerDeferredTable;
}

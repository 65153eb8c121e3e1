import {
  type PreparedSession,
  parseTokenAmount,
  type ReadDm,
  type ServedPost,
  type ServedProfile,
  type ServedSession,
  type SessionPolicy,
  startFundsSweeper,
  type TipBalance,
} from "@sesame/client";
import {
  ErrorCode,
  GRANT_MEMO_PREFIX,
  grantIdOfText,
  isWalletAddress,
  SCOPES,
  type Scope,
} from "@sesame/protocol";
import { getWallets, type Wallet as StandardWallet } from "@wallet-standard/core";
import { type KeyboardEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { type ApprovalRequest, signatureCount } from "./dev-wallet.js";
import {
  connectSesame,
  DEFAULT_POLICY,
  DEFAULT_TIP_BUDGET,
  explain,
  fundDemoWallet,
  nodeInfo,
  SCOPE_LABELS,
  type Sesame,
  tokens,
} from "./sesame.js";

type Page =
  | { name: "home"; feed: "global" | "following" }
  | { name: "thread"; id: string }
  | { name: "messages" }
  | { name: "profile"; wallet: string }
  | { name: "sessions" };

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function short(wallet: string): string {
  return `${wallet.slice(0, 4)}…${wallet.slice(-4)}`;
}

/** The dev wallet's approval dialog, driven by the wallet through `pending`. */
export function ApprovalDialog(props: {
  request: ApprovalRequest;
  onAnswer: (ok: boolean) => void;
}) {
  const approve = useRef<HTMLButtonElement>(null);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => approve.current?.focus(), []);
  // A modal dialog: Tab stays inside it, Escape rejects.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      props.onAnswer(false);
      return;
    }
    if (e.key !== "Tab") return;
    const buttons = Array.from(box.current?.querySelectorAll("button") ?? []);
    const first = buttons[0];
    const last = buttons[buttons.length - 1];
    if (first === undefined || last === undefined) return;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <div className="overlay">
      <div
        role="dialog"
        aria-modal="true"
        aria-labelledby="wallet-title"
        className="dialog"
        data-testid="wallet-dialog"
        ref={box}
        onKeyDown={onKeyDown}
      >
        <h2 id="wallet-title">Sesame Dev Wallet</h2>
        <p>
          {props.request.kind === "message"
            ? "This app asks you to sign this message:"
            : "This app asks you to sign a transaction:"}
        </p>
        <pre data-testid="wallet-message">{props.request.text}</pre>
        {(props.request.memos ?? []).map((memo, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: memos are in instruction order
          <div key={i}>
            <p>
              {memo.startsWith(GRANT_MEMO_PREFIX)
                ? "Memo carried by this transaction: the id (SHA-256) of the grant text the app showed you:"
                : "Memo carried by this transaction:"}
            </p>
            <pre data-testid="wallet-memo">{memo}</pre>
          </div>
        ))}
        <div className="row">
          <button type="button" onClick={() => props.onAnswer(false)}>
            Reject
          </button>
          <button
            type="button"
            className="primary"
            ref={approve}
            onClick={() => props.onAnswer(true)}
          >
            Approve
          </button>
        </div>
      </div>
    </div>
  );
}

/** A grant's permissions as a policy, to propose them again. */
function policyOf(g: {
  scopes: readonly Scope[];
  limits: SessionPolicy["limits"];
  notBefore: number;
  expirationTime: number;
  tipBudget?: SessionPolicy["tipBudget"];
}): SessionPolicy {
  return {
    scopes: g.scopes,
    limits: g.limits,
    durationMs: g.expirationTime - g.notBefore,
    tipBudget: g.tipBudget ?? null,
  };
}

/** The consent screen's duration choices, in hours. */
const DURATIONS = [1, 24, 168, 720] as const;

function Consent(props: {
  sesame: Sesame;
  onStarted: () => void;
  reason?: string | undefined;
  /** Renewing: the permissions of the session that ended, proposed again. */
  initial?: SessionPolicy | undefined;
}) {
  const { manager } = props.sesame;
  const initial = props.initial ?? DEFAULT_POLICY;
  const [scopes, setScopes] = useState<Scope[]>([...initial.scopes]);
  const [hours, setHours] = useState<number>(
    DURATIONS.find((h) => h * 3_600_000 >= initial.durationMs) ?? 24,
  );
  const [limits, setLimits] = useState(initial.limits);
  const [budget, setBudget] = useState(
    initial.tipBudget != null
      ? tokens(initial.tipBudget.amount, initial.tipBudget.decimals)
      : DEFAULT_TIP_BUDGET,
  );
  const [prepared, setPrepared] = useState<PreparedSession | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const confirmed = useRef<PreparedSession | null>(null);
  const tipToken = props.sesame.tipToken;
  // Tips are offered only when the node verifies them on a chain this app can reach.
  const offered = SCOPES.filter((s) => s !== "tip" || tipToken !== null);
  const tipping = tipToken !== null && scopes.includes("tip");
  const { policy, budgetError } = useMemo((): {
    policy: SessionPolicy | null;
    budgetError: string | null;
  } => {
    const base = {
      scopes: SCOPES.filter((s) => scopes.includes(s) && (s !== "tip" || tipToken !== null)),
      limits,
      durationMs: hours * 3_600_000,
    };
    if (tipToken === null || !base.scopes.includes("tip"))
      return { policy: base, budgetError: null };
    try {
      const amount = parseTokenAmount(budget, tipToken.decimals);
      if (amount <= 0n) throw new Error("more than 0");
      return {
        policy: {
          ...base,
          tipBudget: {
            mint: tipToken.mint,
            amount: amount.toString(),
            decimals: tipToken.decimals,
          },
        },
        budgetError: null,
      };
    } catch {
      return {
        policy: null,
        budgetError: `The tip budget must be a number of tokens above 0, with at most ${tipToken.decimals} decimals.`,
      };
    }
  }, [scopes, limits, hours, budget, tipToken]);

  useEffect(() => {
    if (policy === null) {
      setPrepared(null);
      return;
    }
    let live = true;
    let made: PreparedSession | null = null;
    void manager.prepare(policy).then(
      (p) => {
        made = p;
        if (live) setPrepared(p);
        else void manager.discard(p);
      },
      (e: unknown) => setError(explain(e).message),
    );
    return () => {
      live = false;
      // Keys of a confirmed session are the session's now; only unused ones are thrown away.
      if (made !== null && made !== confirmed.current) void manager.discard(made);
    };
  }, [manager, policy]);

  const setLimit = (scope: Scope, field: "total" | "perHour", value: string) => {
    const n = value === "" ? null : Math.max(1, Math.floor(Number(value)));
    setLimits({
      ...limits,
      [scope]: { ...(limits[scope] ?? { total: null, perHour: null }), [field]: n },
    });
  };

  const start = async () => {
    if (prepared === null) return;
    setBusy(true);
    setError(null);
    try {
      confirmed.current = prepared;
      await manager.confirm(prepared);
      props.onStarted();
    } catch (e) {
      confirmed.current = null;
      setError(explain(e).message);
      setPrepared(null);
      setScopes([...scopes]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="consent-title" className="card">
      <h2 id="consent-title">Start a session</h2>
      {props.reason !== undefined && <p className="notice">{props.reason}</p>}
      <p>
        Choose what this app may do without asking you again. Your wallet signs once; the session
        key can do nothing else.
      </p>
      <fieldset disabled={busy}>
        <legend>Permissions and limits</legend>
        <table className="limits">
          <thead>
            <tr>
              <th scope="col">Allow</th>
              <th scope="col">At most in total</th>
              <th scope="col">At most per hour</th>
            </tr>
          </thead>
          <tbody>
            {offered.map((scope) => (
              <tr key={scope}>
                <td>
                  <label>
                    <input
                      type="checkbox"
                      checked={scopes.includes(scope)}
                      onChange={(e) =>
                        setScopes(
                          e.target.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope),
                        )
                      }
                    />{" "}
                    {SCOPE_LABELS[scope]}
                  </label>
                </td>
                <td>
                  <input
                    aria-label={`${SCOPE_LABELS[scope]}: at most in total`}
                    type="number"
                    min={1}
                    value={limits[scope]?.total ?? ""}
                    placeholder="no limit"
                    onChange={(e) => setLimit(scope, "total", e.target.value)}
                  />
                </td>
                <td>
                  <input
                    aria-label={`${SCOPE_LABELS[scope]}: at most per hour`}
                    type="number"
                    min={1}
                    value={limits[scope]?.perHour ?? ""}
                    placeholder="no limit"
                    onChange={(e) => setLimit(scope, "perHour", e.target.value)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {tipping && (
          <label>
            Tip budget (tokens){" "}
            <input
              inputMode="decimal"
              value={budget}
              onChange={(e) => setBudget(e.target.value)}
              aria-describedby="budget-help"
              aria-invalid={budgetError !== null}
            />{" "}
            <span id="budget-help" className="muted">
              the most this session can ever tip, enforced by the chain
            </span>
          </label>
        )}
        {budgetError !== null && (
          <p role="alert" className="error">
            {budgetError}
          </p>
        )}
      </fieldset>
      <label>
        Duration{" "}
        <select value={hours} onChange={(e) => setHours(Number(e.target.value))} disabled={busy}>
          <option value={1}>1 hour</option>
          <option value={24}>1 day</option>
          <option value={168}>7 days</option>
          <option value={720}>30 days</option>
        </select>
      </label>
      <h3>{tipping ? "The grant your wallet signs" : "Exactly what your wallet will sign"}</h3>
      {tipping && prepared?.grant.tipBudget != null && (
        <p className="notice" data-testid="funding-note">
          Your wallet signs one transaction that carries this grant and moves{" "}
          {tokens(prepared.grant.tipBudget.amount, prepared.grant.tipBudget.decimals)} tokens into
          this device's session account, plus 0.005 SOL for the session key's fees. The session key
          can spend at most that; what is left returns to your wallet when the session ends or is
          revoked.
        </p>
      )}
      <pre className="grant" data-testid="consent-text" aria-live="polite">
        {prepared?.text ?? "…"}
      </pre>
      {tipping && prepared !== null && (
        <p className="muted" data-testid="grant-id">
          Your wallet shows the transaction's memo: this text's id (SHA-256),{" "}
          <span className="mono">{GRANT_MEMO_PREFIX + grantIdOfText(prepared.text)}</span>
        </p>
      )}
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <button
        type="button"
        className="primary"
        disabled={prepared === null || busy || policy === null || policy.scopes.length === 0}
        onClick={() => void start()}
      >
        Sign once with your wallet and start
      </button>
    </section>
  );
}

/**
 * What this browser did already (liked posts, followed wallets), so a second click does not
 * spend the session's caps on the same like or follow. Kept per wallet in localStorage.
 */
function remembered(wallet: string, what: "liked" | "followed"): Set<string> {
  try {
    const raw = localStorage.getItem(`sesame-${what}-${wallet}`);
    return new Set(raw === null ? [] : (JSON.parse(raw) as string[]));
  } catch {
    return new Set();
  }
}

function remember(wallet: string, what: "liked" | "followed", id: string): void {
  const set = remembered(wallet, what);
  set.add(id);
  localStorage.setItem(`sesame-${what}-${wallet}`, JSON.stringify([...set].slice(-5000)));
}

interface PostProps {
  post: ServedPost;
  sesame: Sesame;
  /** This session can tip (funded, with the tip scope). */
  canTip: boolean;
  open: (id: string) => void;
  profile: (w: string) => void;
  act: (f: () => Promise<unknown>) => Promise<void>;
}

function PostCard(props: PostProps) {
  const { post, sesame } = props;
  const body = (post.payload as { body: { text: string } }).body;
  const [replying, setReplying] = useState(false);
  const [text, setText] = useState("");
  const [tipOpen, setTipOpen] = useState(false);
  const [tipAmount, setTipAmount] = useState("1");
  const [tipped, setTipped] = useState(0n);
  const [liked, setLiked] = useState(() => remembered(sesame.wallet, "liked").has(post.id));
  const [followed, setFollowed] = useState(() =>
    remembered(sesame.wallet, "followed").has(post.wallet),
  );
  const token = sesame.tipToken;
  const tips = sesame.tips;
  const canTip = props.canTip && tips !== null && token !== null && post.wallet !== sesame.wallet;
  return (
    <article className="post" data-testid="post" aria-label={`Post by ${short(post.wallet)}`}>
      <header>
        <button type="button" className="link" onClick={() => props.profile(post.wallet)}>
          {short(post.wallet)}
        </button>{" "}
        <span className="muted">{ago(post.receivedAt)}</span>
      </header>
      <p className="text">{body.text}</p>
      <footer className="row">
        <button
          type="button"
          onClick={() =>
            void props.act(async () => {
              const sent = await sesame.social.react(post.id, "like");
              remember(sesame.wallet, "liked", post.id);
              setLiked(true);
              return sent;
            })
          }
          disabled={liked}
          aria-pressed={liked}
          aria-label={`${liked ? "Liked" : "Like"}, ${post.reactions.like ?? 0} likes`}
        >
          ♥ {post.reactions.like ?? 0}
        </button>
        <button type="button" onClick={() => setReplying(!replying)} aria-expanded={replying}>
          Reply
        </button>
        <button type="button" className="link" onClick={() => props.open(post.id)}>
          {post.replies} {post.replies === 1 ? "reply" : "replies"}
        </button>
        {post.wallet !== sesame.wallet && (
          <button
            type="button"
            onClick={() =>
              void props.act(async () => {
                const sent = await sesame.social.follow(post.wallet);
                remember(sesame.wallet, "followed", post.wallet);
                setFollowed(true);
                return sent;
              })
            }
            disabled={followed}
            aria-pressed={followed}
            aria-label={`${followed ? "Following" : "Follow"} ${short(post.wallet)}`}
          >
            {followed ? "Following" : "Follow"}
          </button>
        )}
        {canTip && (
          <button type="button" onClick={() => setTipOpen(!tipOpen)} aria-expanded={tipOpen}>
            Tip
          </button>
        )}
      </footer>
      {tipped > 0n && token !== null && (
        <p className="tipped" data-testid="tip-sent">
          You tipped {tokens(tipped, token.decimals)}{" "}
          {tipped === 10n ** BigInt(token.decimals) ? "token" : "tokens"}, on chain
        </p>
      )}
      {tipOpen && canTip && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void props.act(async () => {
              const amount = parseTokenAmount(tipAmount, token.decimals);
              const sent = await tips.tip({ id: post.id, wallet: post.wallet }, amount);
              setTipped((t) => t + sent.amount);
              setTipOpen(false);
              return sent.action;
            });
          }}
        >
          <label>
            Tip amount (tokens){" "}
            <input
              inputMode="decimal"
              value={tipAmount}
              onChange={(e) => setTipAmount(e.target.value)}
              required
              size={6}
            />
          </label>
          <button type="submit">Send tip</button>
          <span className="muted">signed by the session key, no wallet prompt</span>
        </form>
      )}
      {replying && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void props.act(async () => {
              const sent = await sesame.social.reply(post.id, text);
              setText("");
              setReplying(false);
              return sent; // "queued" when the node is unreachable: the app says so
            });
          }}
        >
          <label className="grow">
            <span className="sr-only">Your reply</span>
            <input
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder="Write a reply"
              required
              maxLength={1024}
            />
          </label>
          <button type="submit">Send reply</button>
        </form>
      )}
    </article>
  );
}

/** A read that failed, in words: the app retries on the next tick. */
function readFailure(e: unknown): string {
  const { message } = explain(e);
  return isUnreachable(e)
    ? "Cannot reach the node right now; this page reloads when it is back."
    : `Could not load this page: ${message}`;
}

function isUnreachable(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === ErrorCode.UNAVAILABLE || e instanceof TypeError;
}

function Loading(props: { failed: string | null }) {
  return props.failed === null ? (
    <p>Loading…</p>
  ) : (
    <p role="alert" className="error" data-testid="read-error">
      {props.failed}
    </p>
  );
}

function Home(props: {
  sesame: Sesame;
  feed: "global" | "following";
  canTip: boolean;
  tick: number;
  go: (p: Page) => void;
  act: (f: () => Promise<unknown>) => Promise<void>;
}) {
  const { sesame } = props;
  const [posts, setPosts] = useState<ServedPost[]>([]);
  const [failed, setFailed] = useState<string | null>(null);
  const [text, setText] = useState("");
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` is the reload signal
  useEffect(() => {
    const load =
      props.feed === "global"
        ? sesame.social.feed({ limit: 50 })
        : sesame.social.followingFeed({ limit: 50 });
    void load.then(
      (p) => {
        setPosts(p.items);
        setFailed(null);
      },
      (e: unknown) => setFailed(readFailure(e)),
    );
  }, [sesame, props.feed, props.tick]);
  return (
    <>
      <form
        className="card composer"
        onSubmit={(e) => {
          e.preventDefault();
          void props.act(async () => {
            const sent = await sesame.social.post(text);
            setText("");
            return sent; // "queued" when the node is unreachable: the app says so
          });
        }}
      >
        <label htmlFor="composer">What's happening?</label>
        <textarea
          id="composer"
          value={text}
          onChange={(e) => setText(e.target.value)}
          maxLength={1024}
          required
          rows={3}
        />
        <button type="submit" className="primary">
          Post
        </button>
      </form>
      <nav className="tabs" aria-label="Feeds">
        <button
          type="button"
          aria-pressed={props.feed === "global"}
          onClick={() => props.go({ name: "home", feed: "global" })}
        >
          Everyone
        </button>
        <button
          type="button"
          aria-pressed={props.feed === "following"}
          onClick={() => props.go({ name: "home", feed: "following" })}
        >
          Following
        </button>
      </nav>
      {failed !== null && (
        <p role="alert" className="error" data-testid="read-error">
          {failed}
        </p>
      )}
      <div aria-live="polite" data-testid="feed">
        {posts.length === 0 && <p className="muted">Nothing here yet.</p>}
        {posts.map((p) => (
          <PostCard
            key={p.id}
            post={p}
            sesame={sesame}
            canTip={props.canTip}
            open={(id) => props.go({ name: "thread", id })}
            profile={(w) => props.go({ name: "profile", wallet: w })}
            act={props.act}
          />
        ))}
      </div>
    </>
  );
}

function Thread(props: {
  sesame: Sesame;
  id: string;
  canTip: boolean;
  tick: number;
  go: (p: Page) => void;
  act: (f: () => Promise<unknown>) => Promise<void>;
}) {
  const [thread, setThread] = useState<{ root: ServedPost; replies: ServedPost[] } | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` is the reload signal
  useEffect(() => {
    void props.sesame.social.thread(props.id).then(
      (t) => {
        setThread({ root: t.root, replies: t.replies.items });
        setFailed(null);
      },
      (e: unknown) => setFailed(readFailure(e)),
    );
  }, [props.sesame, props.id, props.tick]);
  if (thread === null) return <Loading failed={failed} />;
  const card = (p: ServedPost) => (
    <PostCard
      key={p.id}
      post={p}
      sesame={props.sesame}
      canTip={props.canTip}
      open={(id) => props.go({ name: "thread", id })}
      profile={(w) => props.go({ name: "profile", wallet: w })}
      act={props.act}
    />
  );
  return (
    <section aria-label="Thread">
      {card(thread.root)}
      <div className="replies">{thread.replies.map(card)}</div>
    </section>
  );
}

function Profile(props: {
  sesame: Sesame;
  wallet: string;
  tick: number;
  act: (f: () => Promise<unknown>) => Promise<void>;
}) {
  const [profile, setProfile] = useState<ServedProfile | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [bio, setBio] = useState("");
  const mine = props.wallet === props.sesame.wallet;
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` is the reload signal
  useEffect(() => {
    void props.sesame.social.profile(props.wallet).then(
      (p) => {
        setProfile(p);
        setName(p.displayName);
        setBio(p.bio);
        setFailed(null);
      },
      (e: unknown) => setFailed(readFailure(e)),
    );
  }, [props.sesame, props.wallet, props.tick]);
  if (profile === null) return <Loading failed={failed} />;
  return (
    <section className="card" aria-labelledby="profile-title">
      <h2 id="profile-title">{profile.displayName || short(profile.wallet)}</h2>
      <p className="mono">{profile.wallet}</p>
      <p>{profile.bio}</p>
      <p>
        <strong>{profile.posts}</strong> posts · <strong>{profile.followers}</strong> followers ·{" "}
        <strong>{profile.following}</strong> following
      </p>
      {mine && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void props.act(() => props.sesame.social.setProfile({ displayName: name, bio }));
          }}
        >
          <label>
            Display name{" "}
            <input value={name} onChange={(e) => setName(e.target.value)} maxLength={64} />
          </label>
          <label>
            Bio{" "}
            <textarea
              value={bio}
              onChange={(e) => setBio(e.target.value)}
              maxLength={280}
              rows={2}
            />
          </label>
          <button type="submit">Save profile</button>
        </form>
      )}
      {!mine && (
        <button
          type="button"
          onClick={() => void props.act(() => props.sesame.social.follow(props.wallet))}
        >
          Follow
        </button>
      )}
    </section>
  );
}

function Messages(props: {
  sesame: Sesame;
  tick: number;
  act: (f: () => Promise<unknown>) => Promise<void>;
}) {
  const [to, setTo] = useState("");
  const [text, setText] = useState("");
  const [messages, setMessages] = useState<ReadDm[]>([]);
  const [error, setError] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` is the reload signal
  useEffect(() => {
    let live = true;
    const load = () =>
      void props.sesame.social.inbox({ limit: 50 }).then(
        (p) => {
          if (!live) return;
          setMessages(p.items);
          setError(null);
        },
        (e: unknown) => {
          if (live) setError(readFailure(e));
        },
      );
    load();
    // Direct messages are not on the public stream: look for new ones while this page is open.
    const poll = setInterval(load, 4000);
    return () => {
      live = false;
      clearInterval(poll);
    };
  }, [props.sesame, props.tick]);
  return (
    <section className="card" aria-labelledby="dm-title">
      <h2 id="dm-title">Direct messages</h2>
      <p className="muted">
        End-to-end encrypted to the recipient's live sessions; decrypted only here, in your browser.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!isWalletAddress(to.trim())) {
            setError("That is not a wallet address (base58, 32 to 44 characters).");
            return;
          }
          void props.act(async () => {
            const sent = await props.sesame.social.sendDm(to.trim(), text);
            setText("");
            return sent; // "queued" when the node is unreachable: the app says so
          });
        }}
      >
        <label>
          To (wallet address){" "}
          <input value={to} onChange={(e) => setTo(e.target.value)} required className="mono" />
        </label>
        <label>
          Message{" "}
          <textarea value={text} onChange={(e) => setText(e.target.value)} required rows={2} />
        </label>
        <button type="submit">Send encrypted</button>
      </form>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <ul className="messages" data-testid="inbox">
        {messages.map((m) => (
          <li key={m.id}>
            <span className="muted">
              {m.from === props.sesame.wallet ? `to ${short(m.to)}` : `from ${short(m.from)}`} ·{" "}
              {ago(m.at)}
            </span>
            <p data-testid="dm-text">{m.message?.text ?? "(not encrypted for this session)"}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Sessions(props: {
  sesame: Sesame;
  tick: number;
  act: (f: () => Promise<unknown>) => Promise<void>;
}) {
  const [items, setItems] = useState<ServedSession[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` is the reload signal
  useEffect(() => {
    // Each grant (and a revoked one's revocation) verified against the wallet.
    void props.sesame.social.sessions().then(setItems);
    void props.sesame.manager.resume().then((s) => setCurrent(s?.grantId ?? null));
  }, [props.sesame, props.tick, version]);
  const revoke = (grant?: string) =>
    void props.act(async () => {
      if (grant === undefined) await props.sesame.manager.revokeAll();
      else await props.sesame.manager.revoke(grant as never);
      setVersion((v) => v + 1);
      // This device's own session: the app says so now, not at the next refused action.
      if (grant === undefined || grant === current) return { status: "revoked-self" };
      return undefined;
    });
  return (
    <section className="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p className="muted">
        Every session of this wallet, on every app and device. Revoking takes one wallet signature
        and applies at once.
      </p>
      <button type="button" className="danger" onClick={() => revoke()}>
        Revoke all sessions
      </button>
      <ul className="sessions" data-testid="sessions">
        {items.map((s) => (
          <li key={s.grant} data-testid="session" data-status={s.status}>
            <header>
              <strong>{s.app}</strong> · {s.device} {s.grant === current && <em>(this device)</em>}{" "}
              · <span className={`status ${s.status}`}>{s.status}</span>
            </header>
            <p>
              Expires {new Date(s.expirationTime).toLocaleString()} · issued {ago(s.issuedAt)}
              {budgetOf(s) !== null && <> · tip budget {budgetOf(s)} tokens, on chain</>}
            </p>
            <table className="limits">
              <thead>
                <tr>
                  <th scope="col">Scope</th>
                  <th scope="col">Used</th>
                  <th scope="col">Cap</th>
                  <th scope="col">Per hour</th>
                </tr>
              </thead>
              <tbody>
                {s.scopes.map((scope) => {
                  const l = (
                    s.limits as Record<string, { total: number | null; perHour: number | null }>
                  )[scope];
                  return (
                    <tr key={scope}>
                      <td>{scope}</td>
                      <td>{s.used[scope] ?? 0}</td>
                      <td>{l?.total ?? "—"}</td>
                      <td>{l?.perHour ?? "—"}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {s.status !== "revoked" && (
              <button
                type="button"
                className="danger"
                onClick={() => revoke(s.grant)}
                aria-label={`Revoke session on ${s.device}, ${s.app}, issued ${ago(s.issuedAt)} (${s.grant.slice(0, 8)})`}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      <Funds sesame={props.sesame} tick={props.tick} act={props.act} version={version} />
    </section>
  );
}

function budgetOf(s: ServedSession): string | null {
  const b = s.tipBudget as { amount?: string; decimals?: number } | null;
  if (b === null || typeof b !== "object" || b.amount === undefined || b.decimals === undefined)
    return null;
  return tokens(b.amount, b.decimals);
}

type FundsAccount = Awaited<ReturnType<NonNullable<Sesame["tips"]>["accounts"]>>[number];

/** The wallet's session token accounts: end (no prompt) or recover (one signature). */
function Funds(props: {
  sesame: Sesame;
  tick: number;
  version: number;
  act: (f: () => Promise<unknown>) => Promise<void>;
}) {
  const { tips, tipToken, signer, wallet } = props.sesame;
  const [accounts, setAccounts] = useState<FundsAccount[]>([]);
  const [mine, setMine] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` and versions reload
  useEffect(() => {
    if (tips === null || tipToken === null) return;
    void tips.accounts(wallet, tipToken.mint).then(setAccounts, () => undefined);
  }, [tips, tipToken, wallet, props.tick, props.version, mine]);
  if (tips === null || tipToken === null) return null;
  const amount = (n: bigint) => `${tokens(n, tipToken.decimals)} tokens`;
  return (
    <section aria-labelledby="funds-title" className="funds">
      <h3 id="funds-title">Tip funds on chain</h3>
      <p className="muted">
        One token account per device, owned by your wallet. A session key only spends what is left
        of its allowance. Ending a session returns the rest with no prompt; for a lost device,
        recovering takes one wallet signature.
      </p>
      {accounts.length === 0 && <p className="muted">No session token accounts yet.</p>}
      <ul className="sessions" data-testid="funds">
        {accounts.map((a) => (
          <li key={a.address} data-testid="funds-account">
            <span className="mono">{short(a.address)}</span>{" "}
            {a.thisDevice && <em>(this device)</em>} · holds {amount(a.token.amount)} ·{" "}
            {a.token.delegate === null
              ? "no session key may spend it"
              : `session key ${short(a.token.delegate)} may spend ${amount(a.token.delegatedAmount)}`}
            <div className="row">
              {a.thisDevice && a.token.delegate !== null && (
                <button
                  type="button"
                  onClick={() =>
                    void props.act(async () => {
                      await tips.end();
                      setMine((v) => v + 1);
                    })
                  }
                >
                  Return this session's leftovers now (no prompt)
                </button>
              )}
              {(a.token.amount > 0n || a.token.delegate !== null) && (
                <button
                  type="button"
                  onClick={() =>
                    void props.act(async () => {
                      await tips.recover(signer, [a.address], { close: !a.thisDevice });
                      setMine((v) => v + 1);
                    })
                  }
                >
                  Recover to my wallet (one signature)
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function App(props: {
  pendingApproval: { request: ApprovalRequest; answer: (ok: boolean) => void } | null;
}) {
  const [wallets, setWallets] = useState<readonly StandardWallet[]>(() => getWallets().get());
  const [sesame, setSesame] = useState<Sesame | null>(null);
  const [state, setState] = useState<"connect" | "consent" | "app">("connect");
  const [reason, setReason] = useState<string | undefined>(undefined);
  const [renewing, setRenewing] = useState<SessionPolicy | undefined>(undefined);
  const [page, setPage] = useState<Page>({ name: "home", feed: "global" });
  const [tick, setTick] = useState(0);
  const [status, setStatus] = useState<{
    message: string;
    action?: "renew" | "restart";
    /** The node was unreachable and actions wait in the outbox. */
    queued?: true;
  } | null>(null);
  const [signatures, setSignatures] = useState(signatureCount());
  const [tipBalance, setTipBalance] = useState<TipBalance | null>(null);

  useEffect(() => {
    const api = getWallets();
    const off = [
      api.on("register", () => setWallets(api.get())),
      api.on("unregister", () => setWallets(api.get())),
    ];
    const onSigned = () => setSignatures(signatureCount());
    window.addEventListener("sesame-dev-wallet-signed", onSigned);
    return () => {
      for (const f of off) f();
      window.removeEventListener("sesame-dev-wallet-signed", onSigned);
    };
  }, []);

  const connect = useCallback(async (wallet: StandardWallet) => {
    const connectFeature = (
      wallet.features as Record<string, { connect?: () => Promise<unknown> }>
    )["standard:connect"];
    await connectFeature?.connect?.();
    const info = await nodeInfo();
    const s = connectSesame(wallet, info);
    // The embedded chain's faucet gives the development wallet SOL and demo tokens to tip.
    if (wallet.name === "Sesame Dev Wallet") {
      await fundDemoWallet(s.wallet, info).catch((e: unknown) =>
        console.warn("Sesame: the faucet failed", e),
      );
    }
    setSesame(s);
    localStorage.setItem("sesame-last-wallet", wallet.name);
    const st = await s.manager.status();
    if (st.state === "active") {
      setState("app");
      await s.social.flush();
    } else {
      // The chain does not know a session expired: return its leftovers now (no prompt).
      if (st.state === "expired") {
        void s.manager.endFunds().catch(() => undefined);
        setRenewing(policyOf(st.session.grant));
      }
      setReason(
        st.state === "expired"
          ? "Your last session expired. Renew it: the same permissions are filled in below (one wallet prompt)."
          : st.state === "revoked"
            ? "Your last session was revoked."
            : undefined,
      );
      setState("consent");
    }
  }, []);

  // A reload resumes: reconnect to the last wallet (no prompt: connecting signs nothing).
  useEffect(() => {
    const last = localStorage.getItem("sesame-last-wallet");
    const w = wallets.find((x) => x.name === last);
    if (w !== undefined && sesame === null) void connect(w);
  }, [wallets, sesame, connect]);

  // Live updates from the node's stream.
  useEffect(() => {
    if (sesame === null || state !== "app") return;
    const ctrl = new AbortController();
    void sesame.social.subscribe(() => setTick((t) => t + 1), { signal: ctrl.signal });
    const retry = setInterval(() => {
      void sesame.social.flush().then(async (n) => {
        if (n > 0) setTick((t) => t + 1);
        // Everything queued while the node was away has gone out (by this flush or the
        // SDK's own retry): say so no more.
        const left = (await sesame.manager.resume())?.record.outbox.length ?? 0;
        if (left === 0) setStatus((s) => (s?.queued === true ? null : s));
      });
    }, 3000);
    return () => {
      ctrl.abort();
      clearInterval(retry);
    };
  }, [sesame, state]);

  // A session near its end: offer to renew it before it runs out (one prompt, on request).
  useEffect(() => {
    if (sesame === null || state !== "app") return;
    const check = () =>
      void sesame.manager.status().then((st) => {
        if (st.state !== "active" || !sesame.manager.renewalDue(st.session)) return;
        const minutes = Math.max(
          1,
          Math.round((st.session.grant.expirationTime - Date.now()) / 60_000),
        );
        setStatus(
          (s) =>
            s ?? {
              message: `Your session ends in ${minutes} minute${minutes === 1 ? "" : "s"}. Renew it to keep going (one wallet prompt).`,
              action: "renew",
            },
        );
      });
    check();
    const timer = setInterval(check, 30_000);
    return () => clearInterval(timer);
  }, [sesame, state]);

  // Funds: tips whose transfer landed but whose action no node took yet go on; the
  // session's leftovers go back (END, no prompt) once it expired or was revoked elsewhere.
  useEffect(() => {
    if (sesame === null || sesame.tips === null || state !== "app") return;
    void sesame.tips.retryPending().catch(() => undefined);
    const sweeper = startFundsSweeper(sesame.manager, {
      onCheck: (c) => {
        if (c.state === "ended") setTick((t) => t + 1);
      },
    });
    return () => sweeper.stop();
  }, [sesame, state]);

  // What this device's funded session can still tip, from the chain.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` is the reload signal
  useEffect(() => {
    if (sesame?.tips === null || sesame?.tips === undefined || state !== "app") {
      setTipBalance(null);
      return;
    }
    let live = true;
    void sesame.tips.balance().then(
      (b) => {
        if (live) setTipBalance(b);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [sesame, state, tick]);

  const act = useCallback(async (f: () => Promise<unknown>) => {
    try {
      const r = (await f()) as { status?: string; error?: unknown } | undefined;
      if (r?.status === "queued" && r.error !== undefined && !isUnreachable(r.error))
        // Held back by the node (over the hourly rate, busy): kept, and sent later.
        setStatus({ message: explain(r.error).message, queued: true });
      else if (r?.status === "queued")
        setStatus({
          message:
            "The node is unreachable. Your action is queued and will be sent when it is back.",
          queued: true,
        });
      else if (r?.status === "revoked-self")
        setStatus({
          message:
            "You revoked this device's session: it can do nothing more. Start a new one to keep going (one wallet prompt).",
          action: "restart",
        });
      else setStatus(null);
      setTick((t) => t + 1);
    } catch (e) {
      setStatus(explain(e));
    }
  }, []);

  const restart = async (action: "renew" | "restart") => {
    if (sesame === null) return;
    setStatus(null);
    if (action === "renew") {
      // The same permissions, shown again before the one prompt.
      const st = await sesame.manager.status();
      setRenewing(
        st.state === "expired" || st.state === "active" ? policyOf(st.session.grant) : undefined,
      );
      setReason(
        "Renew your session: the same permissions are filled in below (one wallet prompt).",
      );
    } else {
      setRenewing(undefined);
      setReason(undefined);
    }
    setState("consent");
  };

  return (
    <>
      <header className="top">
        <h1>Sesame</h1>
        {sesame !== null && (
          <span className="mono" title={sesame.wallet}>
            {short(sesame.wallet)}
          </span>
        )}
        <span className="muted" data-testid="signature-count">
          wallet signatures: {signatures}
        </span>
        {tipBalance !== null && (
          <span className="muted" data-testid="tip-budget">
            tip budget left: {tokens(tipBalance.remaining, tipBalance.decimals)} of{" "}
            {tokens(tipBalance.budget, tipBalance.decimals)} tokens
          </span>
        )}
      </header>
      {state === "app" && sesame !== null && (
        <nav className="tabs main" aria-label="Main">
          <button
            type="button"
            aria-pressed={page.name === "home"}
            onClick={() => setPage({ name: "home", feed: "global" })}
          >
            Home
          </button>
          <button
            type="button"
            aria-pressed={page.name === "messages"}
            onClick={() => setPage({ name: "messages" })}
          >
            Messages
          </button>
          <button
            type="button"
            aria-pressed={page.name === "profile"}
            onClick={() => setPage({ name: "profile", wallet: sesame.wallet })}
          >
            Profile
          </button>
          <button
            type="button"
            aria-pressed={page.name === "sessions"}
            onClick={() => setPage({ name: "sessions" })}
          >
            Sessions
          </button>
        </nav>
      )}
      <main>
        {status !== null && (
          <div role="alert" className="notice" data-testid="status">
            <span>{status.message}</span>
            {status.action !== undefined && (
              <button
                type="button"
                className="primary"
                onClick={() => void restart(status.action as "renew" | "restart")}
              >
                {status.action === "renew" ? "Renew session" : "Start a new session"}
              </button>
            )}
          </div>
        )}
        {state === "connect" && (
          <section className="card" aria-labelledby="connect-title">
            <h2 id="connect-title">Connect a wallet</h2>
            <p>Your Solana wallet is your identity. Connecting signs nothing.</p>
            {wallets.length === 0 && <p>No Wallet Standard wallet found.</p>}
            {wallets.map((w) => (
              <button type="button" key={w.name} className="wallet" onClick={() => void connect(w)}>
                <img src={w.icon} alt="" width={24} height={24} /> {w.name}
              </button>
            ))}
          </section>
        )}
        {state === "consent" && sesame !== null && (
          <Consent
            key={renewing === undefined ? "new" : "renew"}
            sesame={sesame}
            reason={reason}
            initial={renewing}
            onStarted={() => {
              setState("app");
              setStatus(null);
              setTick((t) => t + 1);
            }}
          />
        )}
        {state === "app" && sesame !== null && page.name === "home" && (
          <Home
            sesame={sesame}
            feed={page.feed}
            canTip={tipBalance !== null}
            tick={tick}
            go={setPage}
            act={act}
          />
        )}
        {state === "app" && sesame !== null && page.name === "thread" && (
          <Thread
            sesame={sesame}
            id={page.id}
            canTip={tipBalance !== null}
            tick={tick}
            go={setPage}
            act={act}
          />
        )}
        {state === "app" && sesame !== null && page.name === "profile" && (
          <Profile sesame={sesame} wallet={page.wallet} tick={tick} act={act} />
        )}
        {state === "app" && sesame !== null && page.name === "messages" && (
          <Messages sesame={sesame} tick={tick} act={act} />
        )}
        {state === "app" && sesame !== null && page.name === "sessions" && (
          <Sessions sesame={sesame} tick={tick} act={act} />
        )}
      </main>
      {props.pendingApproval !== null && (
        <ApprovalDialog
          request={props.pendingApproval.request}
          onAnswer={props.pendingApproval.answer}
        />
      )}
    </>
  );
}

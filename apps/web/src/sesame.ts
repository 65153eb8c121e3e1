import {
  type ChainInfo,
  chainFunding,
  type FundingHook,
  IndexedDbSessionStore,
  NodeApi,
  nodeChain,
  persistentDeviceId,
  SessionManager,
  type SessionPolicy,
  SocialClient,
  TipClient,
  type Wallet,
  walletStandardAdapter,
} from "@sesame/client";
import {
  ErrorCode,
  formatUnits,
  isProtocolError,
  type MintAddress,
  ProtocolError,
  SCOPES,
  type Scope,
  type WalletAddress,
} from "@sesame/protocol";
import { webEd25519 } from "@sesame/protocol/web-crypto";
import type { Wallet as StandardWallet } from "@wallet-standard/core";

export interface NodeInfo {
  readonly chain: string;
  readonly network: string;
  /** The funds tier, when the node has it (`GET /v1/chain`). */
  readonly funds: ChainInfo | null;
}

/** The token tips are paid in: the node's demo mint on the embedded chain. */
export interface TipToken {
  readonly mint: MintAddress;
  readonly decimals: number;
}

export interface Sesame {
  readonly api: NodeApi;
  readonly manager: SessionManager;
  readonly social: SocialClient;
  readonly wallet: WalletAddress;
  /** The connected wallet, as the SDK uses it (RECOVER asks it for one signature). */
  readonly signer: Wallet;
  readonly info: NodeInfo;
  /** Tips with the session key; null when the node has no chain for them. */
  readonly tips: TipClient | null;
  readonly tipToken: TipToken | null;
}

export const api = new NodeApi(window.location.origin);
const store = new IndexedDbSessionStore("sesame");
const backend = webEd25519();

export async function nodeInfo(): Promise<NodeInfo> {
  const [h, funds] = await Promise.all([api.health(), api.chainInfo().catch(() => null)]);
  return { chain: h.chain, network: h.network, funds };
}

/** Tokens from base units, for people: `1500000` with 6 decimals → `1.5`. */
export function tokens(amount: bigint | string, decimals: number): string {
  return formatUnits(amount.toString(), decimals);
}

/**
 * Embedded chain only: the development wallet gets 2 SOL and 100 demo tokens from the
 * node's faucet, once per wallet and chain (a restarted embedded chain has a new mint).
 */
export async function fundDemoWallet(wallet: string, info: NodeInfo): Promise<boolean> {
  const funds = info.funds;
  if (funds === null || funds.rpc === null || funds.demoMint === null) return false;
  const key = `sesame-faucet:${wallet}:${funds.demoMint.address}`;
  if (localStorage.getItem(key) !== null) return false;
  await api.faucet(wallet);
  localStorage.setItem(key, String(Date.now()));
  return true;
}

function deviceLabel(): string {
  const ua = navigator.userAgent;
  const browser = /Chrom(e|ium)/.test(ua)
    ? "Chromium"
    : /Firefox/.test(ua)
      ? "Firefox"
      : /Safari/.test(ua)
        ? "Safari"
        : "Browser";
  const os = /Android/.test(ua)
    ? "Android"
    : /iPhone|iPad/.test(ua)
      ? "iOS"
      : /Mac/.test(ua)
        ? "macOS"
        : /Win/.test(ua)
          ? "Windows"
          : "Linux";
  return `${browser} on ${os}`;
}

/** Wires the SDK for one connected wallet: IndexedDB keys, WebCrypto verification. */
export function connectSesame(wallet: StandardWallet, info: NodeInfo): Sesame {
  const account = wallet.accounts[0];
  if (account === undefined) throw new Error("the wallet has no account");
  const signer = walletStandardAdapter(wallet, account, info.chain);
  // Tips need a wallet that signs transactions (the funded START); a wallet that only signs
  // messages still gets every other scope.
  const signsTransactions = "solana:signTransaction" in wallet.features;
  const funds = signsTransactions ? info.funds : null;
  const reached = funds === null ? null : nodeChain(api, funds, { pollMs: 100 });
  const chain = reached?.chain ?? null;
  // One id per browser profile: every session here reuses this device's token account.
  const deviceId = persistentDeviceId(localStorage);
  const flow = {
    deviceId,
    ...(reached?.memoProgram === undefined ? {} : { memoProgram: reached.memoProgram }),
  };
  const funding: FundingHook | undefined = chain === null ? undefined : chainFunding(chain, flow);
  const manager = new SessionManager({
    store,
    api,
    walletAddress: signer.address,
    wallet: signer,
    app: {
      domain: window.location.host,
      uri: `${window.location.origin}/`,
      device: deviceLabel(),
      chain: info.chain,
      network: info.network,
    },
    ...(funding === undefined ? {} : { funding }),
    onFundsEnded: (e) => {
      if (!e.ok) console.warn("Sesame: could not return the session's funds", e.error);
    },
  });
  // The app renews through its consent screen (the permissions shown again before the one
  // prompt), offered when the session is due; the SDK does not prompt on its own.
  const social = new SocialClient({
    manager,
    store,
    api,
    backend,
    context: info,
    autoRenew: false,
  });
  // Tips whose action no node took yet survive a reload (see TipClient).
  const tips =
    chain === null
      ? null
      : new TipClient({ manager, social, chain, ...flow, pendingStorage: localStorage });
  // The node names the mint tips move (SESAME_TIP_MINT, or the embedded chain's demo mint).
  const tipMint = funds?.tipMint ?? funds?.demoMint ?? null;
  const tipToken =
    tips === null || tipMint === null
      ? null
      : { mint: tipMint.address as MintAddress, decimals: tipMint.decimals };
  return { api, manager, social, wallet: signer.address, signer, info, tips, tipToken };
}

export const SCOPE_LABELS: Record<Scope, string> = {
  post: "Post",
  reply: "Reply",
  react: "React (like)",
  follow: "Follow",
  profile: "Edit profile",
  dm: "Direct messages",
  tip: "Tip",
};

/** The tip budget the consent screen proposes, in tokens. */
export const DEFAULT_TIP_BUDGET = "5";

export const DEFAULT_POLICY: SessionPolicy = {
  scopes: SCOPES.filter((s) => s !== "tip"),
  limits: {
    post: { total: 50, perHour: 20 },
    reply: { total: 100, perHour: 30 },
    react: { total: 500, perHour: 120 },
    follow: { total: 100, perHour: 30 },
    profile: { total: 10, perHour: 5 },
    dm: { total: 200, perHour: 60 },
    tip: { total: 20, perHour: 10 },
  },
  durationMs: 24 * 3_600_000,
};

/** A refusal in words a person can act on. */
export function explain(e: unknown): { message: string; action?: "renew" | "restart" } {
  if (!isProtocolError(e)) return { message: e instanceof Error ? e.message : String(e) };
  const err = e as ProtocolError;
  switch (err.code) {
    case ErrorCode.SESSION_EXPIRED:
      return {
        message: "Your session has expired. Renew it to keep going (one wallet prompt).",
        action: "renew",
      };
    case ErrorCode.SESSION_REVOKED:
      return {
        message: "This session was revoked. Start a new one to continue (one wallet prompt).",
        action: "restart",
      };
    case ErrorCode.OVER_CAP: {
      const c = err.context as { scope: string; cap: number };
      return {
        message: `You reached this session's cap of ${c.cap} for “${c.scope}”. Start a new session for more.`,
        action: "restart",
      };
    }
    case ErrorCode.OVER_RATE: {
      const c = err.context as { scope: string; perHour: number };
      return {
        message: `Slow down: this session allows ${c.perHour} “${c.scope}” per hour. The action is kept and goes out by itself once the hour allows it.`,
      };
    }
    case ErrorCode.SCOPE_NOT_GRANTED:
      return {
        message: `This session may not do that (${(err.context as { scope: string }).scope}). Start one that may.`,
        action: "restart",
      };
    case ErrorCode.CHAIN_ERROR: {
      const c = err.context as { program: string; name: string; message: string };
      if (c.program === "token" && c.name === "InsufficientFunds") {
        return {
          message: `Over your tip budget: the chain refused the transfer (token program: ${c.message}). This session cannot move more than the budget you granted; start a new session for more.`,
        };
      }
      return {
        message: `The chain refused the transaction: ${c.name} (${c.program}): ${c.message}.`,
      };
    }
    case ErrorCode.UNAVAILABLE:
      return {
        message:
          "The node is unreachable. Your actions are queued and will be sent when it is back.",
      };
    default:
      return { message: `${err.message} (code ${err.code})` };
  }
}

export { ProtocolError };

import {
  IndexedDbSessionStore,
  NodeApi,
  SessionManager,
  type SessionPolicy,
  SocialClient,
  walletStandardAdapter,
} from "@sesame/client";
import {
  ErrorCode,
  isProtocolError,
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
}

export interface Sesame {
  readonly api: NodeApi;
  readonly manager: SessionManager;
  readonly social: SocialClient;
  readonly wallet: WalletAddress;
  readonly info: NodeInfo;
}

export const api = new NodeApi(window.location.origin);
const store = new IndexedDbSessionStore("sesame");
const backend = webEd25519();

export async function nodeInfo(): Promise<NodeInfo> {
  const h = await api.health();
  return { chain: h.chain, network: h.network };
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
  });
  const social = new SocialClient({ manager, store, api, backend, context: info });
  return { api, manager, social, wallet: signer.address, info };
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
        message: `Slow down: this session allows ${c.perHour} “${c.scope}” per hour. Try again in a few minutes.`,
      };
    }
    case ErrorCode.SCOPE_NOT_GRANTED:
      return {
        message: `This session may not do that (${(err.context as { scope: string }).scope}). Start one that may.`,
        action: "restart",
      };
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

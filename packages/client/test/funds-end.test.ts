/**
 * Nothing stranded when a funded session is over: `endIfOver` (and the sweeper that runs
 * it on a timer) returns the leftover allowance and the key's lamports with no prompt, when
 * the session expired or was revoked from another device. Against a real node on a port
 * with the embedded chain, reached through kit's RPC client at its /rpc.
 */
import type { MintAddress, WalletAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  type Chain,
  decodeTokenAccount,
  mainTokenAccountAddress,
  rpcChain,
  sessionTokenAccountAddress,
} from "@sesame/solana/client";
import { address } from "@solana/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChainInfo,
  chainFunding,
  chainRpcUrl,
  endIfOver,
  type FundsCheck,
  MemorySessionStore,
  NodeApi,
  parseTokenAmount,
  SessionManager,
  type SessionPolicy,
  SocialClient,
  startFundsSweeper,
  TipClient,
} from "../src/index.js";
import { keypairWallet } from "../src/node.js";
import { app, CONTEXT, newWalletFile, policy, startTestNode, type TestNode } from "./helpers.js";

let node: TestNode;
let api: NodeApi;
let info: ChainInfo;
let chain: Chain;
let mint: MintAddress;

beforeAll(async () => {
  node = await startTestNode({ engine: "pglite", chain: "embedded" });
  api = new NodeApi(node.url);
  info = await api.chainInfo();
  const rpc = chainRpcUrl(api, info);
  if (rpc === null || info.demoMint === null) throw new Error("the node has no embedded chain");
  chain = rpcChain(rpc, { pollMs: 20 });
  mint = info.demoMint.address as MintAddress;
});
afterAll(async () => node.close());

const BUDGET = "3";

/** A device of `wallet` whose clock can be moved forward (`clock.offset`). */
function device(wallet: { path: string; address: WalletAddress }, name: string) {
  const clock = { offset: 0 };
  const now = () => Date.now() + clock.offset;
  const store = new MemorySessionStore();
  const deviceId = `${name}-${crypto.randomUUID()}`;
  const memoProgram = address(info.memoProgram ?? "");
  const manager = new SessionManager({
    store,
    api,
    walletAddress: wallet.address,
    wallet: keypairWallet(wallet.path),
    app: app(name),
    funding: chainFunding(chain, { deviceId, memoProgram }),
    clock: now,
  });
  const social = new SocialClient({
    manager,
    store,
    api,
    backend: nodeEd25519(),
    context: CONTEXT,
    clock: now,
  });
  const tips = new TipClient({ manager, social, chain, deviceId, memoProgram });
  return { manager, social, tips, deviceId, clock };
}

function tipPolicy(): SessionPolicy {
  return {
    ...policy(["post", "tip"], { tip: { total: 10 } }),
    tipBudget: { mint, amount: parseTokenAmount(BUDGET, 6).toString(), decimals: 6 },
  };
}

async function fundedWallet() {
  const wallet = newWalletFile();
  await api.faucet(wallet.address);
  return wallet;
}

async function mainTokens(owner: string): Promise<bigint> {
  const ata = await mainTokenAccountAddress(address(owner), address(mint));
  return decodeTokenAccount(await chain.getAccount(ata))?.amount ?? 0n;
}

async function sessionAccount(wallet: string, deviceId: string) {
  const { address: account } = await sessionTokenAccountAddress(
    address(wallet),
    address(mint),
    deviceId,
  );
  return decodeTokenAccount(await chain.getAccount(account));
}

describe("END when a funded session is over, with no prompt", () => {
  it("an expired session: endIfOver returns the leftover allowance and all the key's lamports", async () => {
    const wallet = await fundedWallet();
    const d = device(wallet, "laptop");
    const tokensBefore = await mainTokens(wallet.address);
    const session = await d.manager.confirm(await d.manager.prepare(tipPolicy()));
    const author = await fundedWallet();
    const bob = device(author, "bob");
    await bob.manager.confirm(await bob.manager.prepare(policy(["post"])));
    const post = await bob.social.post("tip me");
    await d.tips.tip({ id: post.id, wallet: author.address }, parseTokenAmount("1", 6));

    // While active, nothing happens.
    expect(await endIfOver(d.manager)).toEqual({ state: "active", grantId: session.grantId });
    expect(await chain.getBalance(address(session.grant.sessionKey))).toBeGreaterThan(0n);

    d.clock.offset = 2 * 3_600_000; // past the grant's expiration time
    const check = await endIfOver(d.manager);
    expect(check).toMatchObject({ state: "ended", why: "expired", grantId: session.grantId });
    // Two of the three tokens were left; the top-up comes back but for two fees (TIP, END).
    expect((check as { result: unknown }).result).toMatchObject({
      returnedTokens: parseTokenAmount("2", 6),
      returnedLamports: 5_000_000n - 2n * 5_000n,
      fee: 5_000n,
    });
    expect(await chain.getBalance(address(session.grant.sessionKey))).toBe(0n);
    expect((await sessionAccount(wallet.address, d.deviceId))?.delegatedAmount).toBe(0n);
    expect((await sessionAccount(wallet.address, d.deviceId))?.amount).toBe(0n);
    expect(await mainTokens(wallet.address)).toBe(tokensBefore - parseTokenAmount("1", 6));
    // Again: nothing left to move.
    expect(await endIfOver(d.manager)).toMatchObject({ state: "ended", result: null });
  });

  it("revoked from another device: endIfOver (asking the node) ENDs, then destroys the keys", async () => {
    const wallet = await fundedWallet();
    const phone = device(wallet, "phone");
    const laptop = device(wallet, "laptop");
    const tokensBefore = await mainTokens(wallet.address);
    const session = await phone.manager.confirm(await phone.manager.prepare(tipPolicy()));
    await laptop.manager.revokeAll();

    const check = await endIfOver(phone.manager);
    expect(check).toMatchObject({ state: "ended", why: "revoked", grantId: session.grantId });
    expect(await chain.getBalance(address(session.grant.sessionKey))).toBe(0n);
    expect(await mainTokens(wallet.address)).toBe(tokensBefore);
    expect((await phone.manager.status()).state).toBe("revoked");
  });

  it("the sweeper ENDs a session right after it expires, with no call from the app", async () => {
    const wallet = await fundedWallet();
    const d = device(wallet, "tablet");
    const tokensBefore = await mainTokens(wallet.address);
    const shortLived = { ...tipPolicy(), durationMs: 1_500 };
    const session = await d.manager.confirm(await d.manager.prepare(shortLived));
    const ended = new Promise<FundsCheck>((resolve, reject) => {
      const sweeper = startFundsSweeper(d.manager, {
        intervalMs: 60_000,
        onCheck: (c) => {
          if (c.state === "ended") {
            sweeper.stop();
            resolve(c);
          }
        },
        onError: (e) => {
          sweeper.stop();
          reject(e);
        },
      });
    });
    expect(await ended).toMatchObject({ state: "ended", why: "expired", grantId: session.grantId });
    expect(await chain.getBalance(address(session.grant.sessionKey))).toBe(0n);
    expect(await mainTokens(wallet.address)).toBe(tokensBefore);
  });
});

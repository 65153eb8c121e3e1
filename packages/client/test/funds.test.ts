/**
 * The funds tier through the client SDK, against a real node (in-process, on a port) that
 * runs the embedded LiteSVM chain and serves it at /rpc: the client reaches the chain only
 * through kit's RPC client (`rpcChain(node + "/rpc")`), as a browser does.
 */
import { ErrorCode, type MintAddress, ProtocolError, type WalletAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  type Chain,
  decodeTokenAccount,
  type EndedSession,
  mainTokenAccountAddress,
  rpcChain,
} from "@sesame/solana/client";
import { type Address, address } from "@solana/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChainInfo,
  chainFunding,
  chainRpcUrl,
  type FundsEnded,
  MemorySessionStore,
  NodeApi,
  parseTokenAmount,
  persistentDeviceId,
  type SentTip,
  SessionManager,
  type SessionPolicy,
  type SessionStore,
  SocialClient,
  TipClient,
} from "../src/index.js";
import { keypairWallet } from "../src/node.js";
import {
  app,
  CONTEXT,
  newWalletFile,
  policy,
  startTestNode,
  type TestNode,
  testClient,
} from "./helpers.js";

const TOKEN = 1_000_000n; // the demo mint has 6 decimals

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

interface FundedClient {
  readonly address: WalletAddress;
  readonly manager: SessionManager;
  readonly social: SocialClient;
  readonly tips: TipClient;
  /** What the wallet was asked to sign, one entry per prompt. */
  readonly prompts: ("message" | "transactions")[];
  readonly ended: FundsEnded[];
}

function fundedClient(
  options: {
    wallet?: { path: string; address: WalletAddress };
    deviceId?: string;
    store?: SessionStore;
  } = {},
): FundedClient {
  const { path, address: wallet } = options.wallet ?? newWalletFile();
  const prompts: FundedClient["prompts"] = [];
  const ended: FundsEnded[] = [];
  const store = options.store ?? new MemorySessionStore();
  const deviceId = options.deviceId ?? crypto.randomUUID();
  const memoProgram = address(info.memoProgram ?? "");
  const manager = new SessionManager({
    store,
    api,
    walletAddress: wallet,
    wallet: keypairWallet(path, (what) => prompts.push(what)),
    app: app(`device ${deviceId}`),
    funding: chainFunding(chain, { deviceId, memoProgram }),
    onFundsEnded: (e) => ended.push(e),
  });
  const social = new SocialClient({
    manager,
    store,
    api,
    backend: nodeEd25519(),
    context: CONTEXT,
  });
  const tips = new TipClient({ manager, social, chain, deviceId, memoProgram });
  return { address: wallet, manager, social, tips, prompts, ended };
}

function tipPolicy(budgetTokens: string): SessionPolicy {
  return {
    ...policy(["post", "tip"], { tip: { total: 10 } }),
    tipBudget: { mint, amount: parseTokenAmount(budgetTokens, 6).toString(), decimals: 6 },
  };
}

async function tokens(owner: string): Promise<bigint> {
  const ata = await mainTokenAccountAddress(address(owner), address(mint));
  return decodeTokenAccount(await chain.getAccount(ata))?.amount ?? 0n;
}

async function refusal(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error("expected a refusal");
}

describe("funded sessions and tips through the SDK, against a node with the embedded chain", () => {
  let alice: FundedClient;
  let bobWallet: WalletAddress;
  let bobPost: string;
  let sent: SentTip;

  it("the node describes its chain, and its faucet funds a demo wallet", async () => {
    expect(info).toMatchObject({ tips: true, rpc: "/rpc", demoMint: { decimals: 6 } });
    alice = fundedClient();
    await api.faucet(alice.address);
    expect(await tokens(alice.address)).toBe(100n * TOKEN);
    expect(await chain.getBalance(address(alice.address))).toBe(2_000_000_000n);
  });

  it("a funded start costs ONE prompt, a transaction that carries the grant", async () => {
    const session = await alice.manager.start(tipPolicy("5"));
    expect(alice.prompts).toEqual(["transactions"]);
    expect(session.record.text).toContain("Tip Budget: 5 of token");
    // The node stored the grant in transaction form, with exactly the text shown.
    const stored = await api.grant(session.grantId);
    expect(stored).toMatchObject({
      form: "transaction",
      text: session.record.text,
      transaction: session.record.transaction,
    });
    expect(await tokens(alice.address)).toBe(95n * TOKEN);
    const balance = await alice.tips.balance();
    expect(balance).toMatchObject({ budget: 5n * TOKEN, remaining: 5n * TOKEN });
    expect(balance?.lamports).toBe(5_000_000n);
  });

  it("a tip is sent with the session key (no prompt) and the node accepts it", async () => {
    const bob = testClient(node.url);
    await bob.manager.start(policy(["post"]));
    bobWallet = bob.address;
    const posted = await bob.social.post("Tip me, I am on chain");
    expect(posted.status).toBe("accepted");
    bobPost = posted.id;

    sent = await alice.tips.tip({ id: bobPost, wallet: bobWallet }, TOKEN);
    expect(sent.action.status).toBe("accepted");
    expect(sent.amount).toBe(TOKEN);
    expect(alice.prompts).toHaveLength(1);
    expect(await tokens(bobWallet)).toBe(TOKEN);
    expect((await alice.tips.balance())?.remaining).toBe(4n * TOKEN);
    const [mine] = await alice.manager.list();
    expect(mine?.used).toMatchObject({ tip: 1 });
  });

  it("over the budget: the token program refuses, decoded by name; the node sees nothing", async () => {
    const e = await refusal(alice.tips.tip({ id: bobPost, wallet: bobWallet }, 4n * TOKEN + 1n));
    expect(e.code).toBe(ErrorCode.CHAIN_ERROR);
    expect(e.context).toMatchObject({ program: "token", name: "InsufficientFunds" });
    expect(e.message).toMatch(/insufficient funds/i);
    expect(alice.prompts).toHaveLength(1);
    expect((await alice.tips.balance())?.remaining).toBe(4n * TOKEN);
    const [mine] = await alice.manager.list();
    expect(mine?.used).toMatchObject({ tip: 1 });
  });

  it("a transaction that backs a tip cannot back another one: 7003 TIP_REUSED", async () => {
    const e = await refusal(
      alice.social.tip({
        post: sent.action.id as never,
        to: bobWallet,
        mint,
        amount: TOKEN.toString(),
        transaction: sent.transaction as never,
      }),
    );
    // It names another post than the transaction's memo: refused before reuse is checked.
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    const again = await refusal(
      alice.social.tip({
        post: bobPost as never,
        to: bobWallet,
        mint,
        amount: TOKEN.toString(),
        transaction: sent.transaction as never,
      }),
    );
    expect(again.code).toBe(ErrorCode.TIP_REUSED);
    expect(again.context).toMatchObject({ signature: sent.transaction });
    expect(alice.prompts).toHaveLength(1);
  });

  it("END returns the leftovers to the wallet, with no prompt; the key ends with nothing", async () => {
    const before = await tokens(alice.address);
    const solBefore = await chain.getBalance(address(alice.address));
    const keyLamports = (await alice.tips.balance())?.lamports ?? 0n;
    // The top-up, less the tip's fee and the rent of Bob's new token account.
    expect(keyLamports).toBe(5_000_000n - 5000n - 2_039_280n);
    const ended = (await alice.tips.end()) as EndedSession;
    expect(ended.returnedTokens).toBe(4n * TOKEN);
    expect(ended.returnedLamports).toBe(keyLamports - ended.fee);
    expect(await tokens(alice.address)).toBe(before + 4n * TOKEN);
    expect(await chain.getBalance(address(alice.address))).toBe(solBefore + ended.returnedLamports);
    const session = await alice.manager.resume();
    expect(await chain.getBalance(address(session?.grant.sessionKey ?? ""))).toBe(0n);
    expect((await alice.tips.balance())?.remaining).toBe(0n);
    expect(alice.prompts).toHaveLength(1);
    // Nothing is left: a tip is refused by the chain, a second END has nothing to do.
    const e = await refusal(alice.tips.tip({ id: bobPost, wallet: bobWallet }, 1n));
    expect(e.code).toBe(ErrorCode.CHAIN_ERROR);
    expect(await alice.tips.end()).toBeNull();
  });

  it("the next session on the device reuses its token account; revoking it ENDs it first", async () => {
    const account = (await alice.tips.balance())?.sessionTokenAccount;
    const solBefore = await chain.getBalance(address(alice.address));
    await alice.manager.start(tipPolicy("3"));
    expect(alice.prompts).toEqual(["transactions", "transactions"]);
    // No new rent: the wallet paid the fee and the session key's top-up only.
    expect(await chain.getBalance(address(alice.address))).toBe(solBefore - 5000n - 5_000_000n);
    expect((await alice.tips.balance())?.sessionTokenAccount).toBe(account);
    // The replaced session had nothing left: END found nothing to do.
    expect(alice.ended).toEqual([expect.objectContaining({ ok: true, result: null })]);

    await alice.tips.tip({ id: bobPost, wallet: bobWallet }, TOKEN);
    const before = await tokens(alice.address);
    await alice.manager.revoke();
    expect(alice.prompts).toEqual(["transactions", "transactions", "message"]);
    const last = alice.ended.at(-1);
    expect(last).toMatchObject({ ok: true, result: { returnedTokens: 2n * TOKEN } });
    expect(await tokens(alice.address)).toBe(before + 2n * TOKEN);
    const e = await refusal(alice.tips.tip({ id: bobPost, wallet: bobWallet }, 1n));
    expect(e.code).toBe(ErrorCode.SESSION_REVOKED);
  });

  it("RECOVER returns a lost device's funds with one wallet signature", async () => {
    const wallet = newWalletFile();
    await api.faucet(wallet.address);
    const phone = fundedClient({ wallet, deviceId: "the-lost-phone" });
    await phone.manager.start(tipPolicy("7"));
    expect(phone.prompts).toEqual(["transactions"]);
    // The phone is gone. A laptop of the same wallet finds the phone's account and takes
    // its balance back (and closes it: its rent returns too).
    const laptop = fundedClient({ wallet, deviceId: "the-laptop" });
    const accounts = await laptop.tips.accounts(wallet.address, mint);
    expect(accounts).toHaveLength(1);
    expect(accounts[0]).toMatchObject({ thisDevice: false, token: { amount: 7n * TOKEN } });
    const before = await tokens(wallet.address);
    const prompts: string[] = [];
    const signer = keypairWallet(wallet.path, (what) => prompts.push(what));
    const recovered = await laptop.tips.recover(
      signer,
      accounts.map((a) => a.address as Address),
      { close: true },
    );
    expect(prompts).toEqual(["transactions"]);
    expect(recovered).toMatchObject([{ recovered: 7n * TOKEN }]);
    expect(await tokens(wallet.address)).toBe(before + 7n * TOKEN);
    expect(await chain.getAccount(accounts[0]?.address as Address)).toBeNull();
  });
});

describe("helpers", () => {
  it("parseTokenAmount reads tokens into base units", () => {
    expect(parseTokenAmount("1", 6)).toBe(1_000_000n);
    expect(parseTokenAmount("2.5", 6)).toBe(2_500_000n);
    expect(parseTokenAmount(".000001", 6)).toBe(1n);
    expect(parseTokenAmount("7", 0)).toBe(7n);
    for (const bad of ["", ".", "-1", "1e3", "1.0000001", "abc"]) {
      expect(() => parseTokenAmount(bad, 6)).toThrow(ProtocolError);
    }
  });

  it("persistentDeviceId is random once, then stable", () => {
    const kv = new Map<string, string>();
    const storage = {
      getItem: (k: string) => kv.get(k) ?? null,
      setItem: (k: string, v: string) => void kv.set(k, v),
    };
    const id = persistentDeviceId(storage);
    expect(id).toMatch(/^[1-9A-HJ-NP-Za-km-z]{16,24}$/);
    expect(persistentDeviceId(storage)).toBe(id);
    expect(persistentDeviceId({ getItem: () => null, setItem: () => undefined })).not.toBe(id);
  });
});

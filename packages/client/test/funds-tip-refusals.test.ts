/**
 * The node refuses a tip action whose transaction does not back it — wrong amount, mint,
 * author, memo, signer or status, not on chain, or already used — over HTTP, with every
 * transaction real (built, signed and landed on the node's embedded chain).
 */
import {
  type ActionId,
  ErrorCode,
  type MintAddress,
  ProtocolError,
  type Signature,
  toBase58,
  type WalletAddress,
} from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  buildTip,
  type Chain,
  encodeWire,
  programsOfWire,
  rpcChain,
  sessionTokenAccountAddress,
  signTransaction,
} from "@sesame/solana/client";
import { address, getTransactionEncoder } from "@solana/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ActiveSession,
  chainFunding,
  chainRpcUrl,
  MemorySessionStore,
  NodeApi,
  parseTokenAmount,
  SessionManager,
  SocialClient,
  sessionKeySigner,
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

const TOKEN = 1_000_000n;
const WRAPPED_SOL = "So11111111111111111111111111111111111111112";

let node: TestNode;
let chain: Chain;
let mint: MintAddress;
let memoProgram: ReturnType<typeof address>;
let alice: {
  social: SocialClient;
  session: ActiveSession;
  wallet: ReturnType<typeof keypairWallet>;
};
let bob: { address: WalletAddress; post: ActionId };
let carol: { address: WalletAddress; post: ActionId };

beforeAll(async () => {
  node = await startTestNode({ engine: "pglite", chain: "embedded" });
  const api = new NodeApi(node.url);
  const info = await api.chainInfo();
  chain = rpcChain(chainRpcUrl(api, info) ?? "", { pollMs: 20 });
  mint = info.tipMint?.address as MintAddress;
  memoProgram = address(info.memoProgram ?? "");
  const author = async () => {
    const c = testClient(node.url);
    await c.manager.confirm(await c.manager.prepare(policy(["post"])));
    await api.faucet(c.address); // creates the author's token account
    return { address: c.address, post: (await c.social.post("tip me")).id };
  };
  bob = await author();
  carol = await author();
  const file = newWalletFile();
  await api.faucet(file.address);
  const store = new MemorySessionStore();
  const wallet = keypairWallet(file.path);
  const manager = new SessionManager({
    store,
    api,
    walletAddress: file.address,
    wallet,
    app: app("refusals"),
    funding: chainFunding(chain, { deviceId: "refusals", memoProgram }),
  });
  const session = await manager.confirm(
    await manager.prepare({
      ...policy(["tip"], { tip: { total: 50 } }),
      tipBudget: { mint, amount: parseTokenAmount("20", 6).toString(), decimals: 6 },
    }),
  );
  const social = new SocialClient({
    manager,
    store,
    api,
    backend: nodeEd25519(),
    context: CONTEXT,
  });
  alice = { social, session, wallet };
});
afterAll(async () => node.close());

/** A TIP transaction on chain, as the test says: who signs, to whom, how much, which post. */
async function landTip(options: {
  to: WalletAddress;
  post: ActionId;
  amount: bigint;
  signer?: "session" | "wallet";
  skipPreflight?: boolean;
}): Promise<Signature> {
  const { grant, keys } = alice.session;
  const { address: account } = await sessionTokenAccountAddress(
    address(grant.wallet),
    address(mint),
    "refusals",
  );
  const byWallet = options.signer === "wallet";
  const built = await buildTip({
    // The wallet owns the session account, so it can move from it itself (not as delegate).
    sessionKey: (byWallet ? grant.wallet : grant.sessionKey) as never,
    sessionTokenAccount: account,
    mint,
    decimals: 6,
    author: options.to,
    amount: options.amount,
    post: options.post,
    createAuthorAccount: false, // the faucet made it
    lifetime: await chain.latestBlockhash(),
    memoProgram,
  });
  const wire = byWallet
    ? ((
        (await alice.wallet.signTransactions([
          Uint8Array.from(getTransactionEncoder().encode(built.transaction)),
        ])) as Uint8Array[]
      )[0] ?? new Uint8Array())
    : encodeWire(await signTransaction(built.transaction, [sessionKeySigner(keys)]));
  const signature = await chain.sendTransaction(wire, {
    ...(options.skipPreflight ? { skipPreflight: true } : {}),
  });
  if (!options.skipPreflight)
    await chain.confirmTransaction(signature, { programs: programsOfWire(wire) });
  return signature as string as Signature;
}

async function refusal(body: {
  post: ActionId;
  to: WalletAddress;
  mint?: string;
  amount: bigint;
  transaction: Signature;
}): Promise<ProtocolError> {
  const sent = await alice.social
    .tip({
      post: body.post,
      to: body.to,
      mint: (body.mint ?? mint) as MintAddress,
      amount: body.amount.toString(),
      transaction: body.transaction,
    })
    .then(
      (r) => r,
      (e: unknown) => e,
    );
  if (!(sent instanceof ProtocolError))
    throw new Error(`expected a refusal, got ${JSON.stringify(sent)}`);
  return sent;
}

describe("the node refuses tips whose transaction does not back them", () => {
  it("wrong amount: the action says more than the transfer moved", async () => {
    const tx = await landTip({ to: bob.address, post: bob.post, amount: TOKEN });
    const e = await refusal({
      post: bob.post,
      to: bob.address,
      amount: 2n * TOKEN,
      transaction: tx,
    });
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(e.context).toMatchObject({ field: "amount" });
  });

  it("wrong mint: the action names another mint than the grant's budget", async () => {
    const tx = await landTip({ to: bob.address, post: bob.post, amount: TOKEN });
    const e = await refusal({
      post: bob.post,
      to: bob.address,
      mint: WRAPPED_SOL,
      amount: TOKEN,
      transaction: tx,
    });
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(e.context).toMatchObject({ field: "mint" });
  });

  it("wrong author: the tokens went to someone else than the post's author, or the action names someone else", async () => {
    const toCarol = await landTip({ to: carol.address, post: bob.post, amount: TOKEN });
    const e = await refusal({
      post: bob.post,
      to: bob.address,
      amount: TOKEN,
      transaction: toCarol,
    });
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(e.context).toMatchObject({ field: "author" });
    const toBob = await landTip({ to: bob.address, post: bob.post, amount: TOKEN });
    const named = await refusal({
      post: bob.post,
      to: carol.address,
      amount: TOKEN,
      transaction: toBob,
    });
    expect(named.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(named.context).toMatchObject({ field: "author" });
  });

  it("wrong memo: the transaction names another post", async () => {
    const tx = await landTip({ to: bob.address, post: carol.post, amount: TOKEN });
    const e = await refusal({ post: bob.post, to: bob.address, amount: TOKEN, transaction: tx });
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(e.context).toMatchObject({ field: "memo" });
  });

  it("wrong signer: the wallet itself moved the tokens, not the session key as delegate", async () => {
    const tx = await landTip({ to: bob.address, post: bob.post, amount: TOKEN, signer: "wallet" });
    const e = await refusal({ post: bob.post, to: bob.address, amount: TOKEN, transaction: tx });
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(e.context).toMatchObject({ field: "signer" });
  });

  it("wrong status: the transaction landed but failed (over the allowance), named by the token program", async () => {
    const tx = await landTip({
      to: bob.address,
      post: bob.post,
      amount: 100n * TOKEN,
      skipPreflight: true,
    });
    const e = await refusal({
      post: bob.post,
      to: bob.address,
      amount: 100n * TOKEN,
      transaction: tx,
    });
    expect(e.code).toBe(ErrorCode.TIP_MISMATCH);
    expect(e.context).toMatchObject({ field: "status" });
    expect(JSON.stringify(e.context)).toMatch(/InsufficientFunds/);
  });

  it("not on chain, and reused: one transaction backs one tip", async () => {
    const missing = await refusal({
      post: bob.post,
      to: bob.address,
      amount: TOKEN,
      // A well-formed signature of no transaction.
      transaction: toBase58(crypto.getRandomValues(new Uint8Array(64))) as Signature,
    });
    expect(missing.code).toBe(ErrorCode.TIP_NOT_ON_CHAIN);
    const tx = await landTip({ to: bob.address, post: bob.post, amount: TOKEN });
    const first = await alice.social.tip({
      post: bob.post,
      to: bob.address,
      mint,
      amount: TOKEN.toString(),
      transaction: tx,
    });
    expect(first).toMatchObject({ status: "accepted", duplicate: false });
    const again = await refusal({
      post: bob.post,
      to: bob.address,
      amount: TOKEN,
      transaction: tx,
    });
    expect(again.code).toBe(ErrorCode.TIP_REUSED);
  });
});

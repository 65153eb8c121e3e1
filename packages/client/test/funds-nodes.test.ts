/**
 * The funds tier across real node processes (`packages/node/src/main.ts`, what `npm start`
 * runs), each on its own PGlite data directory:
 * - a node restarted on its data directory keeps its embedded chain (same mint, balances,
 *   transactions), still verifies the tips it stored and takes new ones;
 * - a node over `SOLANA_RPC_URL` (another node's /rpc) with `SESAME_TIP_MINT` and
 *   `SESAME_MEMO_PROGRAM` tells clients what to use and holds tips to it;
 * - a tip whose transfer landed is delivered until the node takes it — through a lagging
 *   RPC (`TIP_NOT_ON_CHAIN`) and through the node being stopped and started — with one
 *   transfer only.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  ErrorCode,
  type MintAddress,
  ProtocolError,
  type SignedAction,
  type WalletAddress,
} from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  type Chain,
  decodeTokenAccount,
  MEMO_V1_PROGRAM,
  MEMO_V3_PROGRAM,
  mainTokenAccountAddress,
  rpcChain,
  sessionTokenAccountAddress,
  verifyTipOnChain,
} from "@sesame/solana/client";
import { type Address, address } from "@solana/kit";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ChainInfo,
  chainFunding,
  chainRpcUrl,
  MemorySessionStore,
  NodeApi,
  nodeChain,
  parseTokenAmount,
  SessionManager,
  SocialClient,
  TipClient,
} from "../src/index.js";
import { keypairWallet } from "../src/node.js";
import {
  app,
  type Child,
  CONTEXT,
  templatePgliteDir as migratedPgliteDir,
  newWalletFile,
  policy,
  removeDir,
  runTs,
} from "./helpers.js";

const MAIN = "packages/node/src/main.ts";
const WRAPPED_SOL = "So11111111111111111111111111111111111111112";
const TOKEN = 1_000_000n;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface NodeProcess {
  readonly child: Child;
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** `npm start`'s entry in a child process, on `dataDir`; PORT 0 picks a free port. */
async function startNodeProcess(
  dataDir: string,
  env: Record<string, string> = {},
  port = 0,
): Promise<NodeProcess> {
  const child = runTs(MAIN, [], {
    PORT: String(port),
    SESAME_DATA_DIR: dataDir,
    SESAME_SEED: "0",
    SESAME_VERIFY_WORKERS: "0",
    SESAME_NETWORK: CONTEXT.network,
    SESAME_CHAIN: CONTEXT.chain,
    SESAME_WEB_DIR: join(dataDir, "no-web-app"),
    ...env,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const code = await child.kill("SIGTERM");
    expect(code).toBe(0);
  };
  cleanups.push(stop);
  const line = await child.line("  API ");
  const url = (/(http:\/\/[^ ]+)\/v1\/feed/.exec(line) ?? [])[1];
  if (url === undefined) throw new Error(`no URL in "${line}"`);
  return { child, url, port: Number(new URL(url).port), stop };
}

async function templatePgliteDir(): Promise<string> {
  const dir = await migratedPgliteDir();
  cleanups.push(() => removeDir(join(dir, "..")));
  return dir;
}

/** NodeApi that remembers every signed action it posted (to send one again later). */
class RecordingApi extends NodeApi {
  readonly posted: SignedAction[] = [];
  override async postActions(actions: readonly SignedAction[]) {
    this.posted.push(...actions);
    return super.postActions(actions);
  }
}

function client(
  nodeUrl: string,
  chain: Chain,
  memoProgram: Address,
  options: {
    funded?: boolean;
    deviceId?: string;
    wallet?: { path: string; address: WalletAddress };
  } = {},
) {
  const wallet = options.wallet ?? newWalletFile();
  const api = new RecordingApi(nodeUrl);
  const store = new MemorySessionStore();
  const deviceId = options.deviceId ?? crypto.randomUUID();
  const manager = new SessionManager({
    store,
    api,
    walletAddress: wallet.address,
    wallet: keypairWallet(wallet.path),
    app: app(`device ${deviceId}`),
    ...(options.funded === false
      ? {}
      : { funding: chainFunding(chain, { deviceId, memoProgram }) }),
  });
  const social = new SocialClient({
    manager,
    store,
    api,
    backend: nodeEd25519(),
    context: CONTEXT,
  });
  const tips = new TipClient({
    manager,
    social,
    chain,
    deviceId,
    memoProgram,
    retry: { delayMs: 100, maxDelayMs: 500, timeoutMs: 60_000 },
  });
  return { wallet, api, manager, social, tips, deviceId };
}

function tipPolicy(mint: string, budget: string) {
  return {
    ...policy(["post", "tip"], { tip: { total: 10 } }),
    tipBudget: {
      mint: mint as MintAddress,
      amount: parseTokenAmount(budget, 6).toString(),
      decimals: 6,
    },
  };
}

async function tokensOf(chain: Chain, owner: string, mint: string): Promise<bigint> {
  const ata = await mainTokenAccountAddress(address(owner), address(mint));
  return decodeTokenAccount(await chain.getAccount(ata))?.amount ?? 0n;
}

async function allowanceOf(chain: Chain, wallet: string, mint: string, deviceId: string) {
  const { address: account } = await sessionTokenAccountAddress(
    address(wallet),
    address(mint),
    deviceId,
  );
  return decodeTokenAccount(await chain.getAccount(account))?.delegatedAmount ?? 0n;
}

describe("the embedded chain across a node restart (npm start on the same data directory)", () => {
  it("same mint and balances, the old tip still on chain and verified, a new tip accepted", async () => {
    // A migrated PGlite directory (no initdb in the child); the chain goes in <dir>/chain.
    const dataDir = await templatePgliteDir();
    const first = await startNodeProcess(dataDir);
    const api = new NodeApi(first.url);
    const info = await api.chainInfo();
    const mint = info.demoMint?.address ?? "";
    const rpc = chainRpcUrl(api, info) ?? "";
    const chain = rpcChain(rpc, { pollMs: 20 });
    const memo = address(info.memoProgram ?? "");
    const alice = client(first.url, chain, memo);
    const bob = client(first.url, chain, memo, { funded: false });
    await api.faucet(alice.wallet.address);
    await bob.manager.confirm(await bob.manager.prepare(policy(["post"])));
    const post = await bob.social.post("tip me before the restart");
    const session = await alice.manager.confirm(await alice.manager.prepare(tipPolicy(mint, "5")));
    const sent = await alice.tips.tip({ id: post.id, wallet: bob.wallet.address }, 2n * TOKEN);
    expect(sent.action).toMatchObject({ status: "accepted", duplicate: false });
    const tipAction = alice.api.posted.find((a) => a.payload.kind === "tip");
    if (tipAction === undefined) throw new Error("no tip action was posted");
    const before = {
      alice: await tokensOf(chain, alice.wallet.address, mint),
      bob: await tokensOf(chain, bob.wallet.address, mint),
      allowance: await allowanceOf(chain, alice.wallet.address, mint, alice.deviceId),
      keyLamports: await chain.getBalance(address(session.grant.sessionKey)),
      tip: await chain.getTransaction(sent.transaction),
    };
    expect(before.tip).not.toBeNull();
    await first.stop();

    const second = await startNodeProcess(dataDir, {}, first.port);
    expect(second.url).toBe(first.url);
    const again = await api.chainInfo();
    expect(again.demoMint).toEqual(info.demoMint);
    expect(await tokensOf(chain, alice.wallet.address, mint)).toBe(before.alice);
    expect(await tokensOf(chain, bob.wallet.address, mint)).toBe(before.bob);
    expect(await allowanceOf(chain, alice.wallet.address, mint, alice.deviceId)).toBe(
      before.allowance,
    );
    expect(await chain.getBalance(address(session.grant.sessionKey))).toBe(before.keyLamports);
    expect(await chain.getTransaction(sent.transaction)).toEqual(before.tip);
    // The stored tip verifies against the reopened chain, for a client...
    const verified = await verifyTipOnChain(chain, {
      tip: tipAction.payload.body as never,
      grant: session.grant,
      author: bob.wallet.address,
    });
    expect(verified.ok).toBe(true);
    // ...and for the node, which checks a tip on chain before it looks for duplicates.
    const [resent] = await api.postActions([tipAction]);
    expect(resent).toMatchObject({ ok: true, duplicate: true });
    // The same funded session goes on tipping.
    const next = await alice.tips.tip({ id: post.id, wallet: bob.wallet.address }, TOKEN);
    expect(next.action).toMatchObject({ status: "accepted", duplicate: false });
    expect(await tokensOf(chain, bob.wallet.address, mint)).toBe(before.bob + TOKEN);
    expect(await allowanceOf(chain, alice.wallet.address, mint, alice.deviceId)).toBe(
      before.allowance - TOKEN,
    );
    await second.stop();
  }, 180_000);
});

/** An RPC in front of another node's /rpc that hides the next `hide` transactions asked for. */
async function laggingRpc(target: string) {
  const state = { hide: 0, hidden: 0 };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      void (async () => {
        const request = JSON.parse(body) as { id: unknown; method?: string };
        if (request.method === "getTransaction" && state.hide > 0) {
          state.hide--;
          state.hidden++;
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: null }));
          return;
        }
        const answer = await fetch(target, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        res.setHeader("content-type", "application/json");
        res.end(await answer.text());
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, state };
}

describe("a node over SOLANA_RPC_URL (another node's embedded /rpc)", () => {
  it("serves the configured tip mint and Memo program; tips survive a lagging RPC and a node restart, one transfer each", async () => {
    const chainNode = await startNodeProcess(await templatePgliteDir());
    const chainApi = new NodeApi(chainNode.url);
    const chainInfo = await chainApi.chainInfo();
    const mint = chainInfo.demoMint?.address ?? "";
    const rpcUrl = `${chainNode.url}/rpc`;
    const lagging = await laggingRpc(rpcUrl);
    const bDir = await templatePgliteDir();
    const env = {
      SOLANA_RPC_URL: lagging.url,
      SESAME_PUBLIC_RPC_URL: rpcUrl,
      SESAME_TIP_MINT: mint,
      SESAME_MEMO_PROGRAM: MEMO_V1_PROGRAM,
    };
    let b = await startNodeProcess(bDir, env);
    const apiB = new NodeApi(b.url);
    const info: ChainInfo = await apiB.chainInfo();
    expect(info).toEqual({
      chain: CONTEXT.chain,
      tips: true,
      rpc: rpcUrl,
      demoMint: null,
      tipMint: { address: mint, decimals: 6 },
      memoProgram: MEMO_V1_PROGRAM,
    });
    const reached = nodeChain(apiB, info, { pollMs: 20 });
    if (reached === null || reached.memoProgram === undefined) throw new Error("no chain");
    expect(reached.memoProgram).toBe(MEMO_V1_PROGRAM);
    const chain = reached.chain;

    // A START whose memo is not under the configured program is not a grant for this node.
    const stray = client(b.url, chain, MEMO_V3_PROGRAM);
    await chainApi.faucet(stray.wallet.address);
    const refused = await stray.manager
      .confirm(await stray.manager.prepare(tipPolicy(mint, "1")))
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(ProtocolError);

    const alice = client(b.url, chain, reached.memoProgram);
    const bob = client(b.url, chain, reached.memoProgram, { funded: false });
    await chainApi.faucet(alice.wallet.address);
    await bob.manager.confirm(await bob.manager.prepare(policy(["post"])));
    const post = await bob.social.post("tip me over RPC");
    await alice.manager.confirm(await alice.manager.prepare(tipPolicy(mint, "5")));
    const target = { id: post.id, wallet: bob.wallet.address };

    // The node's RPC does not see the transaction yet: TIP_NOT_ON_CHAIN twice, then taken.
    lagging.state.hide = 2;
    const lagged = await alice.tips.tip(target, TOKEN);
    expect(lagged.action).toMatchObject({ status: "accepted", duplicate: false });
    expect(lagging.state.hidden).toBe(2);
    const refusals = alice.api.posted.filter((a) => a.payload.kind === "tip");
    expect(refusals.length).toBe(3); // the same signed action, three times
    expect(new Set(refusals.map((a) => a.signature)).size).toBe(1);
    expect(await tokensOf(chain, bob.wallet.address, mint)).toBe(TOKEN);
    expect(await allowanceOf(chain, alice.wallet.address, mint, alice.deviceId)).toBe(4n * TOKEN);

    // The node is down when the tip is sent: the transfer lands, the action waits for it.
    await b.stop();
    const tipping = alice.tips.tip(target, 2n * TOKEN);
    for (let i = 0; i < 600 && alice.tips.pending()[0]?.action === undefined; i++)
      await new Promise((r) => setTimeout(r, 50));
    const pending = alice.tips.pending();
    expect(pending).toHaveLength(1);
    expect(await chain.getTransaction(pending[0]?.transaction as never)).not.toBeNull();
    b = await startNodeProcess(bDir, env, b.port);
    const late = await tipping;
    // Accepted once: by this call, or already by the SDK's own retry when the node came
    // back (then this call's answer is the duplicate). One transfer either way (below).
    expect(late.action).toMatchObject({ status: "accepted" });
    expect(late.transaction).toBe(pending[0]?.transaction);
    expect(alice.tips.pending()).toEqual([]);
    expect(await tokensOf(chain, bob.wallet.address, mint)).toBe(3n * TOKEN);
    expect(await allowanceOf(chain, alice.wallet.address, mint, alice.deviceId)).toBe(2n * TOKEN);

    // A tip of another mint than the configured one is refused by the node for good.
    const sessions = await apiB.sessions(alice.wallet.address);
    expect(sessions[0]?.used).toMatchObject({ tip: 2 });
    const wrongMint = await alice.social
      .tip({
        post: post.id as never,
        to: bob.wallet.address,
        mint: WRAPPED_SOL as never, // a real mint, not the configured one
        amount: "1",
        transaction: late.transaction as never,
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(wrongMint).toBeInstanceOf(ProtocolError);
    expect((wrongMint as ProtocolError).code).toBe(ErrorCode.TIP_MISMATCH);
    expect((wrongMint as ProtocolError).context).toMatchObject({ field: "mint", expected: mint });
    await b.stop();
    await chainNode.stop();
  }, 240_000);
});

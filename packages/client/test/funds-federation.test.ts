/**
 * Tips across federated nodes: a funded session and a tip made through the SDK on node A
 * (embedded chain at /rpc); node B, which sees the same chain through A's /rpc, verifies
 * and accepts them when it pulls A; node C, which has no chain, defers them (and the
 * actions of the funded grant) instead of dropping them.
 */
import { createNode, type Federation, type PeerStatus, type SesameNode } from "@sesame/node";
import type { MintAddress, WalletAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { rpcChain } from "@sesame/solana";
import { rpcChain as clientRpcChain } from "@sesame/solana/client";
import { address } from "@solana/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chainFunding,
  chainRpcUrl,
  MemorySessionStore,
  NodeApi,
  parseTokenAmount,
  SessionManager,
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
  templatePglite,
  testClient,
} from "./helpers.js";

interface LogItem {
  readonly type: string;
  readonly id: string;
}

async function logIds(url: string): Promise<string[]> {
  const r = await fetch(`${url}/v1/sync?limit=5000`);
  return ((await r.json()) as { items: LogItem[] }).items.map((i) => `${i.type}:${i.id}`);
}

describe("tips across federated nodes", () => {
  let a: TestNode;
  const followers: SesameNode[] = [];

  /** A node pulling A only when told to, with `chain` (or none). */
  async function follower(withChain: boolean) {
    const node = await createNode({
      database: { pglite: await templatePglite() },
      config: { verify: CONTEXT },
      chain: withChain ? rpcChain(`${a.url}/rpc`) : null,
      peers: [a.url],
      sync: { intervalMs: 3_600_000, nudge: false, log: () => {} },
    });
    followers.push(node);
    const url = await node.app.listen({ port: 0, host: "127.0.0.1" });
    const federation = node.ctx.federation as Federation;
    return {
      url,
      async pull(): Promise<PeerStatus> {
        await federation.syncNow();
        return (await federation.status())[0] as PeerStatus;
      },
    };
  }

  beforeAll(async () => {
    a = await startTestNode({ engine: "pglite", chain: "embedded" });
  });
  afterAll(async () => {
    for (const n of followers) await n.close();
    await a.close();
  });

  it("a node on the same chain accepts a peer's funded grant and tip; one without a chain defers them", async () => {
    const api = new NodeApi(a.url);
    const info = await api.chainInfo();
    const rpc = chainRpcUrl(api, info);
    if (rpc === null || info.demoMint === null) throw new Error("no embedded chain");
    const chain = clientRpcChain(rpc, { pollMs: 20 });
    const mint = info.demoMint.address as MintAddress;
    const memoProgram = address(info.memoProgram ?? "");

    // On A: alice starts a funded session (one prompt) and tips bob's post.
    const { path, address: alice } = newWalletFile();
    await api.faucet(alice);
    const store = new MemorySessionStore();
    const deviceId = crypto.randomUUID();
    const manager = new SessionManager({
      store,
      api,
      walletAddress: alice as WalletAddress,
      wallet: keypairWallet(path, () => {}),
      app: app(`device ${deviceId}`),
      funding: chainFunding(chain, { deviceId, memoProgram }),
    });
    const social = new SocialClient({
      manager,
      store,
      api,
      backend: nodeEd25519(),
      context: CONTEXT,
    });
    const tips = new TipClient({ manager, social, chain, deviceId, memoProgram });
    await manager.start({
      ...policy(["post", "tip"], { tip: { total: 10 } }),
      tipBudget: { mint, amount: parseTokenAmount("5", 6).toString(), decimals: 6 },
    });
    const bob = testClient(a.url);
    await bob.manager.start(policy(["post"]));
    const posted = await bob.social.post("Tip me across nodes");
    if (posted.status !== "accepted") throw new Error("bob's post was not accepted");
    const sent = await tips.tip({ id: posted.id, wallet: bob.address }, 1_000_000n);
    expect(sent.action.status).toBe("accepted");
    const onA = await logIds(a.url);
    const tip = onA.find((id) => id === `action:${sent.action.id}`);
    expect(tip).toBeDefined();

    // B sees A's chain: everything verifies, the tip included.
    const b = await follower(true);
    const bStatus = await b.pull();
    expect(bStatus).toMatchObject({ accepted: onA.length, refused: 0, deferred: 0, lag: 0 });
    expect(await logIds(b.url)).toEqual(expect.arrayContaining(onA));

    // C has no chain: the funded grant cannot be checked, so it and its tip wait.
    const c = await follower(false);
    const cStatus = await c.pull();
    expect(cStatus.refusedByCode).toEqual({});
    expect(cStatus.deferred).toBe(2);
    expect(cStatus.accepted).toBe(onA.length - 2);
    expect(await logIds(c.url)).not.toContain(tip);
    // Still waiting on the next round, not dropped.
    expect((await c.pull()).deferred).toBe(2);
  }, 120_000);
});

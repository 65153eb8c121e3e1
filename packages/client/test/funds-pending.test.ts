/**
 * A tip whose transfer landed while the node was unreachable stays pending: asking for the
 * same tip again moves no money a second time, and after a reload `retryPending()`
 * delivers the very same action. The node sits behind a real HTTP gateway that can be
 * taken down (it answers 502, as a load balancer does); the chain stays reachable.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { MintAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import {
  type Chain,
  decodeTokenAccount,
  mainTokenAccountAddress,
  rpcChain,
} from "@sesame/solana/client";
import { address } from "@solana/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chainFunding,
  chainRpcUrl,
  type KeyValueStorage,
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
  testClient,
} from "./helpers.js";

const TOKEN = 1_000_000n;
let node: TestNode;
let gateway: { url: string; down: boolean; server: Server };

beforeAll(async () => {
  node = await startTestNode({ engine: "pglite", chain: "embedded" });
  const state = { down: false };
  const server = createServer((req, res) => {
    if (state.down) {
      res.statusCode = 502;
      res.end("bad gateway");
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const answer = await fetch(`${node.url}${req.url ?? "/"}`, {
          method: req.method ?? "GET",
          headers: { "content-type": req.headers["content-type"] ?? "application/json" },
          ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
        });
        res.statusCode = answer.status;
        res.setHeader("content-type", answer.headers.get("content-type") ?? "application/json");
        res.end(Buffer.from(await answer.arrayBuffer()));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  gateway = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
  };
});
afterAll(async () => {
  await new Promise((resolve) => gateway.server.close(resolve));
  await node.close();
});

class MemoryStorage implements KeyValueStorage {
  readonly map = new Map<string, string>();
  getItem(key: string) {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.map.set(key, value);
  }
}

async function tokens(chain: Chain, owner: string, mint: string) {
  const ata = await mainTokenAccountAddress(address(owner), address(mint));
  return decodeTokenAccount(await chain.getAccount(ata))?.amount ?? 0n;
}

describe("a tip whose node was unreachable", () => {
  it("stays pending; the same tip asked again moves no money; after a reload, or once the session expired, the same action is delivered", async () => {
    const direct = new NodeApi(node.url);
    const info = await direct.chainInfo();
    const chain = rpcChain(chainRpcUrl(direct, info) ?? "", { pollMs: 20 });
    const mint = info.tipMint?.address as MintAddress;
    const memoProgram = address(info.memoProgram ?? "");
    const bob = testClient(node.url);
    await bob.manager.confirm(await bob.manager.prepare(policy(["post"])));
    const post = await bob.social.post("tip me");
    const target = { id: post.id, wallet: bob.address };

    const wallet = newWalletFile();
    await direct.faucet(wallet.address);
    const api = new NodeApi(gateway.url); // the app reaches the node through the gateway
    const store = new MemorySessionStore();
    const clock = { offset: 0 };
    const now = () => Date.now() + clock.offset;
    const manager = new SessionManager({
      clock: now,
      store,
      api,
      walletAddress: wallet.address,
      wallet: keypairWallet(wallet.path),
      app: app("pending"),
      funding: chainFunding(chain, { deviceId: "pending", memoProgram }),
    });
    const social = new SocialClient({
      manager,
      store,
      api,
      backend: nodeEd25519(),
      context: CONTEXT,
      clock: now,
    });
    await manager.confirm(
      await manager.prepare({
        ...policy(["tip"], { tip: { total: 10 } }),
        tipBudget: { mint, amount: parseTokenAmount("5", 6).toString(), decimals: 6 },
      }),
    );
    const localStorage = new MemoryStorage();
    const tipClient = () =>
      new TipClient({
        manager,
        social,
        chain,
        deviceId: "pending",
        memoProgram,
        pendingStorage: localStorage,
        retry: { delayMs: 50, maxDelayMs: 100, timeoutMs: 400 },
      });

    gateway.down = true;
    const tips = tipClient();
    const first = await tips.tip(target, TOKEN);
    expect(first.action.status).toBe("queued");
    expect(await tokens(chain, bob.address, mint)).toBe(TOKEN); // the money moved
    expect(tips.pending()).toHaveLength(1);
    expect(tips.pending()[0]).toMatchObject({ transaction: first.transaction, post: post.id });

    // Tip pressed again for the same post and amount: the pending one goes on, no new transfer.
    const second = await tips.tip(target, TOKEN);
    expect(second.transaction).toBe(first.transaction);
    expect(second.action.status).toBe("queued");
    expect(await tokens(chain, bob.address, mint)).toBe(TOKEN);
    expect(tips.pending()).toHaveLength(1);

    // A reload (a new TipClient over the same storage) with the node reachable again.
    gateway.down = false;
    const reloaded = tipClient();
    const settled = await reloaded.retryPending();
    expect(settled).toHaveLength(1);
    expect(settled[0]?.result).toMatchObject({ status: "accepted", id: first.action.id });
    expect(reloaded.pending()).toEqual([]);
    const [served] = await direct.sessions(wallet.address);
    expect(served?.used).toMatchObject({ tip: 1 });

    // Settled: tipping the same post again is a new tip, with its own transfer.
    const third = await reloaded.tip(target, TOKEN);
    expect(third.transaction).not.toBe(first.transaction);
    expect(third.action).toMatchObject({ status: "accepted" });
    expect(await tokens(chain, bob.address, mint)).toBe(2n * TOKEN);

    // Signed in time, delivered after the session expired here: still delivered, not dropped
    // (nodes take late actions stamped inside the grant's window).
    gateway.down = true;
    const late = await reloaded.tip(target, 2n * TOKEN);
    expect(late.action.status).toBe("queued");
    clock.offset = 2 * 3_600_000;
    expect((await manager.status()).state).toBe("expired");
    gateway.down = false;
    const delivered = await tipClient().retryPending();
    expect(delivered[0]?.result).toMatchObject({ status: "accepted", id: late.action.id });
    expect(reloaded.pending()).toEqual([]);
    expect(await tokens(chain, bob.address, mint)).toBe(4n * TOKEN);
  });
});

/** Throwaway wallets with in-memory sessions, for seeding and benchmarks. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  MemorySessionStore,
  type NodeApi,
  SessionManager,
  type SessionPolicy,
  SocialClient,
} from "@sesame/client";
import { createKeypairFile, keypairWallet } from "@sesame/client/node";
import type { WalletAddress } from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";

export interface Actor {
  readonly address: WalletAddress;
  readonly manager: SessionManager;
  readonly social: SocialClient;
  readonly store: MemorySessionStore;
}

/** A fresh wallet (its keypair file deleted at once: nothing is kept) with one session. */
export async function throwawayActor(
  api: NodeApi,
  network: { chain: string; network: string },
  domain: string,
  device: string,
  policy: SessionPolicy,
): Promise<Actor> {
  const dir = mkdtempSync(join(tmpdir(), "sesame-actor-"));
  let wallet: ReturnType<typeof keypairWallet>;
  try {
    const path = join(dir, "id.json");
    createKeypairFile(path);
    wallet = keypairWallet(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const store = new MemorySessionStore();
  const manager = new SessionManager({
    store,
    api,
    app: { domain, uri: `https://${domain}/`, device, ...network },
    walletAddress: wallet.address,
    wallet,
  });
  const social = new SocialClient({
    manager,
    store,
    api,
    backend: nodeEd25519(),
    context: network,
  });
  await manager.start(policy);
  return { address: wallet.address, manager, social, store };
}

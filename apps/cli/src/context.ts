/** What every command shares: global options, the wallet, the keystore, the node. */
import { existsSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import {
  type AppIdentity,
  MemorySessionStore,
  NodeApi,
  SessionManager,
  type SessionStore,
  SocialClient,
  type Wallet,
} from "@sesame/client";
import { FileSessionStore, keypairWallet, readKeypairFile } from "@sesame/client/node";
import {
  isWalletAddress,
  parseGrantText,
  toBase58,
  utf8Length,
  type WalletAddress,
} from "@sesame/protocol";
import { nodeEd25519 } from "@sesame/protocol/node-crypto";
import { CliError, EXIT, type Output, output, relativeTime, yellow } from "./output.js";
import { readHidden } from "./prompt.js";

export interface GlobalOptions {
  readonly node?: string;
  readonly keystore?: string;
  readonly keypair?: string;
  readonly app?: string;
  readonly as?: string;
  readonly json?: boolean;
}

export const DEFAULT_NODE = "http://127.0.0.1:8787";
export const DEFAULT_APP = "cli.sesame.local";

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

export function defaultKeypairPath(): string {
  return join(homedir(), ".config", "solana", "id.json");
}

export function defaultKeystorePath(): string {
  return join(homedir(), ".config", "sesame", "keystore.json");
}

/** A label of at most 64 bytes that a grant accepts. */
export function deviceLabel(label?: string): string {
  let s = (label ?? `sesame CLI on ${hostname()}`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: labels are one printable line
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
    .trim();
  while (utf8Length(s) > 64) s = s.slice(0, -1).trimEnd();
  return s.length === 0 ? "sesame CLI" : s;
}

/** Everything a command needs, resolved lazily so `--help` and offline commands stay cheap. */
export class Context {
  readonly out: Output;
  readonly nodeUrl: string;
  readonly keystorePath: string;
  readonly keypairPath: string;
  readonly appDomain: string;
  /** The wallet to act for when the keystore holds sessions of several (--as). */
  readonly walletChoice: string | undefined;
  #api: NodeApi | undefined;
  #wallet: Wallet | undefined;
  #store: FileSessionStore | undefined;
  #passphrase: string | undefined;
  #manager: SessionManager | undefined;

  constructor(options: GlobalOptions) {
    this.out = output(options.json === true);
    this.nodeUrl = (options.node ?? process.env.SESAME_NODE ?? DEFAULT_NODE).replace(/\/+$/, "");
    this.keystorePath = resolve(
      expandHome(options.keystore ?? process.env.SESAME_KEYSTORE ?? defaultKeystorePath()),
    );
    this.keypairPath = resolve(
      expandHome(options.keypair ?? process.env.SESAME_KEYPAIR ?? defaultKeypairPath()),
    );
    this.appDomain = options.app ?? process.env.SESAME_APP ?? DEFAULT_APP;
    const choice = options.as ?? process.env.SESAME_WALLET;
    this.walletChoice = choice === undefined || choice === "" ? undefined : choice;
  }

  get api(): NodeApi {
    this.#api ??= new NodeApi(this.nodeUrl);
    return this.#api;
  }

  /**
   * The wallet from its keypair file, read (and its secret decoded) only here: by the
   * commands that need a wallet signature (session start, renew, revoke) and `wallet`.
   * With SESAME_WALLET_SIGNATURE_LOG set, the wallet logs every signature it makes.
   */
  get wallet(): Wallet {
    if (this.#wallet === undefined) {
      if (!existsSync(this.keypairPath)) {
        throw new CliError(
          EXIT.SECRET,
          `no wallet keypair file at ${this.keypairPath}`,
          "create one with `sesame wallet new`, or pass --keypair PATH",
        );
      }
      try {
        this.#wallet = keypairWallet(this.keypairPath);
      } catch (e) {
        throw new CliError(EXIT.SECRET, (e as Error).message, "pass a Solana CLI keypair file");
      }
    }
    return this.#wallet;
  }

  /**
   * The wallet this command acts for, without touching the wallet file when the keystore
   * already names it: --as (SESAME_WALLET) if given, else the keystore's session for
   * this app when exactly one wallet has one, else the keypair file's address.
   */
  async address(): Promise<WalletAddress> {
    const fromKeystore = await this.#keystoreWallet();
    return fromKeystore ?? this.wallet.address;
  }

  /** Like `address()`, but undefined instead of failing when there is no wallet at all. */
  async addressIfAny(): Promise<WalletAddress | undefined> {
    const fromKeystore = await this.#keystoreWallet();
    if (fromKeystore !== undefined) return fromKeystore;
    if (!existsSync(this.keypairPath)) return undefined;
    try {
      return toBase58(readKeypairFile(this.keypairPath).publicKey) as WalletAddress;
    } catch {
      return undefined;
    }
  }

  async #keystoreWallet(): Promise<WalletAddress | undefined> {
    if (this.walletChoice !== undefined) {
      if (!isWalletAddress(this.walletChoice)) {
        throw new CliError(EXIT.USAGE, `--as ${this.walletChoice} is not a wallet address`);
      }
      return this.walletChoice;
    }
    if (!existsSync(this.keystorePath)) return undefined;
    const prefix = `${this.appDomain}|`;
    const wallets = (await this.store.listSlots())
      .filter((slot) => slot.startsWith(prefix))
      .map((slot) => slot.slice(prefix.length));
    return wallets.length === 1 ? (wallets[0] as WalletAddress) : undefined;
  }

  /**
   * Asks for the keystore passphrase now (SESAME_PASSPHRASE, else a prompt without echo);
   * refuses clearly when there is neither (CI has no terminal).
   */
  async unlock(): Promise<void> {
    if (this.#passphrase !== undefined) return;
    const fromEnv = process.env.SESAME_PASSPHRASE;
    if (fromEnv !== undefined && fromEnv !== "") {
      this.#passphrase = fromEnv;
      return;
    }
    if (process.stdin.isTTY !== true) {
      throw new CliError(
        EXIT.SECRET,
        "the keystore needs a passphrase, and there is no terminal to ask for it",
        "set SESAME_PASSPHRASE, or run the command in a terminal",
      );
    }
    const fresh = !existsSync(this.keystorePath);
    const first = await readHidden(
      fresh ? `New keystore passphrase for ${this.keystorePath}: ` : "Keystore passphrase: ",
    );
    if (first === "") throw new CliError(EXIT.SECRET, "an empty passphrase is not accepted");
    if (fresh && (await readHidden("Repeat it: ")) !== first) {
      throw new CliError(EXIT.SECRET, "the two passphrases differ");
    }
    this.#passphrase = first;
  }

  /** The keystore file. Keys are only opened after `unlock()`. */
  get store(): FileSessionStore {
    this.#store ??= new FileSessionStore(this.keystorePath, () => {
      if (this.#passphrase === undefined) {
        throw new CliError(
          EXIT.SECRET,
          "the keystore needs a passphrase",
          "set SESAME_PASSPHRASE, or run the command in a terminal",
        );
      }
      return this.#passphrase;
    });
    return this.#store;
  }

  /** This CLI's identity as an app, on the node's chain and network. */
  identity(
    device?: string,
    network: { chain: string; network: string } = {
      chain: "solana:localnet",
      network: "sesame-local",
    },
  ): AppIdentity {
    return {
      domain: this.appDomain,
      uri: `https://${this.appDomain}/`,
      device: deviceLabel(device),
      ...network,
    };
  }

  /** The node's chain and network, from its /health. */
  async network(): Promise<{ chain: string; network: string }> {
    const h = await this.api.health();
    return { chain: h.chain, network: h.network };
  }

  /** SessionManager and SocialClient for this wallet and app on the keystore. */
  async clients(
    options: {
      device?: string;
      network?: { chain: string; network: string };
      store?: SessionStore;
      /** The command asks the wallet to sign: act for the keypair file's wallet. */
      signer?: boolean;
    } = {},
  ): Promise<{ manager: SessionManager; social: SocialClient; store: SessionStore }> {
    const store = options.store ?? this.store;
    const walletAddress = options.signer === true ? this.wallet.address : await this.address();
    // Acting needs no round trip: the saved grant says which chain and network it is for.
    // Reading verifies against them too.
    let network = options.network;
    if (network === undefined) {
      const record = await store.getRecord(`${this.appDomain}|${walletAddress}`);
      network =
        record === undefined
          ? { chain: "solana:localnet", network: "sesame-local" }
          : (({ chain, network: n }) => ({ chain, network: n }))(parseGrantText(record.text));
    }
    const manager = new SessionManager({
      store,
      api: this.api,
      app: this.identity(options.device, network),
      walletAddress,
      // Opened only if a step needs a wallet signature: acting uses the session key alone.
      wallet: () => this.wallet,
    });
    this.#manager = manager;
    const social = new SocialClient({
      manager,
      store,
      api: this.api,
      backend: nodeEd25519(),
      context: network,
      // A CLI renews only when told (`sesame session renew`): commands note when it is due.
      autoRenew: false,
      // One process per command: what stays queued goes out with the next command or flush.
      retry: false,
    });
    return { manager, social, store };
  }

  /** A note (stderr, human mode) when this device's session is in its renew window. */
  async noteRenewal(): Promise<void> {
    const manager = this.#manager;
    if (manager === undefined || this.out.json) return;
    const session = await manager.resume();
    if (session === undefined || !manager.renewalDue(session)) return;
    const ends = session.grant.expirationTime;
    this.out.note(
      `${yellow("note")}: this session ${ends <= Date.now() ? "has ended" : `ends ${relativeTime(ends)}`}; \`sesame session renew\` replaces it with the same permissions (one wallet signature)`,
    );
  }

  /** A SocialClient for reading only: no wallet or keystore needed. */
  async reader(): Promise<SocialClient> {
    const network = await this.network();
    const store = new MemorySessionStore();
    const manager = new SessionManager({
      store,
      api: this.api,
      app: this.identity(undefined, network),
      walletAddress:
        (await this.addressIfAny()) ?? ("11111111111111111111111111111111" as WalletAddress),
    });
    return new SocialClient({
      manager,
      store,
      api: this.api,
      backend: nodeEd25519(),
      context: network,
      retry: false,
    });
  }
}

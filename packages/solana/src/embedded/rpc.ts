/**
 * A standard Solana JSON-RPC subset over the embedded chain, enough for `@solana/kit`'s
 * `createSolanaRpc` to work unchanged: getLatestBlockhash, sendTransaction,
 * simulateTransaction, getAccountInfo, getMultipleAccounts, getBalance,
 * getTokenAccountBalance, getTokenAccountsByOwner, getSignatureStatuses, getTransaction,
 * requestAirdrop, getMinimumBalanceForRentExemption, getFeeForMessage, isBlockhashValid,
 * getSlot, getBlockHeight, getGenesisHash, getHealth, getVersion. Two methods of our own
 * serve demos: `sesame_getDemoMint` and `sesame_faucet`.
 *
 * Framework-free: JSON text or a parsed body in, JSON text out (u64s as bare integers,
 * as validators write them, which kit parses into bigints).
 */
import {
  type Address,
  address,
  getBase58Decoder,
  getBase58Encoder,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  getTransactionEncoder,
  isAddress,
} from "@solana/kit";
import { decodeTokenAccount } from "../accounts.js";
import type { ChainAccount, TokenBalance } from "../chain.js";
import { TOKEN_PROGRAM, TRANSACTION_SIZE_LIMIT } from "../constants.js";
import type { TransactionErrorJson } from "../errors.js";
import { decodeWire, fromBase64, toBase64 } from "../wire.js";
import type { EmbeddedChain, StoredTransaction } from "./chain.js";
import { feeOf, wireOfMessage } from "./fees.js";
import { parsedMint, parsedTokenAccount, tokenAmountJson } from "./parsed.js";

const LITESVM_VERSION = "1.5.0";
const RENT_EPOCH_EXEMPT = 18_446_744_073_709_551_615n;

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const invalidParams = (message: string) => new RpcError(-32602, `Invalid params: ${message}`);

type Params = readonly unknown[];
type Method = (chain: EmbeddedChain, params: Params) => Promise<unknown> | unknown;

function config(params: Params, index: number): Record<string, unknown> {
  const c = params[index];
  return typeof c === "object" && c !== null && !Array.isArray(c)
    ? (c as Record<string, unknown>)
    : {};
}

function addressParam(value: unknown, name = "address"): Address {
  if (typeof value !== "string" || !isAddress(value))
    throw invalidParams(`${name} is not a valid address`);
  return address(value);
}

function context(chain: EmbeddedChain) {
  return { apiVersion: "2.2.0", slot: chain.slot };
}

function withContext(chain: EmbeddedChain, value: unknown) {
  return { context: context(chain), value };
}

const b58 = getBase58Decoder();
const b58in = getBase58Encoder();

function decodeEncodedTransaction(value: unknown, encoding: unknown): Uint8Array {
  if (typeof value !== "string") throw invalidParams("the transaction must be a string");
  const enc = encoding ?? "base58";
  if (enc !== "base58" && enc !== "base64")
    throw invalidParams(`unsupported encoding ${String(enc)}`);
  // Refuse what cannot be a packet before decoding it.
  const maxChars = enc === "base64" ? 1644 : 1683;
  if (value.length > maxChars) {
    throw invalidParams(
      `${enc} encoded solana_transaction::versioned::VersionedTransaction too large: ${value.length} bytes (max: encoded/raw ${maxChars}/${TRANSACTION_SIZE_LIMIT})`,
    );
  }
  let wire: Uint8Array;
  try {
    wire = enc === "base64" ? fromBase64(value) : Uint8Array.from(b58in.encode(value));
  } catch {
    throw invalidParams(`the transaction is not ${enc}`);
  }
  if (wire.length > TRANSACTION_SIZE_LIMIT) {
    throw invalidParams(
      `${enc} encoded solana_transaction::versioned::VersionedTransaction too large: ${wire.length} bytes (max: encoded/raw ${maxChars}/${TRANSACTION_SIZE_LIMIT})`,
    );
  }
  try {
    decodeWire(wire);
  } catch {
    throw invalidParams("failed to deserialize the transaction");
  }
  return wire;
}

function describeError(err: TransactionErrorJson): string {
  if (typeof err === "string") return err;
  const ie = (err as { InstructionError?: [number, unknown] }).InstructionError;
  if (ie !== undefined) {
    const inner = ie[1] as { Custom?: number } | string;
    const what =
      typeof inner === "object" && inner !== null && inner.Custom !== undefined
        ? `custom program error: 0x${inner.Custom.toString(16)}`
        : JSON.stringify(inner);
    return `Error processing Instruction ${ie[0]}: ${what}`;
  }
  return JSON.stringify(err);
}

function encodeAccount(
  chain: EmbeddedChain,
  account: ChainAccount | null,
  cfg: Record<string, unknown>,
) {
  if (account === null) return null;
  const encoding = cfg.encoding ?? "base58";
  const slice = cfg.dataSlice as { offset?: number; length?: number } | undefined;
  const data =
    slice === undefined
      ? account.data
      : account.data.subarray(slice.offset ?? 0, (slice.offset ?? 0) + (slice.length ?? 0));
  const base = {
    executable: account.executable,
    lamports: account.lamports,
    owner: account.owner,
    rentEpoch: RENT_EPOCH_EXEMPT,
    space: account.data.length,
  };
  if (encoding === "jsonParsed" && account.owner === TOKEN_PROGRAM) {
    const token = decodeTokenAccount(account);
    const parsed =
      token === null
        ? parsedMint(account)
        : parsedTokenAccount(account, chain.decimalsOf(token.mint));
    if (parsed !== null)
      return { ...base, data: { program: "spl-token", parsed, space: account.data.length } };
  }
  if (encoding === "base64" || encoding === "jsonParsed")
    return { ...base, data: [toBase64(data), "base64"] };
  if (encoding === "base58" || encoding === "binary") {
    return {
      ...base,
      data: encoding === "binary" ? b58.decode(data) : [b58.decode(data), "base58"],
    };
  }
  throw invalidParams(`unsupported encoding ${String(encoding)}`);
}

function tokenBalanceJson(b: TokenBalance) {
  return {
    accountIndex: b.accountIndex,
    mint: b.mint,
    owner: b.owner,
    programId: TOKEN_PROGRAM,
    uiTokenAmount: tokenAmountJson(b.amount, b.decimals),
  };
}

function transactionJson(r: StoredTransaction) {
  const m = r.message;
  const signatures = Object.values(decodeWire(r.wire).transaction.signatures).map((s) =>
    b58.decode(s ?? new Uint8Array(64)),
  );
  const message: Record<string, unknown> = {
    accountKeys: m.staticAccounts,
    header: {
      numRequiredSignatures: m.header.numSignerAccounts,
      numReadonlySignedAccounts: m.header.numReadonlySignerAccounts,
      numReadonlyUnsignedAccounts: m.header.numReadonlyNonSignerAccounts,
    },
    recentBlockhash: m.lifetimeToken,
    instructions: m.instructions.map((ix) => ({
      programIdIndex: ix.programAddressIndex,
      accounts: ix.accountIndices ?? [],
      data: b58.decode(ix.data ?? new Uint8Array()),
      stackHeight: null,
    })),
  };
  if (m.version === 0) {
    message.addressTableLookups = (m.addressTableLookups ?? []).map((l) => ({
      accountKey: l.lookupTableAddress,
      writableIndexes: l.writableIndexes,
      readonlyIndexes: l.readonlyIndexes,
    }));
  }
  return { signatures, message };
}

function metaJson(r: StoredTransaction) {
  return {
    err: r.err,
    status: r.err === null ? { Ok: null } : { Err: r.err },
    fee: r.fee,
    preBalances: r.preBalances,
    postBalances: r.postBalances,
    innerInstructions: [],
    logMessages: r.logs,
    preTokenBalances: r.preTokenBalances.map(tokenBalanceJson),
    postTokenBalances: r.postTokenBalances.map(tokenBalanceJson),
    rewards: [],
    loadedAddresses: r.loadedAddresses,
    computeUnitsConsumed: r.computeUnits,
  };
}

function getTransaction(chain: EmbeddedChain, params: Params) {
  const signature = params[0];
  if (typeof signature !== "string") throw invalidParams("signature must be a string");
  const cfg = config(params, 1);
  const r = chain.storedTransaction(signature);
  if (r === undefined) return null;
  const max = cfg.maxSupportedTransactionVersion;
  if (r.message.version === 0 && (max === undefined || max === null || Number(max) < 0)) {
    throw new RpcError(
      -32015,
      'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
    );
  }
  const encoding = cfg.encoding ?? "json";
  let transaction: unknown;
  if (encoding === "json") transaction = transactionJson(r);
  else if (encoding === "base64") transaction = [toBase64(r.wire), "base64"];
  else if (encoding === "base58") transaction = [b58.decode(r.wire), "base58"];
  else throw invalidParams(`unsupported encoding ${String(encoding)}`);
  return {
    slot: r.slot,
    blockTime: r.blockTime,
    version: r.message.version === 0 ? 0 : "legacy",
    meta: metaJson(r),
    transaction,
  };
}

function sendTransaction(chain: EmbeddedChain, params: Params) {
  const cfg = config(params, 1);
  const wire = decodeEncodedTransaction(params[0], cfg.encoding);
  const result = chain.execute(wire, { landFailed: cfg.skipPreflight === true });
  // Answered once journaled (a durable chain): a restart still knows what it answered.
  if (result.ok)
    return chain.whenDurable(result.record.signature).then(() => result.record.signature);
  if (result.err === "SignatureFailure") {
    throw new RpcError(-32003, "Transaction signature verification failure");
  }
  throw new RpcError(-32002, `Transaction simulation failed: ${describeError(result.err)}`, {
    accounts: null,
    err: result.err,
    innerInstructions: null,
    logs: result.logs,
    replacementBlockhash: null,
    returnData: null,
    unitsConsumed: result.computeUnits,
  });
}

function simulateTransaction(chain: EmbeddedChain, params: Params) {
  const cfg = config(params, 1);
  let wire = decodeEncodedTransaction(params[0], cfg.encoding);
  const sigVerify = cfg.sigVerify === true;
  const replace = cfg.replaceRecentBlockhash === true;
  if (sigVerify && replace)
    throw invalidParams("sigVerify may not be used with replaceRecentBlockhash");
  const lifetime = chain.currentLifetime();
  if (replace) {
    const decoded = decodeWire(wire);
    const message = getCompiledTransactionMessageDecoder().decode(decoded.transaction.messageBytes);
    const messageBytes = getCompiledTransactionMessageEncoder().encode({
      ...message,
      lifetimeToken: lifetime.blockhash,
    } as typeof message);
    wire = Uint8Array.from(
      getTransactionEncoder().encode({
        ...decoded.transaction,
        messageBytes: messageBytes as typeof decoded.transaction.messageBytes,
      }),
    );
  }
  if (!sigVerify) chain.svm.withSigverify(false);
  let result: ReturnType<EmbeddedChain["execute"]>;
  try {
    result = chain.execute(wire, { simulate: true, checkBlockhash: !replace });
  } finally {
    if (!sigVerify) chain.svm.withSigverify(true);
  }
  return withContext(chain, {
    accounts: null,
    err: result.ok ? null : result.err,
    innerInstructions: null,
    logs: result.ok ? result.record.logs : result.logs,
    replacementBlockhash: replace ? lifetime : null,
    returnData: null,
    unitsConsumed: result.ok ? result.record.computeUnits : result.computeUnits,
  });
}

function tokenAccountBalance(chain: EmbeddedChain, params: Params) {
  const account = chain.account(addressParam(params[0]));
  const token = account === null ? null : decodeTokenAccount(account);
  if (token === null) throw invalidParams("not a Token account");
  return withContext(chain, tokenAmountJson(token.amount, chain.decimalsOf(token.mint)));
}

function tokenAccountsByOwner(chain: EmbeddedChain, params: Params) {
  const owner = addressParam(params[0], "owner");
  const filter = config(params, 1);
  let found: ChainAccount[];
  if (typeof filter.mint === "string") {
    found = chain.tokenAccountsByOwner(owner, { mint: addressParam(filter.mint, "mint") });
  } else if (typeof filter.programId === "string") {
    found = filter.programId === TOKEN_PROGRAM ? chain.tokenAccountsByOwner(owner, {}) : [];
  } else {
    throw invalidParams("filter must be {mint} or {programId}");
  }
  const cfg = config(params, 2);
  return withContext(
    chain,
    found.map((a) => ({ pubkey: a.address, account: encodeAccount(chain, a, cfg) })),
  );
}

function signatureStatuses(chain: EmbeddedChain, params: Params) {
  const signatures = params[0];
  if (!Array.isArray(signatures) || signatures.length > 256) {
    throw invalidParams("expected an array of at most 256 signatures");
  }
  return withContext(
    chain,
    signatures.map((s) => {
      const r = typeof s === "string" ? chain.storedTransaction(s) : undefined;
      return r === undefined
        ? null
        : {
            slot: r.slot,
            confirmations: null,
            err: r.err,
            status: r.err === null ? { Ok: null } : { Err: r.err },
            confirmationStatus: "finalized",
          };
    }),
  );
}

function lamportsParam(value: unknown): bigint {
  if ((typeof value !== "number" && typeof value !== "bigint") || BigInt(value) <= 0n) {
    throw invalidParams("lamports must be a positive integer");
  }
  return BigInt(value);
}

const METHODS: Readonly<Record<string, Method>> = {
  getHealth: () => "ok",
  getVersion: () => ({ "solana-core": `litesvm-${LITESVM_VERSION}`, "feature-set": 0 }),
  getGenesisHash: (chain) => chain.genesisHash,
  getSlot: (chain) => chain.slot,
  getBlockHeight: (chain) => chain.slot,
  getLatestBlockhash: (chain) => withContext(chain, chain.currentLifetime()),
  isBlockhashValid: (chain, params) =>
    withContext(chain, typeof params[0] === "string" && chain.isBlockhashValid(params[0])),
  getMinimumBalanceForRentExemption: (chain, params) => {
    const size = Number(params[0] ?? 0);
    if (!Number.isSafeInteger(size) || size < 0 || size > 10 * 1024 * 1024)
      throw invalidParams("bad size");
    return chain.svm.minimumBalanceForRentExemption(BigInt(size));
  },
  getBalance: (chain, params) =>
    withContext(chain, chain.svm.getBalance(addressParam(params[0])) ?? 0n),
  getAccountInfo: (chain, params) =>
    withContext(
      chain,
      encodeAccount(chain, chain.account(addressParam(params[0])), config(params, 1)),
    ),
  getMultipleAccounts: (chain, params) => {
    const list = params[0];
    if (!Array.isArray(list) || list.length > 100)
      throw invalidParams("expected at most 100 addresses");
    const cfg = config(params, 1);
    return withContext(
      chain,
      list.map((a) => encodeAccount(chain, chain.account(addressParam(a)), cfg)),
    );
  },
  getTokenAccountBalance: tokenAccountBalance,
  getTokenAccountsByOwner: tokenAccountsByOwner,
  getSignatureStatuses: signatureStatuses,
  getTransaction,
  sendTransaction,
  simulateTransaction,
  getFeeForMessage: (chain, params) => {
    if (typeof params[0] !== "string") throw invalidParams("message must be base64");
    const wire = wireOfMessage(fromBase64(params[0]));
    return withContext(chain, feeOf(decodeWire(wire).message));
  },
  requestAirdrop: (chain, params) =>
    chain.airdrop(addressParam(params[0]), lamportsParam(params[1])),
  sesame_getDemoMint: (chain) => ({
    mint: chain.demoMint.address,
    decimals: chain.demoMint.decimals,
  }),
  sesame_faucet: async (chain, params) => {
    const cfg = config(params, 1);
    const amount = (value: unknown, max: bigint, name: string): bigint | undefined => {
      if (value === undefined) return undefined;
      if (
        (typeof value !== "number" && typeof value !== "bigint") ||
        !Number.isInteger(Number(value))
      )
        throw invalidParams(`${name} must be an integer`);
      const n = BigInt(value);
      if (n < 0n || n > max) throw invalidParams(`${name} must be 0 to ${max}`);
      return n;
    };
    // Demo money, but still bounded: 100 SOL and a million tokens per call.
    const lamportsWanted = amount(cfg.lamports, 100_000_000_000n, "lamports");
    const tokensWanted = amount(
      cfg.tokens,
      1_000_000n * 10n ** BigInt(chain.demoMint.decimals),
      "tokens",
    );
    return chain.fund(addressParam(params[0], "wallet"), {
      ...(lamportsWanted === undefined ? {} : { lamports: lamportsWanted }),
      ...(tokensWanted === undefined ? {} : { tokens: tokensWanted }),
    });
  },
};

async function one(chain: EmbeddedChain, request: unknown): Promise<unknown> {
  const r = request as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  const id = typeof r?.id === "string" || typeof r?.id === "number" ? r.id : null;
  try {
    if (
      typeof r !== "object" ||
      r === null ||
      r.jsonrpc !== "2.0" ||
      typeof r.method !== "string"
    ) {
      throw new RpcError(-32600, "Invalid request");
    }
    const method = Object.hasOwn(METHODS, r.method) ? METHODS[r.method] : undefined;
    if (method === undefined) throw new RpcError(-32601, "Method not found");
    if (r.params !== undefined && !Array.isArray(r.params))
      throw invalidParams("params must be an array");
    const result = await method(chain, (r.params ?? []) as Params);
    return { jsonrpc: "2.0", id, result };
  } catch (e) {
    if (e instanceof RpcError) {
      return {
        jsonrpc: "2.0",
        id,
        error: {
          code: e.code,
          message: e.message,
          ...(e.data === undefined ? {} : { data: e.data }),
        },
      };
    }
    const message = e instanceof Error ? e.message : String(e);
    return { jsonrpc: "2.0", id, error: { code: -32603, message: `Internal error: ${message}` } };
  }
}

/** JSON with u64s as bare integers (bigints), as a validator writes them. */
export function stringifyWithBigInts(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `\u0000big:${v}` : v)).replace(
    /"\\u0000big:(-?\d+)"/g,
    "$1",
  );
}

/** Answers a JSON-RPC request or batch, given as JSON text or a parsed body. */
export async function handleRpc(chain: EmbeddedChain, body: unknown): Promise<string> {
  let parsed = body;
  if (typeof body === "string" || body instanceof Uint8Array) {
    try {
      parsed = JSON.parse(typeof body === "string" ? body : new TextDecoder().decode(body));
    } catch {
      return stringifyWithBigInts({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32700, message: "Parse error" },
      });
    }
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0 || parsed.length > 100) {
      return stringifyWithBigInts({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32600, message: "Invalid request" },
      });
    }
    const answers: unknown[] = [];
    for (const request of parsed) answers.push(await one(chain, request));
    return stringifyWithBigInts(answers);
  }
  return stringifyWithBigInts(await one(chain, parsed));
}

import { type Static, Type } from "@sinclair/typebox";

/**
 * The API's shapes, the one source for validation of reads and for /openapi.json.
 * Write bodies are documented here but checked by the protocol package, so a refusal
 * carries the protocol's precise code rather than a generic schema error.
 */
export const ErrorBody = Type.Object(
  {
    code: Type.Integer({ description: "Stable numeric code (docs/PROTOCOL.md, Errors)" }),
    name: Type.String(),
    message: Type.String(),
    context: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: "ErrorBody" },
);

export const Base58 = Type.String({ pattern: "^[1-9A-HJ-NP-Za-km-z]{1,88}$" });
export const Wallet = Type.String({
  pattern: "^[1-9A-HJ-NP-Za-km-z]{32,44}$",
  description: "base58 wallet address",
});
export const Id = Type.String({
  pattern: "^[1-9A-HJ-NP-Za-km-z]{32,44}$",
  description: "base58 SHA-256 id",
});

export const SignedGrantBody = Type.Union([
  Type.Object({ text: Type.String(), signature: Base58 }, { description: "message form" }),
  Type.Object(
    { text: Type.String(), transaction: Type.String({ description: "base64 wire transaction" }) },
    {
      description: "transaction (Memo) form",
    },
  ),
]);

export const WireAction = Type.Object(
  {
    payload: Type.Object(
      {
        v: Type.Literal(1),
        kind: Type.String(),
        grant: Id,
        seq: Type.Integer({ minimum: 1 }),
        ord: Type.Integer({ minimum: 1 }),
        ts: Type.Integer({ minimum: 0 }),
        body: Type.Record(Type.String(), Type.Unknown()),
      },
      { additionalProperties: false },
    ),
    signature: Base58,
  },
  { $id: "WireAction", additionalProperties: false },
);

export const ActionsBody = Type.Union([
  Type.Ref("WireAction"),
  Type.Object(
    { actions: Type.Array(Type.Ref("WireAction"), { minItems: 1, maxItems: 100 }) },
    { additionalProperties: false },
  ),
]);

export const ItemResult = Type.Union([
  Type.Object({ ok: Type.Literal(true), id: Id, logId: Type.Integer(), duplicate: Type.Boolean() }),
  Type.Object({ ok: Type.Literal(false), error: Type.Ref("ErrorBody") }),
]);

export const SignedRevocationBody = Type.Object({ text: Type.String(), signature: Base58 });
export const EquivocationBody = Type.Object({
  a: Type.Ref("WireAction"),
  b: Type.Ref("WireAction"),
});

export const PageQuery = Type.Object({
  cursor: Type.Optional(
    Type.String({ pattern: "^[0-9]{0,16}$", description: "`next` of the previous page" }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 30 })),
});
export type PageQuery = Static<typeof PageQuery>;

export const ServedAction = Type.Object(
  {
    id: Id,
    logId: Type.Integer(),
    kind: Type.String(),
    wallet: Wallet,
    grant: Id,
    receivedAt: Type.Integer(),
    payload: Type.Unknown({
      description: "the signed payload; bytes = prefix + RFC 8785 JSON of it",
    }),
    signature: Base58,
  },
  { $id: "ServedAction" },
);

export const ServedPost = Type.Composite(
  [
    ServedAction,
    Type.Object({ replies: Type.Integer(), reactions: Type.Record(Type.String(), Type.Integer()) }),
  ],
  { $id: "ServedPost" },
);

export const PostPage = Type.Object({
  items: Type.Array(Type.Ref("ServedPost")),
  next: Type.Union([Type.String(), Type.Null()]),
});
export const ActionPage = Type.Object({
  items: Type.Array(Type.Ref("ServedAction")),
  next: Type.Union([Type.String(), Type.Null()]),
});

export const WalletParams = Type.Object({ wallet: Wallet });
export const IdParams = Type.Object({ id: Id });

export const SHARED_SCHEMAS = [ErrorBody, WireAction, ServedAction, ServedPost];

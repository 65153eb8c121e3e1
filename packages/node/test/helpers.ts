import { randomBytes } from "node:crypto";
import { dropSchema, type Engine, openDatabase, type Storage } from "../src/index.js";

export const DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const ENGINES: readonly Engine[] = ["pglite", "postgres"];

/** A fresh, migrated, isolated store: in-memory PGlite, or an own schema on PostgreSQL. */
export async function freshStorage(
  engine: Engine,
): Promise<{ storage: Storage; cleanup: () => Promise<void> }> {
  if (engine === "pglite") {
    const storage = await openDatabase();
    return { storage, cleanup: () => storage.close() };
  }
  const schema = `t_${process.pid}_${randomBytes(4).toString("hex")}`;
  const storage = await openDatabase({ databaseUrl: DATABASE_URL, schema });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await dropSchema(DATABASE_URL, schema);
    },
  };
}

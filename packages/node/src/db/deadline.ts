import { AsyncLocalStorage } from "node:async_hooks";
import { ErrorCode, ProtocolError } from "@sesame/protocol";
import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryResult,
  TransactionSettings,
} from "kysely";

/** The deadline of the read request a statement runs for. */
export interface StatementDeadline {
  /** Aborted when the request's deadline passes. */
  readonly signal: AbortSignal;
  /** The request's deadline, ms: the context of the 6004 refusal. */
  readonly timeoutMs: number;
  /** Called once per statement skipped because the deadline had passed. */
  readonly onSkip: () => void;
}

const current = new AsyncLocalStorage<StatementDeadline>();

/**
 * Runs `work` with every SQL statement it issues (through a dialect wrapped by
 * `withStatementDeadlines`) bound to `deadline`: once the deadline's signal is aborted, the
 * next statement is not sent; it fails with 6004 REQUEST_TIMEOUT instead. A statement
 * already running is not interrupted (on PGlite it cannot be; on PostgreSQL
 * `statement_timeout` bounds it). Meant for reads: a write's group commit serves other
 * requests too and must not be cut short by one of them.
 */
export function runWithStatementDeadline<T>(deadline: StatementDeadline, work: () => T): T {
  return current.run(deadline, work);
}

function check(): void {
  const deadline = current.getStore();
  if (deadline?.signal.aborted) {
    deadline.onSkip();
    throw new ProtocolError(ErrorCode.REQUEST_TIMEOUT, { timeoutMs: deadline.timeoutMs });
  }
}

/** A connection that checks the caller's deadline before each statement it sends. */
class DeadlineConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  async executeQuery<R>(
    query: CompiledQuery,
    options?: Parameters<DatabaseConnection["executeQuery"]>[1],
  ): Promise<QueryResult<R>> {
    check();
    return await this.inner.executeQuery<R>(query, options);
  }

  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize: number,
    options?: Parameters<DatabaseConnection["streamQuery"]>[2],
  ): AsyncIterableIterator<QueryResult<R>> {
    check();
    yield* this.inner.streamQuery<R>(query, chunkSize, options);
  }
}

/**
 * Wraps a driver's connections in `DeadlineConnection`s. Transaction control (begin,
 * commit, rollback, savepoints) goes to the driver's own connection unchecked: a
 * transaction that began always ends.
 */
class DeadlineDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init(...args: Parameters<Driver["init"]>) {
    return this.inner.init(...args);
  }

  async acquireConnection(
    ...args: Parameters<Driver["acquireConnection"]>
  ): Promise<DatabaseConnection> {
    return new DeadlineConnection(await this.inner.acquireConnection(...args));
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    return this.inner.beginTransaction(unwrap(connection), settings);
  }

  commitTransaction(connection: DatabaseConnection) {
    return this.inner.commitTransaction(unwrap(connection));
  }

  rollbackTransaction(connection: DatabaseConnection) {
    return this.inner.rollbackTransaction(unwrap(connection));
  }

  async savepoint(...[connection, ...rest]: Parameters<NonNullable<Driver["savepoint"]>>) {
    await this.inner.savepoint?.(unwrap(connection), ...rest);
  }

  async rollbackToSavepoint(
    ...[connection, ...rest]: Parameters<NonNullable<Driver["rollbackToSavepoint"]>>
  ) {
    await this.inner.rollbackToSavepoint?.(unwrap(connection), ...rest);
  }

  async releaseSavepoint(
    ...[connection, ...rest]: Parameters<NonNullable<Driver["releaseSavepoint"]>>
  ) {
    await this.inner.releaseSavepoint?.(unwrap(connection), ...rest);
  }

  releaseConnection(connection: DatabaseConnection, ...rest: unknown[]) {
    return this.inner.releaseConnection(
      unwrap(connection),
      ...(rest as [Parameters<Driver["releaseConnection"]>[1]]),
    );
  }

  destroy(...args: Parameters<Driver["destroy"]>) {
    return this.inner.destroy(...args);
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof DeadlineConnection ? connection.inner : connection;
}

/** The same dialect, its statements checked against the caller's deadline (see above). */
export function withStatementDeadlines(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new DeadlineDriver(dialect.createDriver()),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}

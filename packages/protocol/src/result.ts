import type { ErrorCode, ProtocolError } from "./errors.js";

export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err<E = ProtocolError<ErrorCode>> = { readonly ok: false; readonly error: E };
export type Result<T, E = ProtocolError<ErrorCode>> = Ok<T> | Err<E>;

export function ok<T>(value: T): Ok<T> {
  return Object.freeze({ ok: true, value });
}

export function err<E>(error: E): Err<E> {
  return Object.freeze({ ok: false, error });
}

// Types of wasmroute's own modules, for TypeScript route handlers.
//
// Copy this file into your project, anywhere tsconfig.json's "include"
// covers (e.g. types/wasmroute.d.ts), and
//
//   import { kv } from 'wasmroute:kv'
//
// type-checks. wasmroute's bundler resolves the import itself: nothing is
// installed from npm. process.env is typed by @types/node, which Next.js
// projects have.

declare module 'wasmroute:kv' {
  /**
   * A failed call of the key-value store. Its message is the host's
   * explanation: the key, and the limit reached or what the store said.
   */
  export class KVError extends Error {
    /** The ABI error: 'ErrInvalid', 'ErrTooLarge', 'ErrLimit' or 'ErrFailed'. */
    readonly code: string
  }

  /** What kv.get returns the value as: text (the default), parsed JSON, or bytes. */
  export type ValueType = 'text' | 'json' | 'arrayBuffer'

  /**
   * The project's key-value namespace (each tenant has its own). Keys are
   * strings of 1 to 512 bytes of UTF-8; values strings (stored as UTF-8)
   * or bytes. Every method rejects with a KVError when the store refuses or
   * fails, and with a TypeError or RangeError for a bad argument.
   */
  export interface KV {
    /** The value of key as text, or null when there is no such key (or it expired). */
    get(key: string, type?: 'text' | { type: 'text' }): Promise<string | null>
    /** The value of key parsed as JSON, or null when there is no such key. */
    get<T = unknown>(key: string, type: 'json' | { type: 'json' }): Promise<T | null>
    /** The value of key as bytes, or null when there is no such key. */
    get(key: string, type: 'arrayBuffer' | { type: 'arrayBuffer' }): Promise<ArrayBuffer | null>
    /**
     * Sets key to value, expiring after ttl seconds (absent or 0: never).
     * An object is a TypeError: store JSON.stringify(value), read it with
     * get(key, 'json'). Resolves once the write is durable.
     */
    set(key: string, value: string | ArrayBuffer | ArrayBufferView, options?: { ttl?: number }): Promise<void>
    /** Deletes key; a missing key is no error. */
    delete(key: string): Promise<void>
    /** The keys starting with prefix (all when empty), sorted bytewise. */
    list(prefix?: string): Promise<string[]>
    /**
     * Adds by (default 1) to the integer stored at key (missing: 0),
     * atomically, and resolves to the new value. The value is a 64-bit
     * integer: a number amount gives a number (a RangeError past 2^53), a
     * bigint amount a bigint.
     */
    incr(key: string, by?: number): Promise<number>
    incr(key: string, by: bigint): Promise<bigint>
  }

  export const kv: KV
  export default kv
}

/**
 * The base of every grant module: the `Grant` Tag, its `Service`, and the key. `Grant.ts` re-exports
 * these, and every `Grant/*.ts` module builds on them, so that no grant module imports `Grant.ts` (which
 * re-exports the grant modules: that would be a cycle).
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Token from "../Token.js"
import type * as TokenError from "../TokenError.js"

/** @internal */
export interface Service {
  /** Names this grant's tokens in caches and stores. Contains no secret. */
  readonly key: string
  /** Asks for a new token, once. `current` is the token held now, if any (a refresh token grant uses it). */
  readonly request: (current: Option.Option<Token.Token>) => Effect.Effect<Token.Token, TokenError.HttpError>
  /**
   * The request waits for a person (the device flow: minutes, not seconds). The token service gives it
   * no per-attempt timeout (it still retries transient failures); the grant bounds each of its own HTTP
   * exchanges instead. Default: false.
   */
  readonly interactive?: boolean | undefined
}

/** @internal */
export class Grant extends Context.Tag("tokenlayer/Grant")<Grant, Service>() {}

/**
 * Percent-encodes the characters that give a key its structure (`%`, `;`, `=`, space), so that values
 * containing them (a scope token may contain `;` and `=`) cannot make two different grants share a key.
 */
const keyValue = (value: string): string =>
  value.replace(/[%;= ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)

/**
 * One part of a key: a name and a value, a list (sorted, space-separated), or nothing (left out).
 *
 * @internal
 */
export type KeyPart = readonly [string, string | ReadonlyArray<string> | undefined]

/**
 * Builds the cache key of a grant from what distinguishes its tokens: `grant=<type>;name=value;...`,
 * lists sorted and space-separated, the structural characters of each value percent-encoded so that
 * different grants never share a key. Never pass a secret.
 *
 * @internal
 */
export const makeKey = (grantType: string, parts: ReadonlyArray<KeyPart>): string => {
  const fields = [`grant=${keyValue(grantType)}`]
  for (const [name, value] of parts) {
    if (value === undefined) continue
    const text = typeof value === "string"
      ? keyValue(value)
      : value.filter((v) => v !== "").map(keyValue).sort().join(" ")
    if (text !== "") fields.push(`${name}=${text}`)
  }
  return fields.join(";")
}

/**
 * A `scope` option as key parts: the scopes as a list (their order does not matter).
 *
 * @internal
 */
export const scopeList = (scope: string | undefined): ReadonlyArray<string> | undefined =>
  scope === undefined ? undefined : scope.split(/\s+/)

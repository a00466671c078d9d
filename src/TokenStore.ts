/**
 * Where tokens are kept between fetches, and the lock that makes one fetch serve everybody who shares
 * the store.
 *
 * The `TokenService` loads from its store before it asks the token endpoint, saves every new token, and
 * fetches under the store's lock (taking the lock, reading the store again, fetching only if still
 * needed). A store that fails never fails `get`: the service logs it and fetches on its own.
 *
 * - `layerMemory`: a map in this process, with a per-key lock, so that several token services in one
 *   process share tokens and fetches.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Token from "./Token.js"
import * as TokenError from "./TokenError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The token stored under `key`: `NotCached` when there is none, `Corrupted` when it cannot be read. */
  readonly load: (
    key: string
  ) => Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Corrupted | TokenError.StoreError>
  /** Stores a token under `key`, replacing what was there, all at once (no reader sees half a token). */
  readonly save: (key: string, token: Token.Token) => Effect.Effect<void, TokenError.StoreError>
  /** Removes what is stored under `key`; nothing stored is not an error. */
  readonly remove: (key: string) => Effect.Effect<void, TokenError.StoreError>
  /**
   * Runs `effect` holding the store's lock for `key`, so that among all who share the store only one
   * fetches at a time. Fails with `StoreError` only when the lock could not be taken (and `effect` did
   * not run); a failure to release is the store's to log.
   */
  readonly withLock: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | TokenError.StoreError, R>
}

/**
 * The token store service.
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenStore extends Context.Tag("tokenlayer/TokenStore")<TokenStore, Service>() {}

/**
 * An in-memory store as a value: a map, and a per-key lock.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() => {
  const tokens = new Map<string, Token.Token>()
  const locks = new Map<string, Effect.Semaphore>()
  const lockFor = (key: string): Effect.Semaphore => {
    let lock = locks.get(key)
    if (lock === undefined) {
      lock = Effect.unsafeMakeSemaphore(1)
      locks.set(key, lock)
    }
    return lock
  }
  return {
    load: (key) =>
      Effect.suspend(() => {
        const token = tokens.get(key)
        return token === undefined ? Effect.fail(new TokenError.NotCached({ key })) : Effect.succeed(token)
      }),
    save: (key, token) => Effect.sync(() => void tokens.set(key, token)),
    remove: (key) => Effect.sync(() => void tokens.delete(key)),
    withLock: (key, effect) => Effect.suspend(() => lockFor(key).withPermits(1)(effect))
  }
})

/**
 * An in-memory store: tokens live as long as the layer, shared by every token service it is provided to.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
 *
 * const Deps = Layer.mergeAll(RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerMemory)
 * const TokenLive = TokenService.layer().pipe(Layer.provide(Deps))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<TokenStore> = Layer.effect(TokenStore, makeMemory)

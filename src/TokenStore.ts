/**
 * Where tokens are kept between fetches, and the lock that makes one fetch serve everybody who shares
 * the store.
 *
 * The `TokenService` loads from its store before it asks the token endpoint, saves every new token, and
 * fetches under the store's lock (taking the lock, reading the store again, fetching only if still
 * needed). A store that fails never fails `get`: the service logs it and fetches on its own, and waits
 * for it no longer than its `storeTimeout` and `lockTimeout`.
 *
 * A store is four operations: `load`, `save`, `remove`, and `lock(key)`, a scoped acquisition (held
 * until the scope closes). `withLock(store, key, effect)` runs an effect under it; `fromWithLock` turns
 * a store written for the 0.1 contract (`withLock(key, effect)` as its fourth operation) into one.
 *
 * - `layerMemory`: a map in this process, with a per-key lock, so that several token services in one
 *   process share tokens and fetches.
 * - `layerFile` (`TokenStore/File`): one JSON file per key in a private directory (0600 files, 0700
 *   directory), written atomically, with a lock file per key, so that processes on one machine (a fleet
 *   of workers, a command-line tool run again and again) share tokens and fetch one at a time.
 * - `TokenStore/Redis`: a Redis for a fleet of machines.
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as internalFile from "./internal/fileStore.js"
import * as KeyedSemaphore from "./internal/keyedSemaphore.js"
import * as internalLock from "./internal/storeLock.js"
import type * as Token from "./Token.js"
import * as TokenError from "./TokenError.js"
import type * as File from "./TokenStore/File.js"

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
   * Takes the store's lock for `key`, held until the scope closes, so that among all who share the
   * store only one fetches at a time. Waiting for it can be interrupted (a timeout around `lock` bounds
   * the wait, not the work done under it), and then nothing is held. Fails with `StoreError` only when
   * the lock could not be taken; giving it back never fails (a failure to release is the store's to
   * log). See `withLock` to run an effect under it.
   */
  readonly lock: (key: string) => Effect.Effect<void, TokenError.StoreError, Scope.Scope>
  /**
   * The keys stored that start with `prefix` (optional: a store without it still works; a
   * `TokenCache` then removes a user's tokens only from memory and the keys it holds). What
   * `TokenCache.remove(subject)` uses to find a user's tokens that were dropped from memory.
   *
   * @since 0.2.0
   */
  readonly keys?: ((prefix: string) => Effect.Effect<ReadonlyArray<string>, TokenError.StoreError>) | undefined
}

/**
 * The token store service.
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenStore extends Context.Tag("tokenlayer/TokenStore")<TokenStore, Service>() {}

/**
 * Runs `effect` holding the store's lock for `key` (taken with `lock`, given back when `effect` ends,
 * however it ends). Fails with `StoreError` when the lock could not be taken, and `effect` did not run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenStore } from "tokenlayer"
 *
 * const forget = (key: string) =>
 *   Effect.flatMap(TokenStore.TokenStore, (store) => TokenStore.withLock(store, key, store.remove(key)))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const withLock: {
  <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>
  ): (store: Service) => Effect.Effect<A, E | TokenError.StoreError, R>
  <A, E, R>(store: Service, key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | TokenError.StoreError, R>
} = dual(
  3,
  <A, E, R>(store: Service, key: string, effect: Effect.Effect<A, E, R>) =>
    Effect.scopedWith((scope) => Effect.zipRight(Scope.extend(store.lock(key), scope), effect))
)

/**
 * A store written against the contract of tokenlayer 0.1, whose lock was `withLock(key, effect)`.
 *
 * @since 0.2.0
 * @category models
 */
export interface WithLockService extends Omit<Service, "lock"> {
  readonly withLock: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | TokenError.StoreError, R>
}

/**
 * A store of the 0.1 contract (`withLock(key, effect)`) as a `Service`: its `lock` runs `withLock` in
 * a fiber of its own, holding it open until the scope closes. Interrupting the acquisition interrupts
 * that fiber; a failure of `withLock` after the lock was held (its release) is logged.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { TokenStore } from "tokenlayer"
 *
 * declare const legacy: TokenStore.WithLockService
 * const StoreLive = Layer.succeed(TokenStore.TokenStore, TokenStore.fromWithLock(legacy))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromWithLock = (store: WithLockService): Service => ({
  load: (key) => store.load(key),
  save: (key, token) => store.save(key, token),
  remove: (key) => store.remove(key),
  lock: (key) => internalLock.fromWithLock(key, store.withLock),
  keys: store.keys
})

/**
 * An in-memory store as a value: a map, and a per-key lock.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() => {
  const tokens = new Map<string, Token.Token>()
  const locks = KeyedSemaphore.make()
  return {
    load: (key) =>
      Effect.suspend(() => {
        const token = tokens.get(key)
        return token === undefined ? Effect.fail(new TokenError.NotCached({ key })) : Effect.succeed(token)
      }),
    save: (key, token) => Effect.sync(() => void tokens.set(key, token)),
    remove: (key) => Effect.sync(() => void tokens.delete(key)),
    lock: locks.take,
    keys: (prefix) => Effect.sync(() => [...tokens.keys()].filter((key) => key.startsWith(prefix)))
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

/**
 * The options of the file store: `TokenStore/File`'s `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type FileOptions = File.Options

/**
 * The file name of the token stored under `key` in a file store (see `TokenStore/File`'s `fileName`).
 *
 * @example
 * ```ts
 * import { TokenStore } from "tokenlayer"
 *
 * TokenStore.fileName("grant=client_credentials;token_url=https://auth.example.com/token;client_id=app")
 * // "client_credentials_auth.example.com_token_app-a0380a8796e275cf.json"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const fileName: (key: string) => string = internalFile.fileName

/**
 * A file store as a value (see `TokenStore/File`'s `make`). It works on the files themselves
 * (`node:fs`), and needs no `FileSystem`: one provided is not used.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { TokenStore } from "tokenlayer"
 *
 * const StoreLive = Layer.effect(TokenStore.TokenStore, TokenStore.makeFile({ directory: "/var/lib/app/tokens" }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFile: (options: FileOptions) => Effect.Effect<Service> = internalFile.make

/**
 * The directory for token files of a command-line tool (see `TokenStore/File`'s `defaultDirectory`):
 * `$XDG_STATE_HOME/tokenlayer`, else `$HOME/.local/state/tokenlayer`, read through `Config`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenStore } from "tokenlayer"
 *
 * const program = Effect.flatMap(TokenStore.defaultDirectory, (directory) => Effect.log(`tokens in ${directory}`))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultDirectory: Effect.Effect<string, ConfigError.ConfigError> = internalFile.defaultDirectory

/**
 * The file store (see `TokenStore/File`): one JSON file per key, mode 0600 in a directory of mode
 * 0700, written atomically, with a lock file per key that processes sharing the directory take before
 * they fetch, so that a fleet of processes, or a command-line tool run again and again, asks the token
 * endpoint once per token. Without a directory, it uses `defaultDirectory` (`~/.local/state/tokenlayer`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
 *
 * const TokenLive = TokenService.layer().pipe(
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make("my-secret")
 *   })),
 *   // ~/.local/state/tokenlayer, or TokenStore.layerFile({ directory: "/var/lib/my-app/tokens" })
 *   Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerFile()]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export function layerFile(options: FileOptions): Layer.Layer<TokenStore>
export function layerFile(
  options?: Omit<FileOptions, "directory"> & { readonly directory?: undefined }
): Layer.Layer<TokenStore, ConfigError.ConfigError>
export function layerFile(
  options?: Omit<FileOptions, "directory"> & { readonly directory?: string | undefined }
): Layer.Layer<TokenStore, ConfigError.ConfigError> {
  return Layer.effect(
    TokenStore,
    Effect.flatMap(
      options?.directory === undefined ? internalFile.defaultDirectory : Effect.succeed(options.directory),
      (directory) => internalFile.make({ ...options, directory })
    )
  )
}

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
 * - `layerFile`: one JSON file per key in a private directory (0600 files, 0700 directory), written
 *   atomically, with a lock file per key, so that processes on one machine (a fleet of workers, a
 *   command-line tool run again and again) share tokens and fetch one at a time.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as internalFile from "./internal/fileStore.js"
import * as KeyedSemaphore from "./internal/keyedSemaphore.js"
import * as internalLock from "./internal/storeLock.js"
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
   * Takes the store's lock for `key`, held until the scope closes, so that among all who share the
   * store only one fetches at a time. Waiting for it can be interrupted (a timeout around `lock` bounds
   * the wait, not the work done under it), and then nothing is held. Fails with `StoreError` only when
   * the lock could not be taken; giving it back never fails (a failure to release is the store's to
   * log). See `withLock` to run an effect under it.
   */
  readonly lock: (key: string) => Effect.Effect<void, TokenError.StoreError, Scope.Scope>
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
  lock: (key) => internalLock.fromWithLock(key, store.withLock)
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
    lock: locks.take
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
 * The options of the file store.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileOptions {
  /**
   * The directory of the token files, created (mode 0700, with its parents) if missing. It must be the
   * store's own: owned by the user of the process, accessible by that user only, and not a symbolic link
   * (a directory that group or others can access, another user's, or a link to one is refused; a link
   * higher up the path is followed). A relative path is resolved against the working directory when the
   * store is built.
   */
  readonly directory: string
  /**
   * A lock file that its holder has not refreshed for this long is taken over (a holder refreshes its
   * lock every third of this while it holds it, however long its fetch takes). A lock whose holder is a
   * process of this machine that no longer exists is taken over at once. Default: 10 seconds, a third
   * of the token service's `lockTimeout`, so that waiters take over a dead holder's lock, and one of
   * them fetches, before they give up on the lock and all fetch on their own.
   */
  readonly staleAfter?: Duration.DurationInput | undefined
}

/**
 * The file name (in the store's directory) of the token stored under `key`: `<slug>-<hash>.json`, the
 * slug made of the key's letters, digits, `.`, `_` and `-` (at most 64 of them; of a grant key, its
 * values, without the names and URL schemes), the hash the first 16 hex digits of the key's SHA-256.
 * Any key gives a safe name, without path separators. The lock file is `<slug>-<hash>.lock`.
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
 * A file store as a value, over the `FileSystem` in context.
 *
 * - `load`: a missing file is `NotCached`; a file that is not JSON or not a token is `Corrupted`
 *   (with its path, never its content); a file that group or others can access is refused with a
 *   `StoreError` that says which `chmod` fixes it, and so is a symbolic link (never followed) or a file
 *   of another user, as ssh refuses them.
 * - `save`: a temporary file in the same directory (0600), written, fsynced and renamed over the
 *   token file, so that no reader (and no crash) ever sees half a token. Expired tokens are kept: the
 *   token service checks expiry.
 * - `withLock`: a lock file per key, created exclusively, refreshed while held, taken over when its
 *   holder's process is gone or it was not refreshed for `staleAfter`; waiting polls with backoff
 *   (20 ms to 250 ms, on the Clock), and interruption while waiting or holding releases it. Something
 *   else at the lock's path (a FIFO, a link, a directory, a file of another user or of more than 4 KiB)
 *   fails it at once with a `StoreError`, and is left there.
 *
 * Every failure is a typed error carrying the path and the operation, never a defect.
 *
 * @example
 * ```ts
 * import { NodeFileSystem } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { TokenStore } from "tokenlayer"
 *
 * const StoreLive = Layer.effect(TokenStore.TokenStore, TokenStore.makeFile({ directory: "/var/lib/app/tokens" })).pipe(
 *   Layer.provide(NodeFileSystem.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFile: (options: FileOptions) => Effect.Effect<Service, never, FileSystem.FileSystem> =
  internalFile.make

/**
 * The directory for token files of a command-line tool: `$XDG_STATE_HOME/tokenlayer` when
 * `XDG_STATE_HOME` is an absolute path, else `$HOME/.local/state/tokenlayer` (XDG Base Directory:
 * tokens are state, not configuration, nor a cache that may be deleted at any time). Read through
 * `Config`, so a `ConfigProvider` can set it in tests.
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
 * The file store: one JSON file per key (seed 004's field names), mode 0600 in a directory of mode
 * 0700, written atomically, with a lock file per key that processes sharing the directory take before
 * they fetch, so that a fleet of processes, or a command-line tool run again and again, asks the token
 * endpoint once per token. Without a directory, it uses `defaultDirectory`
 * (`~/.local/state/tokenlayer`). Brings its own Node `FileSystem`; use `makeFile` to give another.
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
  ).pipe(Layer.provide(NodeFileSystem.layer))
}

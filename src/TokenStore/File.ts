/**
 * A token store in files, so that the processes of one machine (a fleet of workers, a command-line
 * tool run again and again) share their tokens and fetch once for all.
 *
 * - One JSON file per key (the stored form, seed 004's field names), named by `fileName`, mode 0600
 *   in a directory of mode 0700, written atomically (a temporary file, fsynced, renamed), so that no
 *   reader (and no crash) ever sees half a token. Expired tokens are kept: the token service checks
 *   expiry.
 * - `load`: a missing file is `NotCached`; a file that is not JSON or not a token is `Corrupted` (with
 *   its path, never its content); a file that group or others can access is refused with a
 *   `StoreError` that says which `chmod` fixes it, and so is a symbolic link (never followed) or a file
 *   of another user, as ssh refuses them.
 * - `lock`: a lock file per key, created exclusively, refreshed while held, taken over when its
 *   holder's process is gone or it was not refreshed for `staleAfter`; waiting polls with backoff
 *   (20 ms to 250 ms, on the Clock), and interruption while waiting releases it. Something else at the
 *   lock's path (a FIFO, a link, a directory, a file of another user or of more than 4 KiB) fails it at
 *   once with a `StoreError`, and is left there.
 *
 * Every failure is a typed error carrying the path and the operation, never a defect. The store works
 * on the files themselves, with `node:fs`, not through `@effect/platform`'s `FileSystem`: its checks
 * (a link never followed, a FIFO never opened, the owner and mode of the very file read) need calls
 * that `FileSystem` does not have. It runs where Node's `fs` does (Node, Bun, Deno).
 *
 * `TokenStore.layerFile`, `TokenStore.makeFile`, `TokenStore.fileName` and `TokenStore.defaultDirectory`
 * are the same functions.
 *
 * @since 0.2.0
 */
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as internal from "../internal/fileStore.js"
import * as TokenStore from "../TokenStore.js"

/**
 * The options of the file store.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
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
 * import * as FileStore from "tokenlayer/TokenStore/File"
 *
 * FileStore.fileName("grant=client_credentials;token_url=https://auth.example.com/token;client_id=app")
 * // "client_credentials_auth.example.com_token_app-a0380a8796e275cf.json"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const fileName: (key: string) => string = internal.fileName

/**
 * The directory for token files of a command-line tool: `$XDG_STATE_HOME/tokenlayer` when
 * `XDG_STATE_HOME` is an absolute path, else `$HOME/.local/state/tokenlayer` (XDG Base Directory:
 * tokens are state, not configuration, nor a cache that may be deleted at any time). Read through
 * `Config`, so a `ConfigProvider` can set it in tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as FileStore from "tokenlayer/TokenStore/File"
 *
 * const program = Effect.flatMap(FileStore.defaultDirectory, (directory) => Effect.log(`tokens in ${directory}`))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaultDirectory: Effect.Effect<string, ConfigError.ConfigError> = internal.defaultDirectory

/**
 * The file store as a value.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as FileStore from "tokenlayer/TokenStore/File"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* FileStore.make({ directory: "/var/lib/my-app/tokens" })
 *   return yield* store.load("my-key")
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<TokenStore.Service> = internal.make

/**
 * The file store as a layer. Without a directory, it uses `defaultDirectory`
 * (`~/.local/state/tokenlayer`), and fails with a `ConfigError` when there is no home directory.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, TokenService } from "tokenlayer"
 * import * as FileStore from "tokenlayer/TokenStore/File"
 *
 * const TokenLive = TokenService.layer().pipe(
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make("my-secret")
 *   })),
 *   Layer.provide(FileStore.layer({ directory: "/var/lib/my-app/tokens" })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: {
  (options: Options): Layer.Layer<TokenStore.TokenStore>
  (
    options?: Omit<Options, "directory"> & { readonly directory?: undefined }
  ): Layer.Layer<TokenStore.TokenStore, ConfigError.ConfigError>
} = TokenStore.layerFile

/**
 * A token store in Redis (on ioredis), so that a fleet of processes shares its tokens and fetches
 * once for all.
 *
 * - Keys: `<prefix>token:<key>` holds a token in its stored JSON form (the text of a token file), with a
 *   TTL (`PX`) equal to the token's remaining life by Effect's `Clock`; `<prefix>lock:<key>` is the lease.
 *   The prefix defaults to `tokenlayer:`. A token that has already expired is not stored (`save` deletes
 *   what was there); a token without `expires_in` is kept for `ttlWithoutExpiry` (1 hour).
 * - `lock` is a lease: `SET <lock> <owner> NX PX <lease>` (10 seconds by default), renewed every
 *   lease/3 while its holder works (a compare-and-`PEXPIRE` script), released only by its owner (a
 *   compare-and-delete script). A holder that crashes stops renewing: its lease expires within `lease`.
 *   Waiting for a lease polls with backoff (10 ms growing to 250 ms, jittered, on the `Clock`); the token
 *   service gives up after its `lockTimeout` and fetches on its own.
 *   What is at the lease's key but is not a lease (a value of another type, or one without expiry, which
 *   would never go away) fails `lock` at once with a `StoreError` naming the key (it is left as it
 *   is: delete it); the owner checks never read more of it than an owner id's length.
 * - Failures: a Redis that is down or slow fails each operation fast (no offline queue, a command
 *   timeout of 2 seconds) with a `StoreError`, which the token service logs before it fetches on its own;
 *   ioredis reconnects in the background (at most a second apart) and the store works again when Redis
 *   is back. Once a command has timed out, the next ones fail at once (a release is still sent, without
 *   waiting for it) until Redis answers a PING sent in the background: a frozen Redis costs one
 *   `commandTimeout`, not one per command. Errors never carry the URL's password nor a token.
 * - Hostile values: a token's key is read by a script that sends the value only if it is a string of at
 *   most 1 MiB. A larger value, a value of another type (a hash, a list...), a value nested more than 64
 *   deep, or anything else that is not a token is `Corrupted` (the key and a reason, never the content),
 *   and the token service overwrites it with the next token it gets. A token whose stored form is larger
 *   than 1 MiB is not saved (a `StoreError`: it is kept in memory only).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as internal from "../internal/redisStore.js"
import * as TokenStore from "../TokenStore.js"

/**
 * How to reach Redis, and how to use it.
 *
 * Give `url`, or `redisOptions`, or both (the options complete the URL, e.g. with `tls`), or a `client`
 * of your own; with none of them, `redis://127.0.0.1:6379`. The store owns the connection it creates
 * (it closes it when its scope closes) but not a `client` you pass in: that one is used as it is (its
 * offline queue, timeouts and `error` events stay yours to configure).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://...`. Best kept `Redacted` (it may hold a password). */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** ioredis options, over tokenlayer's defaults (which make commands fail fast while disconnected). */
  readonly redisOptions?: RedisOptions | undefined
  /** A client of your own: not closed by the store. */
  readonly client?: Redis | undefined
  /** Put before every key. Default: `tokenlayer:`. */
  readonly prefix?: string | undefined
  /**
   * How long a lease lasts without renewal: how long a crashed holder can keep the others waiting.
   * A live holder renews it every third of it. Default: 10 seconds.
   */
  readonly lease?: Duration.DurationInput | undefined
  /**
   * Every Redis command that takes longer fails (the store then counts as failed), and the commands after
   * it fail at once until Redis answers again. Default: 2 seconds.
   */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** The TTL of a token whose server sent no `expires_in`. Default: 1 hour. */
  readonly ttlWithoutExpiry?: Duration.DurationInput | undefined
}

/**
 * The default key prefix: `tokenlayer:`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPrefix: string = internal.defaultPrefix

/**
 * The Redis key that holds the token stored under `key`: `<prefix>token:<key>`.
 *
 * @since 0.1.0
 * @category utils
 */
export const tokenKey: (key: string, prefix?: string) => string = internal.tokenKey

/**
 * The Redis key of the lease for `key`: `<prefix>lock:<key>`.
 *
 * @since 0.1.0
 * @category utils
 */
export const lockKey: (key: string, prefix?: string) => string = internal.lockKey

/**
 * Builds the store as a value. Never fails and never waits for Redis: the connection is made in the
 * background, and an operation before it is up waits for it at most `commandTimeout`.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import * as RedisStore from "tokenlayer/TokenStore/Redis"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const store = yield* RedisStore.make({ url: Redacted.make("redis://127.0.0.1:6379") })
 *   return yield* store.load("my-key")
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<TokenStore.Service, never, Scope.Scope> = (options = {}) =>
  internal.make(options)

/**
 * The Redis token store as a layer. The connection it creates lives as long as the layer.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenService } from "tokenlayer"
 * import * as RedisStore from "tokenlayer/TokenStore/Redis"
 *
 * const TokenLive = TokenService.layer().pipe(
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make("my-secret")
 *   })),
 *   Layer.provide([
 *     RefreshPolicy.fixed("5 minutes"),
 *     RetryPolicy.layerDefault,
 *     RedisStore.layer({ url: Redacted.make("redis://:password@redis.internal:6379"), prefix: "billing:" })
 *   ]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TokenStore.TokenStore> =>
  Layer.scoped(TokenStore.TokenStore, make(options))

/** Whether ioredis can take this as a Redis URL: `redis:` or `rediss:`, a host, a port, decodable credentials. */
const isRedisUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
    return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== ""
  } catch {
    return false
  }
}

/**
 * The store's options read through `Config`: `TOKENLAYER_REDIS_URL` (required, read with
 * `Config.redacted`: it may hold a password; `redis://` or `rediss://`), and optionally
 * `TOKENLAYER_REDIS_PREFIX`, `TOKENLAYER_REDIS_LEASE` and `TOKENLAYER_REDIS_COMMAND_TIMEOUT` (durations
 * such as `10 seconds`).
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  url: Config.redacted("REDIS_URL").pipe(
    Config.validate({
      message: "expected a redis:// or rediss:// URL",
      validation: (url) => isRedisUrl(Redacted.value(url))
    })
  ),
  prefix: Config.option(Config.string("REDIS_PREFIX")),
  lease: Config.option(Config.duration("REDIS_LEASE")),
  commandTimeout: Config.option(Config.duration("REDIS_COMMAND_TIMEOUT"))
}).pipe(
  Config.nested("TOKENLAYER"),
  Config.map((c): Options => ({
    url: c.url,
    prefix: Option.getOrUndefined(c.prefix),
    lease: Option.getOrUndefined(c.lease),
    commandTimeout: Option.getOrUndefined(c.commandTimeout)
  }))
)

/**
 * The Redis token store, its options read through `Config` (see `optionsConfig`). Fails with a
 * `ConfigError` when the configuration is missing or wrong, never because Redis is down.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenService } from "tokenlayer"
 * import * as RedisStore from "tokenlayer/TokenStore/Redis"
 *
 * // reads TOKENLAYER_REDIS_URL (and TOKENLAYER_REDIS_PREFIX, ...), TOKEN_URL, CLIENT_ID, CLIENT_SECRET
 * const TokenLive = TokenService.layer().pipe(
 *   Layer.provide(Grant.clientCredentialsConfig()),
 *   Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, RedisStore.layerConfig()]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = optionsConfig
): Layer.Layer<TokenStore.TokenStore, ConfigError.ConfigError> => Layer.unwrapEffect(Effect.map(config, layer))

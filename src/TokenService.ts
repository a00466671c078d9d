/**
 * The core of tokenlayer: a service that always hands out a valid token.
 *
 * - Any number of concurrent `get`s on a cold or due cache cause exactly one token request; all callers
 *   get its result. A failure is shared by the callers that waited for it and is not cached.
 * - A token is renewed when the `RefreshPolicy` says it is due. A due token whose renewal fails is still
 *   handed out until it really expires, with a warning, while it is renewed in the background; a token
 *   past its expiry never is (except that a token fresh from the endpoint is used for at least
 *   `minTokenLifetime`, so a server answering `expires_in: 0` cannot make the service loop).
 * - Token requests are retried by the `RetryPolicy`, each attempt is a span
 *   (`tokenlayer.token_request`) and counts in the `tokenlayer_token_requests` metric by outcome; a new
 *   token is logged at debug level with its lifetime, never with its value.
 * - Tokens are loaded from and saved to the `TokenStore`, and fetched under its lock; a failing store
 *   never fails `get`.
 * - Time is read only through Effect's `Clock`, so `TestClock` drives every expiry.
 *
 * The hit path is a state read and a Clock read, and returns an `Exit` made once per token: inside
 * `Effect.gen`, `yield* tokens.get` costs about what `yield* Effect.succeed(x)` does. State is a `Ref`.
 *
 * The service reads time from the `Clock` of the context it is built in: build the layer inside your
 * test (`Effect.provide(TestLayer)`) and `TestClock` drives every expiry.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Grant from "./Grant.js"
import * as internal from "./internal/tokenService.js"
import type * as Token from "./Token.js"
import type * as TokenError from "./TokenError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The grant's key: what this service's tokens are stored under. */
  readonly key: string
  /**
   * A valid token: one that is not due, fetching or renewing when needed. (With `refreshAhead`, or after
   * a renewal failed, a due token that has not expired is served while it is renewed in the background.)
   */
  readonly get: Effect.Effect<Token.Token, TokenError.HttpError>
  /** What is cached (in memory, else in the store), with no token request. */
  readonly current: Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired>
  /** A new token now (joins a fetch already under way). Does not fall back to the old token. */
  readonly refresh: Effect.Effect<Token.Token, TokenError.HttpError>
  /**
   * Forgets the cached token, and its stored copy. Given a token (the one an API rejected), only if it is
   * still the current one: a newer token is kept.
   */
  readonly invalidate: (rejected?: Token.Token) => Effect.Effect<void>
}

/**
 * The counter of token requests (each attempt), tagged `outcome`: `success`, `status`, `transport`,
 * `timeout` or `decode`. Read it with `Metric.value(Metric.tagged(TokenService.tokenRequests, "outcome",
 * "success"))`, or export it with the rest of your Effect metrics.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequests = internal.tokenRequests

/**
 * The name of the span around each token request attempt.
 *
 * @since 0.1.0
 * @category tracing
 */
export const tokenRequestSpan = internal.tokenRequestSpan

/**
 * The token service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Token, TokenService } from "tokenlayer"
 *
 * const authorization = Effect.gen(function*() {
 *   const tokens = yield* TokenService.TokenService
 *   const token = yield* tokens.get
 *   return Token.authorizationHeader(token) // "Bearer ..." (put it on the wire, never in a log)
 * })
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenService extends Context.Tag("tokenlayer/TokenService")<TokenService, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * A token fresh from the endpoint is used for at least this long, even if the server says it is due
   * or expires sooner, so that a server answering `expires_in: 0` is asked once per interval instead of
   * in a loop. Default: 1 second.
   */
  readonly minTokenLifetime?: Duration.DurationInput | undefined
  /**
   * When the renewal of a due but still valid token fails, the token stays in use and is renewed in the
   * background after this long (or after the server's `Retry-After`, if longer). Default: 10 seconds.
   */
  readonly retryFailedRefreshAfter?: Duration.DurationInput | undefined
  /**
   * Refresh ahead: a token that is due but still valid is returned at once while one background fiber
   * renews it, so no caller waits on the token endpoint except for a missing or expired token.
   * Default: false (callers of a due token wait for its renewal, as the vendors' guides do).
   */
  readonly refreshAhead?: boolean | undefined
  /**
   * A store operation (load, save, remove) that takes longer than this counts as failed: the service
   * logs it and goes on without the store. Default: 5 seconds.
   */
  readonly storeTimeout?: Duration.DurationInput | undefined
  /**
   * How long to wait for the store's lock (another holder may be fetching) before fetching without it.
   * Default: 30 seconds.
   */
  readonly lockTimeout?: Duration.DurationInput | undefined
}

/**
 * Builds the service as a value, for programs that hold tokens for several APIs at once, each under a
 * Tag of their own. Its fetches run in fibers of the given `Scope`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Context, Effect, Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
 *
 * class BillingTokens extends Context.Tag("app/BillingTokens")<BillingTokens, TokenService.Service>() {}
 *
 * const BillingTokensLive = Layer.scoped(BillingTokens, TokenService.make()).pipe(
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://billing.example.com/oauth/token",
 *     clientId: "billing",
 *     clientSecret: Redacted.make("secret")
 *   })),
 *   Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.layerDefault, TokenStore.layerMemory]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<
  Service,
  never,
  Scope.Scope | Grant.Grant
> = internal.make

/**
 * The token service layer. Requires only a `Grant` (which itself needs an `HttpClient`). The
 * `RefreshPolicy` (5 minutes before expiry), the `RetryPolicy` (`RetryPolicy.layerDefault`) and the
 * `TokenStore` (a memory store of the service's own) have defaults; provide any of them to choose.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, TokenService } from "tokenlayer"
 *
 * const TokenLive = TokenService.layer().pipe(
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make("my-secret")
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 *
 * // the defaults are overridden by providing the service: here, renewal 1 minute before expiry
 * const Eager = TokenLive.pipe(Layer.provide(RefreshPolicy.fixed("1 minute")))
 *
 * const program = Effect.flatMap(TokenService.TokenService, (tokens) => tokens.get)
 * Effect.runPromise(program.pipe(Effect.provide(TokenLive)))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<TokenService, never, Grant.Grant> => Layer.scoped(TokenService, internal.make(options))

/**
 * A token that is not due, from the `TokenService` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get: Effect.Effect<Token.Token, TokenError.HttpError, TokenService> = Effect.flatMap(
  TokenService,
  (service) => service.get
)

/**
 * What the `TokenService` in context has cached, with no token request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const current: Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired, TokenService> = Effect
  .flatMap(TokenService, (service) => service.current)

/**
 * A new token now, from the `TokenService` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const refresh: Effect.Effect<Token.Token, TokenError.HttpError, TokenService> = Effect.flatMap(
  TokenService,
  (service) => service.refresh
)

/**
 * Forgets the cached token of the `TokenService` in context (given a token, only if it is still current).
 *
 * @since 0.1.0
 * @category accessors
 */
export const invalidate = (rejected?: Token.Token): Effect.Effect<void, never, TokenService> =>
  Effect.flatMap(TokenService, (service) => service.invalidate(rejected))

/**
 * Many tokens per client: one cache for every scope, audience, resource and user.
 *
 * A `TokenCache` hands out tokens by a request value (`{ scope, audience, resource, subject, params }`)
 * and applies to each key everything a `TokenService` promises: single flight per key, the refresh
 * policy, retries, a valid token served through a failed renewal, token requests of a key at least
 * `minTokenLifetime` apart, invalidation of exactly the rejected token, the store and its lock.
 * `TokenService` is the one-key case of the same engine.
 *
 * - Keys: `keyOf(request)` is the grant's key followed by the request's parts (scopes as a set,
 *   resources sorted, the subject first): two requests that differ in scope set, audience, resource,
 *   subject or parameters never share an entry; the empty request has the grant's own key (the token a
 *   `TokenService` over the same grant and store holds).
 * - Bounded: at most `maxEntries` keys in memory (CLOCK, an approximation of least recently used), and
 *   a key not asked for during `idleTimeToLive` is dropped. A dropped token is still in the store: the
 *   next `get` loads it back, refresh token included.
 * - Users: a grant that can trade a user's refresh token (`RefreshToken`) or sign a user's assertion
 *   (`JwtBearer`) serves `{ subject }`; `set({ subject }, token)` stores a user's token after their
 *   login, `remove(subject)` forgets all of theirs, in memory and in the store.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Grant from "./Grant.js"
import type * as grant from "./internal/grant.js"
import * as internal from "./internal/tokenCache.js"
import type * as Token from "./Token.js"
import type * as TokenError from "./TokenError.js"
import * as TokenService from "./TokenService.js"

/**
 * What a token is asked for, beyond what the grant says: `scope` (space-separated, order does not
 * matter), `audience`, RFC 8707 `resource` (a list repeats the parameter), `subject` (the user whose
 * refresh token or assertion it is) and more form `params`. Each part given overrides the grant's.
 *
 * @since 0.2.0
 * @category models
 */
export type Request = grant.Request

/**
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** A valid token for the request (no request: the grant's own), fetching or renewing when needed. */
  readonly get: (request?: Request) => Effect.Effect<Token.Token, TokenError.HttpError>
  /** What is cached for the request (in memory, else in the store), with no token request. */
  readonly current: (request?: Request) => Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired>
  /** A new token for the request now (joins a fetch under way for its key). */
  readonly refresh: (request?: Request) => Effect.Effect<Token.Token, TokenError.HttpError>
  /** Forgets the request's token and its stored copy; given a token, only if it is still the current one. */
  readonly invalidate: (request?: Request, rejected?: Token.Token) => Effect.Effect<void>
  /** Puts a token in the cache for the request (a user's, after their login), and saves it to the store. */
  readonly set: (request: Request, token: Token.Token) => Effect.Effect<void>
  /** Forgets every token of a user (every request with that `subject`), in memory and in the store. */
  readonly remove: (subject: string) => Effect.Effect<void>
  /** The key the request's token is cached and stored under. */
  readonly keyOf: (request?: Request) => string
  /** The request's tokens as a `TokenService.Service`, for code written against `TokenService`. */
  readonly service: (request?: Request) => TokenService.Service
  /** How many keys are held in memory now. */
  readonly size: Effect.Effect<number>
}

/**
 * The token cache service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Token, TokenCache } from "tokenlayer"
 *
 * const billing = Effect.gen(function*() {
 *   const tokens = yield* TokenCache.TokenCache
 *   const token = yield* tokens.get({ resource: "https://billing.example.com" })
 *   return Token.authorizationHeader(token)
 * })
 * ```
 *
 * @since 0.2.0
 * @category tags
 */
export class TokenCache extends Context.Tag("tokenlayer/TokenCache")<TokenCache, Service>() {}

/**
 * `TokenService`'s options, and the bound.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends TokenService.Options {
  /** The most keys held in memory; past it the least recently asked for is dropped. Default: 10,000. */
  readonly maxEntries?: number | undefined
  /** A key not asked for during this long is dropped from memory (not from the store). Default: 1 hour. */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
}

/**
 * Builds the cache as a value; its fetches run in fibers of the given `Scope`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenCache } from "tokenlayer"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const cache = yield* TokenCache.make({ maxEntries: 1000 })
 *   return yield* cache.get({ scope: "read" })
 * }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, never, Scope.Scope | Grant.Grant> = internal.make

/**
 * The token cache layer. Requires a `Grant`; the `RefreshPolicy`, `RetryPolicy` and `TokenStore` have
 * the defaults they have for `TokenService.layer`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, TokenCache } from "tokenlayer"
 *
 * const Tokens = TokenCache.layer({ maxEntries: 1000 }).pipe(
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "gateway",
 *     clientSecret: Redacted.make(process.env.CLIENT_SECRET ?? "")
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TokenCache, never, Grant.Grant> =>
  Layer.scoped(TokenCache, internal.make(options))

/**
 * A token for the request, from the `TokenCache` in context.
 *
 * @since 0.2.0
 * @category accessors
 */
export const get = (request?: Request): Effect.Effect<Token.Token, TokenError.HttpError, TokenCache> =>
  Effect.flatMap(TokenCache, (cache) => cache.get(request))

/**
 * The request's tokens as a `TokenService` layer, over the `TokenCache` in context: code written
 * against `TokenService` runs unchanged on one of the cache's keys.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenCache, TokenService } from "tokenlayer"
 *
 * const Billing = TokenCache.serviceLayer({ resource: "https://billing.example.com" })
 * const program = TokenService.get.pipe(Effect.provide(Billing))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const serviceLayer = (
  request?: Request
): Layer.Layer<TokenService.TokenService, never, TokenCache> =>
  Layer.effect(
    TokenService.TokenService,
    Effect.map(TokenCache, (cache) => cache.service(request))
  )

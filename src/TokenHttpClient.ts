/**
 * An `HttpClient` that sends a valid access token with every request: the wrapper that seed 001 builds
 * as an axios interceptor, and seed 000's "get a new token and retry on a 401", as `HttpClient`
 * middleware.
 *
 * - Every request gets `Authorization: <token_type> <token>` (`bearer` is sent as `Bearer`), from the
 *   `TokenService`: no token request while the cached token is valid.
 * - On a 401, the token that request carried is invalidated (only that one: a newer token that another
 *   request already fetched is kept) and the request is sent once more with a fresh token. A second 401
 *   is returned to the caller as a response, not retried again.
 * - Any number of requests meeting a 401 at once cause one token request: they all wait for the same
 *   renewal.
 * - A request whose body cannot be sent twice (a stream) is not retried: its 401 is returned (and its
 *   token invalidated, so that the next request carries a new one).
 * - The grant's own token requests use the plain client it was built with, never this one.
 * - Responses and errors show the caller's request, without the token (the platform's request shows
 *   its headers in `inspect` and `JSON.stringify`).
 *
 * @since 0.1.0
 */
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as DPoP from "./internal/dpop.js"
import * as DPoPHttp from "./internal/dpopHttp.js"
import type * as Token from "./Token.js"
import * as TokenError from "./TokenError.js"
import * as TokenService from "./TokenService.js"

/**
 * Whether a request's body can be sent a second time: no body, bytes, a string, form data. A stream has
 * been read by the first attempt.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isReplayable = (request: HttpClientRequest.HttpClientRequest): boolean => {
  const body: HttpBody.HttpBody = request.body
  switch (body._tag) {
    case "Empty":
    case "Uint8Array":
    case "FormData":
      return true
    case "Raw": {
      const raw = body.body
      return typeof raw === "string" || raw instanceof Uint8Array || raw instanceof ArrayBuffer ||
        raw instanceof URLSearchParams || raw instanceof Blob
    }
    case "Stream":
      return false
  }
}

import * as CacheHttp from "./internal/cacheHttpClient.js"
import { discard, scrubError, scrubResponse } from "./internal/httpScrub.js"

/**
 * One request: with the token, and once more with a fresh token after a 401.
 */
const send = <E, R, E2>(
  client: HttpClient.HttpClient.With<E, R>,
  tokens: TokenService.Service,
  request: HttpClientRequest.HttpClientRequest,
  onTokenError: (error: TokenError.HttpError, request: HttpClientRequest.HttpClientRequest) => E2,
  dpop?: DPoP.Service | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, E | E2, R> => {
  const token = Effect.mapError(tokens.get, (error) => onTokenError(error, request))
  // DPoP (RFC 9449): a DPoP token goes with a proof, and one retry after a DPoP nonce challenge
  const execute = (with_: Token.Token) =>
    Effect.mapBoth(DPoPHttp.authorized(client, request, with_, dpop, isReplayable(request)), {
      onFailure: (error): E | E2 =>
        error instanceof TokenError.HttpError ? onTokenError(error, request) : scrubError(error as E, request),
      onSuccess: (response) => scrubResponse(response, request)
    })
  return Effect.flatMap(token, (sent) =>
    Effect.flatMap(execute(sent), (response) => {
      if (response.status !== 401) return Effect.succeed(response)
      // a body that cannot be sent twice: no retry, but the rejected token is not sent again either
      if (!isReplayable(request)) return Effect.as(tokens.invalidate(sent), response)
      return discard(response).pipe(
        Effect.zipRight(tokens.invalidate(sent)),
        Effect.zipRight(token),
        Effect.flatMap(execute)
      )
    }))
}

/**
 * Wraps an `HttpClient` so that every request carries a token of a `TokenService`, and a 401 is retried
 * once with a fresh token. Given only the client, it uses the `TokenService` in context; given a service
 * too, it is a plain function, so one program can call two APIs with two token services.
 *
 * Failing to get a token fails the request with the token service's `HttpError`.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 * import { TokenHttpClient } from "tokenlayer"
 *
 * const contracts = Effect.gen(function*() {
 *   const api = yield* TokenHttpClient.authorize(yield* HttpClient.HttpClient)
 *   const response = yield* api.get("https://api.example.com/contracts")
 *   return yield* response.json
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const authorize: {
  <E, R>(
    client: HttpClient.HttpClient.With<E, R>
  ): Effect.Effect<HttpClient.HttpClient.With<E | TokenError.HttpError, R>, never, TokenService.TokenService>
  <E, R>(
    client: HttpClient.HttpClient.With<E, R>,
    tokens: TokenService.Service,
    dpop?: DPoP.Service | undefined
  ): HttpClient.HttpClient.With<E | TokenError.HttpError, R>
} = (<E, R>(client: HttpClient.HttpClient.With<E, R>, tokens?: TokenService.Service, dpop?: DPoP.Service) => {
  const wrap = (
    service: TokenService.Service,
    proofs: DPoP.Service | undefined
  ): HttpClient.HttpClient.With<E | TokenError.HttpError, R> =>
    HttpClient.makeWith<never, never, E | TokenError.HttpError, R>(
      (request) => Effect.flatMap(request, (request) => send(client, service, request, (error) => error, proofs)),
      Effect.succeed
    )
  return tokens === undefined
    ? Effect.zipWith(
      TokenService.TokenService,
      Effect.serviceOption(DPoP.DPoP),
      (service, proofs) => wrap(service, proofs._tag === "Some" ? proofs.value : undefined)
    )
    : wrap(tokens, dpop)
}) as never

/**
 * The authorized client as an ordinary `HttpClient`, for code that asks for `HttpClient.HttpClient`.
 * A token that cannot be had fails the request with a `RequestError` (reason `Transport`) whose `cause`
 * is the token service's `HttpError`: read it with {@link tokenError}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient | TokenService.TokenService> =
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const tokens = yield* TokenService.TokenService
    const dpop = yield* Effect.serviceOption(DPoP.DPoP)
    return HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
      (request) =>
        Effect.flatMap(
          request,
          (request) =>
            send(client, tokens, request, (error, request) =>
              new HttpClientError.RequestError({
                request,
                reason: "Transport",
                cause: error,
                description: `no access token: ${error.message}`
              }), dpop._tag === "Some" ? dpop.value : undefined)
        ),
      Effect.succeed
    )
  })

/**
 * Replaces the `HttpClient` in context with one that authorizes every request with the `TokenService`'s
 * token and retries a 401 once. Provide the `TokenService` layer (whose grant uses the plain client) and
 * the plain client below it.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"
 *
 * const TokenLive = TokenService.layer().pipe(
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make("my-secret")
 *   })),
 *   Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerMemory])
 * )
 * const ApiClientLive = TokenHttpClient.layer.pipe(
 *   Layer.provide(TokenLive),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 *
 * const program = Effect.gen(function*() {
 *   const http = yield* HttpClient.HttpClient
 *   const response = yield* http.get("https://api.example.com/contracts")
 *   return yield* response.json
 * })
 * Effect.runPromise(program.pipe(Effect.provide(ApiClientLive)))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient | TokenService.TokenService> = Layer
  .effect(HttpClient.HttpClient, make)

/**
 * The token service's error behind a request that failed for want of a token, from a client built by
 * {@link make} or {@link layer}.
 *
 * @since 0.1.0
 * @category errors
 */
export const tokenError = (error: HttpClientError.HttpClientError): TokenError.HttpError | undefined =>
  error._tag === "RequestError" && error.cause instanceof TokenError.HttpError ? error.cause : undefined

/**
 * What {@link authorizeCache} needs of a token cache: the `get` and `invalidate` of `TokenCache.Service`,
 * by a request (`scope`, `resource`, `audience`, `subject`, `params`).
 *
 * @since 0.1.0
 * @category models
 */
export type Cache = CacheHttp.Cache

/**
 * How {@link authorizeCache} picks the token of a request: `resource: "origin"` asks for a token whose
 * RFC 8707 `resource` is the request's origin (`https://api.example.com`); `request` chooses the whole
 * request to the cache (a scope per path, say), and wins over `resource`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheOptions {
  readonly resource?: "origin" | undefined
  readonly request?: ((request: HttpClientRequest.HttpClientRequest) => CacheHttp.CacheRequest) | undefined
}

/**
 * Wraps an `HttpClient` so that each request carries the token of its own key in a token cache (any
 * service with the `get` / `invalidate` of `TokenCache`): by the request's origin or by `options.request`.
 * A 401 or 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."` is sent once
 * more with a token for the union of the request's scope and the challenge's (step-up, RFC 6750 §3.1);
 * a plain 401 invalidates exactly the rejected token and is sent once more. Never more than two sends.
 * The challenge is read by a bounded parser, its scope checked (RFC 6749 §3.3) before it is asked for.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 * import { TokenHttpClient } from "tokenlayer"
 *
 * const reports = (cache: TokenHttpClient.Cache) =>
 *   Effect.gen(function*() {
 *     const api = TokenHttpClient.authorizeCache(yield* HttpClient.HttpClient, cache, {
 *       request: (request) => ({ resource: new URL(request.url).origin, scope: "reports:read" })
 *     })
 *     return yield* (yield* api.get("https://reports.example.com/2026")).json
 *   })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const authorizeCache = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  cache: CacheHttp.Cache,
  options: CacheOptions = {}
): HttpClient.HttpClient.With<E | TokenError.HttpError, R> => {
  const pick = options.request ??
    ((request: HttpClientRequest.HttpClientRequest): CacheHttp.CacheRequest => {
      const resource = options.resource === "origin" ? CacheHttp.origin(request) : undefined
      return resource === undefined ? {} : { resource }
    })
  return HttpClient.makeWith<never, never, E | TokenError.HttpError, R>(
    (request) =>
      Effect.flatMap(request, (request) => CacheHttp.send(client, cache, pick, isReplayable, request, (e) => e)),
    Effect.succeed
  )
}

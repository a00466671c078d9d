/**
 * The Promise bridge: a `TokenService` for code outside Effect (axios interceptors, `fetch` wrappers,
 * the callers of seeds 000 and 001), on a `ManagedRuntime`.
 *
 * `getToken()` is the token manager the vendors' guides ask their customers to write: concurrent calls
 * share one token request, a valid token costs no request, renewal, retries and the refresh margin are
 * the service's. `fetch()` is `fetch` with the token added and one retry after a 401, as
 * `TokenHttpClient` does for Effect programs.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as DPoP from "./internal/dpop.js"
import * as DPoPFetch from "./internal/dpopFetch.js"
import * as InternalService from "./internal/tokenService.js"
import * as Token from "./Token.js"
import * as TokenCache from "./TokenCache.js"
import type * as TokenError from "./TokenError.js"
import * as TokenService from "./TokenService.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface TokenManager<E = never> {
  /**
   * A valid access token, fetched when needed. Rejects with the token service's `HttpError` (an `Error`
   * with `_tag: "HttpError"`) when no token can be had.
   */
  readonly getToken: () => Promise<string>
  /** The value of an `Authorization` header for a valid token: `<token_type> <token>` (`Bearer <token>` for a bearer token). */
  readonly authorizationHeader: () => Promise<string>
  /**
   * Forgets the cached token (given a token, the one an API rejected, only if it is still the current
   * one), so that the next call fetches a new one.
   */
  readonly invalidate: (rejected?: string) => Promise<void>
  /**
   * `fetch` with `Authorization` set to a valid token. On a 401 the token it carried is invalidated and
   * the request is sent once more with a fresh token; a second 401 is returned. A request whose body is
   * a stream is not retried (its token is still invalidated). Network errors reject as `fetch`'s do.
   */
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>
  /** Stops the service and releases what its layer holds (connections, timers). Idempotent. */
  readonly dispose: () => Promise<void>
  /** The runtime underneath, for running Effect code against the same token service. */
  readonly runtime: ManagedRuntime.ManagedRuntime<TokenService.TokenService, E>
}

/**
 * Runs an effect and settles with its value or its own error (not a `FiberFailure` wrapping it). What is
 * not an `Error` (a `ConfigError` of the layer, the defect "ManagedRuntime disposed", which is a string)
 * is wrapped in one, with the original as its `cause`: a Promise API rejects with an `Error`.
 */
const runner =
  <R, ER>(runtime: ManagedRuntime.ManagedRuntime<R, ER>) => <A, E>(effect: Effect.Effect<A, E, R>): Promise<A> =>
    runtime.runPromiseExit(effect).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      const error = Cause.squash(exit.cause)
      throw error instanceof Error ? error : new Error(String(error), { cause: error })
    })

/** A body `fetch` reads as it sends, so that it cannot be sent twice. */
const isStreamBody = (body: RequestInit["body"]): boolean =>
  body instanceof ReadableStream ||
  (typeof body === "object" && body !== null && Symbol.asyncIterator in body)

/**
 * The request with the token's `Authorization` header. A token that cannot be a header value (the
 * service refuses such tokens; a hand-made one may still be) is an error that does not quote it:
 * `Headers.set`'s own `TypeError` would carry the whole header, token included.
 */
const withAuthorization = (request: Request, token: Token.Token): Request => {
  const problem = Token.headerProblem(token)
  const headers = new Headers(request.headers)
  try {
    if (problem !== undefined) throw new TypeError(problem)
    headers.set("authorization", Token.authorizationHeader(token))
  } catch {
    throw new TypeError(`the token cannot be sent in an Authorization header: ${problem ?? "invalid header value"}`)
  }
  return new Request(request, { headers })
}

/** A token standing for a raw access token, to compare with the cached one. */
const rejectedToken = (accessToken: string): Token.Token =>
  Token.make({ accessToken: Redacted.make(accessToken), tokenType: "Bearer", issuedAt: DateTime.unsafeMake(0) })

/**
 * A token manager for non-Effect code, running the given `TokenService` layer. The layer is built on the
 * first call; call `dispose()` when done.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenManager, TokenService, TokenStore } from "tokenlayer"
 *
 * const tokens = TokenManager.make(
 *   TokenService.layer().pipe(
 *     Layer.provide(Grant.clientCredentials({
 *       tokenUrl: "https://auth.example.com/oauth2/token",
 *       clientId: "my-client",
 *       clientSecret: Redacted.make(process.env.CLIENT_SECRET ?? "")
 *     })),
 *     Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerMemory]),
 *     Layer.provide(NodeHttpClient.layerUndici)
 *   )
 * )
 *
 * const response = await tokens.fetch("https://api.example.com/contracts")
 * console.log(response.status)
 * await tokens.dispose()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(layer: Layer.Layer<TokenService.TokenService, E>): TokenManager<E> => {
  const runtime = ManagedRuntime.make(layer)
  const run = runner(runtime)
  // the service itself, once built: a valid cached token is then read synchronously (a fiber run to its
  // end at once, no Promise of the runtime's), which keeps a warm `getToken()` at a few microseconds.
  // Run in the manager's runtime, not the default one: on a miss this starts the renewal, whose fiber
  // must have the layer's logger, tracer and other fiber refs.
  let service: TokenService.Service | undefined
  // DPoP (RFC 9449): the layer's DPoP service, if it provides one, signs the proofs of `fetch`
  let dpop: DPoP.Service | undefined
  const get: Effect.Effect<Token.Token, TokenError.HttpError | E, TokenService.TokenService> = Effect.tap(
    Effect.zip(TokenService.TokenService, Effect.serviceOption(DPoP.DPoP)),
    ([built, proofs]) => {
      service = built
      dpop = proofs._tag === "Some" ? proofs.value : undefined
    }
  ).pipe(Effect.flatMap(([built]) => built.get))
  const token = (): Promise<Token.Token> => {
    if (service !== undefined) {
      // a token that is not due: read synchronously, without entering the runtime
      const cached = InternalService.peek(service)
      if (cached !== undefined) return Promise.resolve(cached)
      const exit = runtime.runSyncExit(service.get)
      if (Exit.isSuccess(exit)) return Promise.resolve(exit.value)
      // a token request under way, or a failure: the asynchronous path joins the same flight
    }
    return run(get)
  }
  // the warm path: as cheap as a hand-written manager's `return this.token`. The settled Promise is made
  // once per token (unwrapping the Redacted and allocating a Promise cost more than the rest together)
  let lastToken: Token.Token | undefined
  let lastAnswer: Promise<string> = Promise.resolve("")
  const getToken = (): Promise<string> => {
    const cached = service === undefined ? undefined : InternalService.peek(service)
    if (cached === undefined) return token().then((t) => Redacted.value(t.accessToken))
    if (cached !== lastToken) {
      lastToken = cached
      lastAnswer = Promise.resolve(Redacted.value(cached.accessToken))
    }
    return lastAnswer
  }

  const fetchWithToken = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const retryable = init === undefined || !isStreamBody(init.body)
    const send = (outgoing: Request, with_: Token.Token): Promise<Response> =>
      with_.tokenType === "DPoP"
        ? DPoPFetch.send(outgoing, with_, dpop, (effect) => runtime.runSync(effect), retryable)
        : globalThis.fetch(withAuthorization(outgoing, with_))
    const sent = await token()
    const response = await send(retryable ? request.clone() : request, sent)
    if (response.status !== 401) return response
    // a stream body cannot be sent twice: no retry, but the rejected token is not sent again either
    if (!retryable) return run(TokenService.invalidate(sent)).then(() => response)
    await response.body?.cancel().catch(() => undefined)
    await run(TokenService.invalidate(sent))
    const fresh = await token()
    return send(request, fresh)
  }

  return {
    getToken,
    authorizationHeader: () => token().then(Token.authorizationHeader),
    invalidate: (rejected) =>
      run(TokenService.invalidate(rejected === undefined ? undefined : rejectedToken(rejected))),
    fetch: fetchWithToken,
    dispose: () => {
      service = undefined
      return runtime.dispose()
    },
    runtime
  }
}

/**
 * The Promise bridge over a `TokenCache`: tokens by request (`{ scope, resource, subject, ... }`).
 *
 * @since 0.2.0
 * @category models
 */
export interface CacheManager<E = never> {
  /** A valid access token for the request (none: the grant's own). Rejects with the cache's `HttpError`. */
  readonly getToken: (request?: TokenCache.Request) => Promise<string>
  /** The value of an `Authorization` header for a valid token for the request. */
  readonly authorizationHeader: (request?: TokenCache.Request) => Promise<string>
  /** Forgets the request's token (given a token, the one an API rejected, only if it is still current). */
  readonly invalidate: (request?: TokenCache.Request, rejected?: string) => Promise<void>
  /** Forgets every token of a user, in memory and in the store. */
  readonly remove: (subject: string) => Promise<void>
  /** Stops the cache and releases what its layer holds. Idempotent. */
  readonly dispose: () => Promise<void>
  /** The runtime underneath. */
  readonly runtime: ManagedRuntime.ManagedRuntime<TokenCache.TokenCache, E>
}

/**
 * A token manager for non-Effect code over a `TokenCache` layer: `getToken({ scope, resource })`. A warm
 * token is read synchronously (no Promise of the runtime's); the layer is built on the first call.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, TokenCache, TokenManager } from "tokenlayer"
 *
 * const tokens = TokenManager.makeCache(
 *   TokenCache.layer().pipe(
 *     Layer.provide(Grant.clientCredentials({
 *       tokenUrl: "https://auth.example.com/oauth2/token",
 *       clientId: "gateway",
 *       clientSecret: Redacted.make(process.env.CLIENT_SECRET ?? "")
 *     })),
 *     Layer.provide(NodeHttpClient.layerUndici)
 *   )
 * )
 *
 * const billing = await tokens.getToken({ resource: "https://billing.example.com" })
 * await tokens.dispose()
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeCache = <E>(layer: Layer.Layer<TokenCache.TokenCache, E>): CacheManager<E> => {
  const runtime = ManagedRuntime.make(layer)
  const run = runner(runtime)
  let cache: TokenCache.Service | undefined
  const token = (request?: TokenCache.Request): Promise<Token.Token> => {
    if (cache !== undefined) {
      const exit = runtime.runSyncExit(cache.get(request))
      if (Exit.isSuccess(exit)) return Promise.resolve(exit.value)
    }
    return run(Effect.flatMap(TokenCache.TokenCache, (built) => {
      cache = built
      return built.get(request)
    }))
  }
  return {
    getToken: (request) => token(request).then((t) => Redacted.value(t.accessToken)),
    authorizationHeader: (request) => token(request).then(Token.authorizationHeader),
    invalidate: (request, rejected) =>
      run(Effect.flatMap(
        TokenCache.TokenCache,
        (built) => built.invalidate(request, rejected === undefined ? undefined : rejectedToken(rejected))
      )),
    remove: (subject) => run(Effect.flatMap(TokenCache.TokenCache, (built) => built.remove(subject))),
    dispose: () => {
      cache = undefined
      return runtime.dispose()
    },
    runtime
  }
}

/**
 * An `HttpClient` whose requests each carry the token of their own request to a token cache: chosen by
 * the request (its origin as RFC 8707 `resource`, or an explicit annotation), and stepped up once on an
 * `insufficient_scope` challenge (RFC 6750 §3.1) with the union of the request's scope and the one the
 * challenge names. A plain 401 invalidates exactly the rejected token and retries once. Never loops: at
 * most two sends per request.
 *
 * Written against the structural shape of `TokenCache.Service` (`get`, `invalidate`), so that it takes
 * the cache service as it is.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import type * as Token from "../Token.js"
import type * as TokenError from "../TokenError.js"
import { insufficientScope } from "./bearerChallenge.js"
import { discard, scrubError, scrubResponse, withToken } from "./httpScrub.js"

/** @internal */
export interface CacheRequest {
  readonly scope?: string
  readonly resource?: string | ReadonlyArray<string>
  readonly audience?: string
  readonly subject?: string
  readonly params?: Readonly<Record<string, string>>
}

/** @internal */
export interface Cache {
  readonly get: (request?: CacheRequest) => Effect.Effect<Token.Token, TokenError.HttpError>
  readonly invalidate: (request?: CacheRequest, rejected?: Token.Token) => Effect.Effect<void>
}

/** The scope of a request, with the scopes a challenge asks for added (RFC 6750: the union). */
export const union = (scope: string | undefined, added: ReadonlyArray<string>): string => {
  const all = [...(scope ?? "").split(" ").filter((s) => s !== ""), ...added]
  return [...new Set(all)].join(" ")
}

/** The RFC 8707 resource of a request by its URL: the API's origin. */
export const origin = (request: HttpClientRequest.HttpClientRequest): string | undefined => {
  try {
    return new URL(request.url).origin
  } catch {
    return undefined
  }
}

/** @internal */
export const send = <E, R, E2>(
  client: HttpClient.HttpClient.With<E, R>,
  cache: Cache,
  pick: (request: HttpClientRequest.HttpClientRequest) => CacheRequest,
  replayable: (request: HttpClientRequest.HttpClientRequest) => boolean,
  request: HttpClientRequest.HttpClientRequest,
  onTokenError: (error: TokenError.HttpError, request: HttpClientRequest.HttpClientRequest) => E2
): Effect.Effect<HttpClientResponse.HttpClientResponse, E | E2, R> => {
  const first = pick(request)
  const token = (key: CacheRequest) => Effect.mapError(cache.get(key), (error) => onTokenError(error, request))
  const execute = (with_: Token.Token) =>
    Effect.mapBoth(client.execute(withToken(request, with_)), {
      onFailure: (error) => scrubError(error, request),
      onSuccess: (response) => scrubResponse(response, request)
    })
  return Effect.flatMap(token(first), (sent) =>
    Effect.flatMap(execute(sent), (response) => {
      if (response.status !== 401 && response.status !== 403) return Effect.succeed(response)
      const wanted = insufficientScope(response.headers["www-authenticate"])
      if (wanted === undefined && response.status === 403) return Effect.succeed(response)
      if (!replayable(request)) {
        return wanted === undefined ? Effect.as(cache.invalidate(first, sent), response) : Effect.succeed(response)
      }
      if (wanted !== undefined) {
        const stepped: CacheRequest = { ...first, scope: union(first.scope, wanted) }
        // the token already had every scope asked: another step-up would ask for the same token
        if (stepped.scope === union(first.scope, [])) return Effect.succeed(response)
        return discard(response).pipe(Effect.zipRight(token(stepped)), Effect.flatMap(execute))
      }
      return discard(response).pipe(
        Effect.zipRight(cache.invalidate(first, sent)),
        Effect.zipRight(token(first)),
        Effect.flatMap(execute)
      )
    }))
}

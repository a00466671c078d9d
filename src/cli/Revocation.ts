/**
 * Token revocation (RFC 7009), for `tokenlayer logout`: the refresh token first (which ends the whole
 * login on most servers), then the access token, each a form POST authenticated as the token endpoint's
 * requests are. The endpoint is the profile's `revocationUrl`, or the `revocation_endpoint` of the
 * issuer's metadata (RFC 8414).
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as ClientAuth from "../ClientAuth.js"
import * as TokenEndpoint from "../internal/tokenEndpoint.js"
import type * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"

/**
 * Where and how to revoke.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly revocationUrl: string
  /** The token endpoint, for client assertions (their `aud`). */
  readonly tokenUrl: string
  readonly clientId: string
  readonly auth: ClientAuth.ClientAuth
}

/**
 * Revokes one token: `200` is success (RFC 7009 §2.2: also for a token the server does not know).
 *
 * @since 0.1.0
 * @category revocation
 */
export const revokeOne = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  token: Redacted.Redacted<string>,
  hint: "access_token" | "refresh_token"
): Effect.Effect<void, TokenError.HttpError> =>
  Effect.gen(function*() {
    const url = TokenEndpoint.displayUrl(endpoint.revocationUrl)
    const request = yield* TokenEndpoint.authenticated(
      endpoint.auth,
      { clientId: endpoint.clientId, tokenUrl: endpoint.tokenUrl },
      [["token", token], ["token_type_hint", hint]]
    )
    // the answer bounded and checked as every authorization server's answer is (a 3xx never followed)
    yield* TokenEndpoint.exchange(client, TokenEndpoint.toHttpRequest({ ...request, url: endpoint.revocationUrl }), url)
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () =>
        new TokenError.HttpError({
          reason: "Timeout",
          url: TokenEndpoint.displayUrl(endpoint.revocationUrl),
          detail: "no answer within 10s"
        })
    })
  )

/**
 * Revokes a token's refresh token (when it has one) and its access token. Returns how many were revoked.
 *
 * @since 0.1.0
 * @category revocation
 */
export const revoke = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  token: Token.Token
): Effect.Effect<number, TokenError.HttpError> =>
  Effect.gen(function*() {
    let count = 0
    if (token.refreshToken !== undefined) {
      yield* revokeOne(client, endpoint, token.refreshToken, "refresh_token")
      count++
    }
    yield* revokeOne(client, endpoint, token.accessToken, "access_token")
    return count + 1
  })

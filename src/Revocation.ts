/**
 * Token revocation (RFC 7009): tell the authorization server that a token is no longer needed, so
 * that it stops working before it expires. A form POST of `token` and `token_type_hint`, authenticated
 * as the client's token requests are (`ClientAuth`), its answer bounded and checked as every answer of
 * an authorization server is (no redirect followed, `MaxResponseSize`), secrets `Redacted` until they
 * are put on the wire.
 *
 * The endpoint is given (`revocationUrl`) or read from the issuer's metadata (`revocation_endpoint`,
 * RFC 8414): as for grants, one `issuer` or `Discovery` serves both.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Discovery from "./Discovery.js"
import type * as Grant from "./Grant.js"
import * as Endpoint from "./internal/endpoint.js"
import * as Exchange from "./internal/exchange.js"
import * as TokenEndpoint from "./internal/tokenEndpoint.js"
import { displayUrl } from "./internal/urls.js"
import type * as Token from "./Token.js"
import * as TokenError from "./TokenError.js"

/**
 * Where to revoke and who asks: the revocation endpoint (given, or from the issuer's metadata), the
 * client and how it authenticates (as in its grant: `clientSecret` for HTTP Basic, `clientAuth` for
 * any other method, neither for a public client).
 *
 * @since 0.1.0
 * @category models
 */
export type Options =
  & (
    | {
      readonly revocationUrl: string
      /** The token endpoint: the `aud` of JWT client assertions. Default: `revocationUrl`. */
      readonly tokenUrl?: string | undefined
      readonly issuer?: undefined
    }
    | {
      readonly issuer: string | Discovery.Discovery
      readonly revocationUrl?: undefined
      readonly tokenUrl?: undefined
    }
  )
  & Grant.ClientAuthOptions
  & {
    readonly clientId: string
    /** The longest one revocation request may take. Default: 10 seconds. */
    readonly timeout?: Duration.DurationInput | undefined
  }

/**
 * What a token is, as RFC 7009 §2.1's `token_type_hint` says.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenTypeHint = "access_token" | "refresh_token"

const revocationUrlOf = (endpoint: Endpoint.Endpoint): Effect.Effect<string, TokenError.HttpError> =>
  Effect.flatMap(endpoint.endpoints, (e) =>
    e.revocationEndpoint !== undefined
      ? Effect.succeed(e.revocationEndpoint)
      : Effect.fail(
        new TokenError.HttpError({
          reason: "Decode",
          ...(endpoint.issuer === undefined ? {} : { url: displayUrl(endpoint.issuer) }),
          detail: "the issuer's metadata names no revocation_endpoint (RFC 8414 §2): nothing was revoked"
        })
      ))

const endpointOf = (options: Options, client: HttpClient.HttpClient): Endpoint.Endpoint =>
  Endpoint.make(
    options.issuer === undefined
      ? { ...options, tokenUrl: options.tokenUrl ?? options.revocationUrl }
      : options,
    client
  )

const revokeWith = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint.Endpoint,
  timeout: Duration.Duration,
  token: Redacted.Redacted<string>,
  hint: TokenTypeHint | undefined
): Effect.Effect<void, TokenError.HttpError> =>
  Effect.gen(function*() {
    const endpoints = yield* endpoint.endpoints
    const revocationUrl = yield* revocationUrlOf(endpoint)
    const url = displayUrl(revocationUrl)
    const request = yield* TokenEndpoint.request(
      endpoint,
      endpoints.tokenEndpoint,
      hint === undefined ? [["token", token]] : [["token", token], ["token_type_hint", hint]],
      revocationUrl
    )
    yield* Exchange.exchange(Endpoint.httpClientOf(endpoint, client), Exchange.toHttpRequest(request), url).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new TokenError.HttpError({ reason: "Timeout", url, detail: `no answer within ${Duration.format(timeout)}` })
      })
    )
  })

/**
 * Revokes one token (RFC 7009 §2.1) over the `HttpClient` in context. A 200 is success, also for a
 * token the server does not know (RFC 7009 §2.2); anything else is an `HttpError` as a token request's
 * would be (`invalid_client`, a 503 with `Retry-After`, ...). A revocation URL that is not an http(s)
 * URL, or an empty client secret, fails before anything is sent. Not retried: wrap it in
 * `Effect.retry` if you want that.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Redacted } from "effect"
 * import { Revocation, TokenService } from "tokenlayer"
 *
 * const logout = Effect.gen(function*() {
 *   const token = yield* TokenService.current
 *   yield* Revocation.revoke({
 *     revocationUrl: "https://auth.example.com/oauth2/revoke",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make(process.env.CLIENT_SECRET ?? "")
 *   }, token.accessToken, "access_token")
 *   yield* TokenService.invalidate()
 * }).pipe(Effect.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category revocation
 */
export const revoke = (
  options: Options,
  token: Redacted.Redacted<string>,
  hint?: TokenTypeHint
): Effect.Effect<void, TokenError.HttpError, HttpClient.HttpClient> =>
  Effect.flatMap(
    HttpClient.HttpClient,
    (client) =>
      revokeWith(client, endpointOf(options, client), Duration.decode(options.timeout ?? "10 seconds"), token, hint)
  )

/**
 * Revokes a `Token`: its refresh token first, when it has one (which ends the whole login on most
 * servers), then its access token. Returns how many tokens were revoked (1 or 2). Stops at the first
 * failure.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Revocation, TokenService } from "tokenlayer"
 *
 * const logout = Effect.flatMap(
 *   TokenService.current,
 *   (token) => Revocation.revokeToken({ issuer: "https://auth.example.com", clientId: "my-cli" }, token)
 * )
 * ```
 *
 * @since 0.1.0
 * @category revocation
 */
export const revokeToken = (
  options: Options,
  token: Token.Token
): Effect.Effect<number, TokenError.HttpError, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (client) => {
    const endpoint = endpointOf(options, client)
    const timeout = Duration.decode(options.timeout ?? "10 seconds")
    return Effect.gen(function*() {
      if (token.refreshToken !== undefined) {
        yield* revokeWith(client, endpoint, timeout, token.refreshToken, "refresh_token")
      }
      yield* revokeWith(client, endpoint, timeout, token.accessToken, "access_token")
      return token.refreshToken === undefined ? 1 : 2
    })
  })

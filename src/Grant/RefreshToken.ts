/**
 * The refresh token grant (RFC 6749 §6): keeps a login alive by trading refresh tokens.
 *
 * It starts from `refreshToken` (from an earlier login); after that it trades the refresh token of the
 * current token (the token service gives it the newest it knows, even expired or only in the store).
 * Rotation is handled: a new `refresh_token` in the answer replaces the old one, which is never sent
 * again; an answer without one keeps the old one on the new token. A refresh token the server refuses
 * (`invalid_grant`: revoked, expired, replayed) fails the request at once, not retried:
 * `TokenError.isInvalidGrant(error)` says a new login is needed. With rotation, keep the tokens in a
 * store that outlives the process (`TokenStore.layerFile`): the starting refresh token is spent after
 * the first renewal.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Grant from "../Grant.js"
import * as Endpoint from "../internal/endpoint.js"
import { Grant as GrantTag, makeKey, requestKey, requestOverrides, scopeList } from "../internal/grant.js"
import type { Service } from "../internal/grant.js"
import * as GrantConfig from "../internal/grantConfig.js"
import * as RefreshTokens from "../internal/refreshTokenGrant.js"
import * as TokenEndpoint from "../internal/tokenEndpoint.js"
import { displayUrl } from "../internal/urls.js"
import * as TokenError from "../TokenError.js"

/**
 * What names the grant's tokens: the token URL (or issuer), the client and the scope. No secret.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyOptions = Grant.TokenEndpointOptions & {
  readonly clientId: string
  /** A narrower scope to ask for (RFC 6749 §6). Not sent when absent. */
  readonly scope?: string | ReadonlyArray<string> | undefined
}

/**
 * The options of the refresh token grant.
 *
 * @since 0.1.0
 * @category models
 */
export type Options =
  & KeyOptions
  & Grant.ClientAuthOptions
  & {
    /**
     * The refresh token to start from (from an earlier login). After that, the grant trades the current
     * token's refresh token, or the newest it received.
     */
    readonly refreshToken: Redacted.Redacted<string>
    /** More form parameters, sent as given. */
    readonly extraParams?: Readonly<Record<string, string>> | undefined
  }

/**
 * The options through `Config`: `ISSUER` or `TOKEN_URL`, `CLIENT_ID`, `REFRESH_TOKEN` (redacted), and
 * optionally `CLIENT_SECRET` (absent: a public client), `CLIENT_AUTH` (`basic` or `post`) and `SCOPE`.
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig: Config.Config<Options> = Config.zipWith(
  GrantConfig.common,
  GrantConfig.secret("REFRESH_TOKEN"),
  (common, refreshToken): Options => ({ ...common, refreshToken })
)

/**
 * The key a grant built from these options has, computed without building it (and without the refresh
 * token or the secret).
 *
 * @example
 * ```ts
 * import * as RefreshToken from "tokenlayer/Grant/RefreshToken"
 *
 * const key = RefreshToken.key({ issuer: "https://auth.example.com", clientId: "my-cli" })
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (options: KeyOptions): string =>
  makeKey("refresh_token", [
    ...Endpoint.keyParts(options),
    ["client", options.clientId],
    ["scope", scopeList(TokenEndpoint.scopeString(options.scope))]
  ])

const secrets = (options: Options) => ({ refreshToken: options.refreshToken })

/**
 * The grant as a value over the given client, built at once, without the checks of `make`: options that
 * `make` refuses fail every request instead, at once and without sending anything. Prefer `make` or
 * `layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: Options, client: HttpClient.HttpClient): Service => {
  const endpoint = Endpoint.make(options, client, undefined, secrets(options))
  const tracker = RefreshTokens.makeTracker(options.refreshToken)
  const send = RefreshTokens.trade(
    endpoint,
    client,
    TokenEndpoint.params([["scope", TokenEndpoint.scopeString(options.scope)]]).concat(
      Object.entries(options.extraParams ?? {})
    )
  )
  const base = key(options)
  const requestWith = (
    own: RefreshTokens.Tracker,
    sendWith: typeof send,
    missing: () => TokenError.HttpError
  ): Service["request"] =>
  (current) =>
    Effect.suspend(() => {
      const used = own.choose(current)
      return Option.isNone(used) ? Effect.fail(missing()) : RefreshTokens.tradeTracked(own, sendWith, used.value)
    })
  const baseParams = TokenEndpoint.params([["scope", TokenEndpoint.scopeString(options.scope)]]).concat(
    Object.entries(options.extraParams ?? {})
  )
  return {
    key: base,
    request: requestWith(tracker, send, () => RefreshTokens.noRefreshToken(options.tokenUrl)),
    // a user's tokens: their refresh token comes from the token held or stored under their key (put
    // there by `TokenCache.set` after their login), never from the grant's own or another user's
    forRequest: (request) => {
      const k = requestKey(base, request)
      const sendWith = RefreshTokens.trade(endpoint, client, requestOverrides(baseParams, request))
      if (request.subject === undefined) {
        return { key: k, request: requestWith(tracker, sendWith, () => RefreshTokens.noRefreshToken(options.tokenUrl)) }
      }
      const own = RefreshTokens.makeTracker(undefined)
      return {
        key: k,
        request: requestWith(own, sendWith, () =>
          new TokenError.HttpError({
            reason: "Status",
            error: "invalid_grant",
            ...(options.tokenUrl === undefined ? {} : { url: displayUrl(options.tokenUrl) }),
            detail:
              "no refresh token for this user: store their token with TokenCache.set after they log in (nothing was sent)"
          }))
      }
    }
  }
}

/**
 * The refresh token grant over the `HttpClient` in context; a `tokenUrl` or `issuer` that is not an
 * http(s) URL is a `ConfigError` naming it. An empty refresh token or secret fails the first request,
 * before anything is sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =
  Endpoint.checked<Options>(Endpoint.check, makeWith)

/**
 * The refresh token grant as a layer, over the `HttpClient` in context. Keep its tokens in a store
 * that outlives the process (`TokenStore.layerFile`) when the server rotates refresh tokens.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { TokenError, TokenService } from "tokenlayer"
 * import * as RefreshToken from "tokenlayer/Grant/RefreshToken"
 *
 * // a dead refresh token (revoked, expired, replayed) means a new login
 * const program = TokenService.get.pipe(
 *   Effect.catchIf(TokenError.isInvalidGrant, () => Effect.dieMessage("the refresh token is dead: log in again")),
 *   Effect.provide(TokenService.layer()),
 *   Effect.provide(RefreshToken.layer({
 *     issuer: "https://auth.example.com", // or tokenUrl: "https://auth.example.com/oauth/token"
 *     clientId: "my-cli",
 *     refreshToken: Redacted.make(process.env.REFRESH_TOKEN ?? "")
 *   }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, make(options))

/**
 * The refresh token grant, its options read through `Config` (by default `optionsConfig`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import * as RefreshToken from "tokenlayer/Grant/RefreshToken"
 *
 * // reads MYAPP_ISSUER (or MYAPP_TOKEN_URL), MYAPP_CLIENT_ID, MYAPP_REFRESH_TOKEN, ...
 * const MyApp = RefreshToken.layerConfig(Config.nested(RefreshToken.optionsConfig, "MYAPP")).pipe(
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = optionsConfig
): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, Effect.flatMap(config, make))

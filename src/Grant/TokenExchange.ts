/**
 * RFC 8693 token exchange: a token the workload holds (a Kubernetes service account token, a CI job's
 * OIDC token, a user's access token) traded for one for an API, with no long-lived secret. The subject
 * token (and, for delegation, the actor token) comes from a `TokenSource`, read before each exchange; a
 * token past its expiry is never sent (an `HttpError` naming the source). The exchanged token expires no
 * later than the subject and actor tokens it came from, when their expiry is known, and keeps the
 * server's `issued_token_type` (`Token.issuedTokenType`).
 *
 * It goes through the same funnel as the other grants: client authentication by any `ClientAuth` (or
 * none), retries, bounded and checked answers, typed `HttpError`s, redaction.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as ClientAuth from "../ClientAuth.js"
import type * as Grant from "../Grant.js"
import * as Endpoint from "../internal/endpoint.js"
import { Grant as GrantTag, makeKey, scopeList } from "../internal/grant.js"
import type { Service } from "../internal/grant.js"
import * as GrantConfig from "../internal/grantConfig.js"
import * as TokenEndpoint from "../internal/tokenEndpoint.js"
import * as Source from "../internal/tokenSource.js"
import * as Token from "../Token.js"
import type * as TokenError from "../TokenError.js"
import * as TokenSource from "../TokenSource.js"

/**
 * The `grant_type` of token exchange (RFC 8693 §2.1).
 *
 * @since 0.1.0
 * @category constants
 */
export const grantType = "urn:ietf:params:oauth:grant-type:token-exchange" as const

/**
 * What names an exchange's tokens: the server, the client, the sources' names (never their tokens),
 * the targets, the scope, the requested type, and `key`: more parts of your own (a user id when each
 * user's token is exchanged: the sources' names alone do not tell users apart).
 *
 * @since 0.1.0
 * @category models
 */
export type KeyOptions = Grant.TokenEndpointOptions & {
  readonly clientId?: string | undefined
  readonly subject: { readonly name: string }
  readonly actor?: { readonly name: string } | undefined
  readonly audience?: string | ReadonlyArray<string> | undefined
  readonly resource?: string | ReadonlyArray<string> | undefined
  readonly scope?: string | ReadonlyArray<string> | undefined
  readonly requestedTokenType?: string | undefined
  readonly key?: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | undefined
}

/**
 * The options of token exchange (RFC 8693 §2.1):
 *
 * - `tokenUrl` or `issuer`; `clientId` with `clientSecret` (HTTP Basic) or `clientAuth` (any method),
 *   or neither (no client authentication);
 * - `subject`: the `subject_token` and its `subject_token_type`, from a `TokenSource`;
 * - `actor`: the `actor_token` and `actor_token_type` (delegation), from a `TokenSource`;
 * - `audience`, `resource` (each repeatable: a list), `scope` (a string or a list),
 *   `requestedTokenType`;
 * - `extraParams`: more form parameters, sent as given;
 * - `key`: more parts of the key (see `KeyOptions`).
 *
 * @since 0.1.0
 * @category models
 */
export type Options = KeyOptions & Grant.ClientAuthOptions & {
  readonly subject: TokenSource.TokenSource
  readonly actor?: TokenSource.TokenSource | undefined
  readonly extraParams?: Readonly<Record<string, string>> | undefined
}

const list = (value: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> | undefined =>
  value === undefined ? undefined : typeof value === "string" ? [value] : value

/**
 * The key a grant built from these options has, computed without reading any source.
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (options: KeyOptions): string =>
  makeKey(grantType, [
    ...Endpoint.keyParts(options),
    ["client", options.clientId],
    ["subject", options.subject.name],
    ["actor", options.actor?.name],
    ["audience", list(options.audience)],
    ["resource", list(options.resource)],
    ["scope", scopeList(TokenEndpoint.scopeString(options.scope))],
    ["requested", options.requestedTokenType],
    ...Object.entries(options.key ?? {}).map(([name, value]) => [`key.${name}`, value] as const)
  ])

/** The token, expiring no later than `limit` (`expires_in` recomputed from when it was received). */
const capped = (token: Token.Token, limit: DateTime.Utc | undefined): Token.Token => {
  if (limit === undefined || (token.expiresAt !== undefined && !DateTime.greaterThan(token.expiresAt, limit))) {
    return token
  }
  return Token.make({
    ...token,
    expiresAt: limit,
    expiresIn: Math.max(0, Math.floor(DateTime.distance(token.issuedAt, limit) / 1000))
  })
}

const earliest = (a: DateTime.Utc | undefined, b: DateTime.Utc | undefined): DateTime.Utc | undefined =>
  a === undefined ? b : b === undefined ? a : DateTime.min(a, b)

/**
 * Token exchange as a value over the given client, without the checks of `make`: options that `make`
 * refuses fail every request instead, at once and without sending anything. Prefer `make` or `layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: Options, client: HttpClient.HttpClient): Service => {
  const endpoint = Endpoint.make(options, client)
  const fixed = TokenEndpoint.params([
    ["audience", list(options.audience)],
    ["resource", list(options.resource)],
    ["scope", TokenEndpoint.scopeString(options.scope)],
    ["requested_token_type", options.requestedTokenType]
  ]).concat(Object.entries(options.extraParams ?? {}))
  const request = (current: Option.Option<Token.Token>): Effect.Effect<Token.Token, TokenError.HttpError> =>
    Effect.gen(function*() {
      const subject = yield* Source.usable(options.subject, current)
      const actor = options.actor === undefined ? undefined : yield* Source.usable(options.actor, current)
      const params: Array<TokenEndpoint.Param> = [
        ["subject_token", subject.token],
        ["subject_token_type", subject.tokenType],
        ...(actor === undefined ? [] : [
          ["actor_token", actor.token] as const,
          ["actor_token_type", actor.tokenType] as const
        ]),
        ...fixed
      ]
      const token = yield* TokenEndpoint.grantRequest(client, endpoint, grantType, params)
      return capped(token, earliest(subject.expiresAt, actor?.expiresAt))
    })
  return { key: key(options), request }
}

/**
 * Token exchange over the `HttpClient` in context: a `ConfigError` naming `tokenUrl` or `issuer` when
 * it is not an http(s) URL. Nothing is read or sent here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =
  Endpoint.checked<Options>(Endpoint.check, makeWith)

/**
 * Token exchange as a layer, over the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { TokenService, TokenSource } from "tokenlayer"
 * import * as TokenExchange from "tokenlayer/Grant/TokenExchange"
 *
 * // a Kubernetes service account token traded for one for the billing API: no secret anywhere
 * const Billing = TokenService.layer().pipe(
 *   Layer.provide(TokenExchange.layer({
 *     tokenUrl: "https://sts.example.com/oauth2/token",
 *     subject: TokenSource.file("/var/run/secrets/tokens/sts-token"),
 *     audience: "billing"
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, make(options))

/**
 * The options through `Config`: `TOKEN_URL` or `ISSUER`; `SUBJECT_TOKEN_FILE` (a `TokenSource.file`)
 * with `SUBJECT_TOKEN_TYPE` (default `...:token-type:jwt`); optionally `CLIENT_ID` with
 * `CLIENT_SECRET` and `CLIENT_AUTH`, `AUDIENCE`, `RESOURCE`, `SCOPE` and `REQUESTED_TOKEN_TYPE`.
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  tokenUrl: GrantConfig.optional(GrantConfig.url("TOKEN_URL")),
  issuer: GrantConfig.optional(Config.nonEmptyString("ISSUER")),
  clientId: GrantConfig.optional(Config.nonEmptyString("CLIENT_ID")),
  clientSecret: GrantConfig.optional(GrantConfig.secret("CLIENT_SECRET")),
  clientAuth: GrantConfig.clientAuthMethod,
  subjectTokenFile: Config.nonEmptyString("SUBJECT_TOKEN_FILE"),
  subjectTokenType: Config.nonEmptyString("SUBJECT_TOKEN_TYPE").pipe(Config.withDefault(TokenSource.TokenType.jwt)),
  audience: GrantConfig.optional(Config.nonEmptyString("AUDIENCE")),
  resource: GrantConfig.optional(Config.nonEmptyString("RESOURCE")),
  scope: GrantConfig.optional(Config.string("SCOPE")),
  requestedTokenType: GrantConfig.optional(Config.nonEmptyString("REQUESTED_TOKEN_TYPE"))
}).pipe(
  Config.map((c): Options => {
    const common = {
      clientId: c.clientId,
      ...(c.clientId !== undefined && c.clientSecret !== undefined
        ? { clientAuth: ClientAuth.fromMethod(c.clientAuth, c.clientSecret) }
        : {}),
      subject: TokenSource.file(c.subjectTokenFile, { tokenType: c.subjectTokenType }),
      audience: c.audience,
      resource: c.resource,
      scope: c.scope,
      requestedTokenType: c.requestedTokenType
    }
    return c.issuer !== undefined ? { ...common, issuer: c.issuer } : { ...common, tokenUrl: c.tokenUrl ?? "" }
  })
)

/**
 * Token exchange, its options read through `Config` (by default `optionsConfig`).
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import * as TokenExchange from "tokenlayer/Grant/TokenExchange"
 *
 * // STS_TOKEN_URL, STS_SUBJECT_TOKEN_FILE, STS_AUDIENCE, ...
 * const Sts = TokenExchange.layerConfig(Config.nested(TokenExchange.optionsConfig, "STS"))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = optionsConfig
): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, Effect.flatMap(config, make))

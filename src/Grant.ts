/**
 * The grant strategy: how a new token is obtained.
 *
 * A grant is a small token source, as in golang.org/x/oauth2: `request(current)` asks the token endpoint
 * for one token, once. Caching, retries, refresh timing and stores are the `TokenService`'s business,
 * not the grant's. Its `key` (token URL, client id, scope, audience, resource) names its tokens in a
 * cache or a store, so tokens for different scopes never share an entry.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ClientAuth from "./ClientAuth.js"
import * as CustomGrant from "./internal/customGrant.js"
import * as DeviceCode from "./internal/deviceCode.js"
import * as InternalDiscovery from "./internal/discovery.js"
import * as GrantKey from "./internal/grantKey.js"
import * as JwtBearer from "./internal/jwtBearer.js"
import * as RefreshTokenGrant from "./internal/refreshTokenGrant.js"
import * as TokenEndpoint from "./internal/tokenEndpoint.js"
import type * as Token from "./Token.js"
import type * as TokenError from "./TokenError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Names this grant's tokens in caches and stores. Contains no secret. */
  readonly key: string
  /** Asks for a new token, once. `current` is the token held now, if any (a refresh token grant uses it). */
  readonly request: (current: Option.Option<Token.Token>) => Effect.Effect<Token.Token, TokenError.HttpError>
  /**
   * The request waits for a person (the device flow: minutes, not seconds). The token service gives it
   * no per-attempt timeout (it still retries transient failures); the grant bounds each of its own HTTP
   * exchanges instead. Default: false.
   */
  readonly interactive?: boolean | undefined
}

/**
 * The grant strategy service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Grant extends Context.Tag("tokenlayer/Grant")<Grant, Service>() {}

/**
 * The most bytes of an authorization server's answer that are read (token, device authorization and
 * metadata responses), decompressed size included: 1 MiB by default. A larger answer fails with an
 * `HttpError` of reason `Decode` ("response too large") and is never read whole. A `TokenService`
 * uses the value of the context it is built in.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Grant, TokenService } from "tokenlayer"
 *
 * // a server that sends large ID tokens along with its access tokens
 * const Tokens = TokenService.layer().pipe(Layer.provide(Layer.succeed(Grant.MaxResponseSize, 4 * 1024 * 1024)))
 * ```
 *
 * @since 0.1.0
 * @category references
 */
export { MaxResponseSize } from "./internal/tokenEndpoint.js"

/**
 * Builds the cache key of a grant from what distinguishes its tokens: `grant=<type>;name=value;...`,
 * lists sorted and space-separated, the structural characters of each value percent-encoded so that
 * different grants never share a key. Never pass a secret.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKey: (
  grantType: string,
  parts: ReadonlyArray<readonly [string, string | ReadonlyArray<string> | undefined]>
) => string = GrantKey.makeKey

/**
 * The options of the client credentials grant (RFC 6749 §4.4).
 *
 * Give `clientSecret` for HTTP Basic authentication (the default, RFC 6749 §2.3.1), or `clientAuth` for
 * any other method (`ClientAuth.post(secret)` for credentials in the form body). Give `tokenUrl`, or
 * `issuer` to take the token endpoint from the issuer's metadata (see `discover`).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientCredentialsOptions =
  & TokenEndpointOptions
  & {
    readonly clientId: string
    /** Space-separated scopes, or a list. Not sent when absent or empty. */
    readonly scope?: string | ReadonlyArray<string> | undefined
    /** `audience` (Auth0, Okta). Not sent when absent. */
    readonly audience?: string | undefined
    /** RFC 8707 `resource` indicators. Not sent when absent. */
    readonly resource?: string | ReadonlyArray<string> | undefined
    /** More form parameters, sent as given (an empty value too). Do not repeat the grant's own parameters. */
    readonly extraParams?: Readonly<Record<string, string>> | undefined
  }
  & (
    | { readonly clientSecret: Redacted.Redacted<string>; readonly clientAuth?: undefined }
    | { readonly clientAuth: ClientAuth.ClientAuth; readonly clientSecret?: undefined }
  )

/**
 * The client credentials grant as a value, over the given `HttpClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClientCredentials = (
  options: ClientCredentialsOptions,
  client: HttpClient.HttpClient
): Service => {
  const auth = options.clientAuth === undefined ? ClientAuth.basic(options.clientSecret) : options.clientAuth
  const scope = TokenEndpoint.scopeString(options.scope)
  const grantParams = TokenEndpoint.params([
    ["scope", scope],
    ["audience", options.audience],
    ["resource", options.resource]
  ]).concat(Object.entries(options.extraParams ?? {}))
  // the token URL as given, or from the issuer's metadata (see `discover`)
  const endpoints = InternalDiscovery.endpoints(options, client)
  return {
    key: makeKey("client_credentials", [
      ...endpoints.keyParts,
      ["client", options.clientId],
      ["scope", scope === undefined ? undefined : scope.split(/\s+/)],
      ["audience", options.audience],
      ["resource", options.resource]
    ]),
    request: () =>
      TokenEndpoint.grantRequest(
        client,
        { clientId: options.clientId, auth, tokenUrl: endpoints.tokenUrl },
        "client_credentials",
        grantParams
      )
  }
}

/**
 * The client credentials grant (RFC 6749 §4.4), the flow of ICEYE and ThingPark. Token requests go
 * over the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { ClientAuth, Grant } from "tokenlayer"
 *
 * // ICEYE: HTTP Basic client authentication
 * const Iceye = Grant.clientCredentials({
 *   tokenUrl: "https://auth.example.com/oauth2/token",
 *   clientId: "my-client",
 *   clientSecret: Redacted.make("my-secret")
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 *
 * // ThingPark: client_id and client_secret in the form body
 * const ThingPark = Grant.clientCredentials({
 *   tokenUrl: "https://platform.example.com/users-auth/protocol/openid-connect/token",
 *   clientId: "my-client",
 *   clientAuth: ClientAuth.post(Redacted.make("my-secret"))
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const clientCredentials = (
  options: ClientCredentialsOptions
): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  Layer.effect(Grant, Effect.map(HttpClient.HttpClient, (client) => makeClientCredentials(options, client)))

/** `CLIENT_AUTH`: a `ClientAuth.SecretMethod`, `basic` by default. */
const clientAuthMethodConfig: Config.Config<ClientAuth.SecretMethod> = Config.literal(
  "basic",
  "post",
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt"
)("CLIENT_AUTH").pipe(Config.withDefault("basic" as const))

/**
 * Reads the client credentials options through `Config`, the secret with `Config.redacted`.
 *
 * With the default names: `TOKEN_URL`, `CLIENT_ID`, `CLIENT_SECRET`, and optionally `SCOPE`,
 * `AUDIENCE`, `RESOURCE` and `CLIENT_AUTH` (`basic`, `post` or `client_secret_jwt`; default `basic`).
 * Nest them with `Config.nested("ICEYE")` to read `ICEYE_TOKEN_URL` and so on.
 *
 * @since 0.1.0
 * @category config
 */
export const clientCredentialsOptionsConfig: Config.Config<ClientCredentialsOptions> = Config.all({
  tokenUrl: Config.url("TOKEN_URL").pipe(Config.map((url) => url.toString())),
  clientId: Config.nonEmptyString("CLIENT_ID"),
  clientSecret: Config.redacted("CLIENT_SECRET"),
  clientAuth: clientAuthMethodConfig,
  scope: Config.option(Config.string("SCOPE")),
  audience: Config.option(Config.string("AUDIENCE")),
  resource: Config.option(Config.string("RESOURCE"))
}).pipe(
  Config.map((c): ClientCredentialsOptions => ({
    tokenUrl: c.tokenUrl,
    clientId: c.clientId,
    clientAuth: ClientAuth.fromMethod(c.clientAuth, c.clientSecret),
    scope: c.scope._tag === "Some" ? c.scope.value : undefined,
    audience: c.audience._tag === "Some" ? c.audience.value : undefined,
    resource: c.resource._tag === "Some" ? c.resource.value.split(/\s+/).filter((r) => r !== "") : undefined
  }))
)

/**
 * The client credentials grant, its options read through `Config` (see `clientCredentialsOptionsConfig`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { Grant } from "tokenlayer"
 *
 * // reads ICEYE_TOKEN_URL, ICEYE_CLIENT_ID, ICEYE_CLIENT_SECRET (and ICEYE_SCOPE, ...)
 * const Iceye = Grant.clientCredentialsConfig(Config.nested(Grant.clientCredentialsOptionsConfig, "ICEYE")).pipe(
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const clientCredentialsConfig = (
  config: Config.Config<ClientCredentialsOptions> = clientCredentialsOptionsConfig
): Layer.Layer<Grant, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    Grant,
    Effect.zipWith(config, HttpClient.HttpClient, (options, client) => makeClientCredentials(options, client))
  )

// -----------------------------------------------------------------------------
// client authentication and endpoints, for the grants below
// -----------------------------------------------------------------------------

/**
 * How a grant's client authenticates: `clientSecret` for HTTP Basic (RFC 6749 §2.3.1), `clientAuth` for
 * any other method, or neither for a public client (`ClientAuth.none`: `client_id` in the body, as
 * device-flow and command-line clients usually are).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAuthOptions =
  | { readonly clientSecret: Redacted.Redacted<string>; readonly clientAuth?: undefined }
  | { readonly clientAuth: ClientAuth.ClientAuth; readonly clientSecret?: undefined }
  | { readonly clientSecret?: undefined; readonly clientAuth?: undefined }

const clientAuthOf = (options: ClientAuthOptions): ClientAuth.ClientAuth =>
  options.clientAuth !== undefined
    ? options.clientAuth
    : options.clientSecret !== undefined
    ? ClientAuth.basic(options.clientSecret)
    : ClientAuth.none

/**
 * Where the token endpoint is: its URL, or the issuer whose metadata names it (see `discover`).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenEndpointOptions =
  | { readonly tokenUrl: string; readonly issuer?: undefined }
  | {
    /** The issuer (`https://auth.example.com/realms/x`), or a `Discovery` shared by several grants. */
    readonly issuer: string | Discovery
    readonly tokenUrl?: undefined
  }

// -----------------------------------------------------------------------------
// metadata discovery (RFC 8414, OpenID Connect Discovery 1.0)
// -----------------------------------------------------------------------------

/**
 * An authorization server's metadata (RFC 8414 §2): the endpoints tokenlayer uses, and the whole
 * document for the rest.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metadata {
  /** The issuer, equal to the one asked for (RFC 8414 §3.3: a document naming another is refused). */
  readonly issuer: string
  readonly tokenEndpoint: string
  /** RFC 8628 §4: where the device flow starts. */
  readonly deviceAuthorizationEndpoint?: string
  /** RFC 7009 token revocation. */
  readonly revocationEndpoint?: string
  readonly grantTypesSupported?: ReadonlyArray<string>
  readonly tokenEndpointAuthMethodsSupported?: ReadonlyArray<string>
  readonly scopesSupported?: ReadonlyArray<string>
  /** The document as the server sent it. */
  readonly document: Readonly<Record<string, unknown>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DiscoveryOptions {
  /** How long a fetched document is used before it is fetched again. Default: 1 hour. */
  readonly ttl?: Duration.DurationInput | undefined
  /**
   * Only this well-known document. Default: `oauth-authorization-server` (RFC 8414), then, when the
   * server has none, `openid-configuration` (OpenID Connect Discovery 1.0).
   */
  readonly wellKnown?: "oauth-authorization-server" | "openid-configuration" | undefined
}

/**
 * An issuer's metadata, cached: fetched on first use, then at most once per `ttl`, however many grants
 * and renewals use it. The cache is `Effect.cachedInvalidateWithTTL` (a failed fetch is dropped at once,
 * not kept for the TTL). Pass it as the `issuer` of several grants to share one document.
 *
 * @since 0.1.0
 * @category models
 */
export interface Discovery {
  readonly _tag: "Discovery"
  readonly issuer: string
  readonly ttl: Duration.Duration
  readonly metadata: Effect.Effect<Metadata, TokenError.HttpError>
}

/**
 * Fetches an issuer's metadata, once, over the `HttpClient` in context: RFC 8414's
 * `/.well-known/oauth-authorization-server`, then OpenID Connect's `/.well-known/openid-configuration`
 * when the server has no RFC 8414 document. The document must name the issuer asked for (RFC 8414
 * §3.3) and a token endpoint; every endpoint must be an http(s) URL. Anything else fails with an
 * `HttpError` (reason `Decode` for a bad document, not transient).
 *
 * Grants given an `issuer` do this themselves, and cache the document (see `Discovery`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Console, Effect } from "effect"
 * import { Grant } from "tokenlayer"
 *
 * const program = Grant.discover("https://auth.example.com/realms/iot").pipe(
 *   Effect.tap((metadata) => Console.log(metadata.tokenEndpoint, metadata.deviceAuthorizationEndpoint)),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category discovery
 */
export const discover = (
  issuer: string,
  options?: DiscoveryOptions
): Effect.Effect<Metadata, TokenError.HttpError, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (client) => InternalDiscovery.discover(issuer, client, options))

/**
 * An issuer's metadata as a cached `Discovery` over the given client, to pass as the `issuer` of grants.
 *
 * @since 0.1.0
 * @category discovery
 */
export const makeDiscovery: (issuer: string, client: HttpClient.HttpClient, options?: DiscoveryOptions) => Discovery =
  InternalDiscovery.make

/**
 * An issuer's metadata as a cached `Discovery` over the `HttpClient` in context. Grants given it as their
 * `issuer` share one document, fetched at most once per `ttl` (default 1 hour).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Grant } from "tokenlayer"
 *
 * // two grants of one issuer, one metadata document
 * const Grants = Layer.unwrapEffect(Effect.map(Grant.discovery("https://auth.example.com"), (issuer) =>
 *   Layer.mergeAll(
 *     Grant.refreshToken({ issuer, clientId: "cli", refreshToken: Redacted.make("from-an-earlier-login") })
 *   ))).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category discovery
 */
export const discovery = (
  issuer: string,
  options?: DiscoveryOptions
): Effect.Effect<Discovery, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => InternalDiscovery.make(issuer, client, options))

const optionalConfig = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/** `TOKEN_URL` or `ISSUER`; `CLIENT_ID`; `CLIENT_SECRET` (none: a public client) with `CLIENT_AUTH`; `SCOPE`. */
type CommonSettings = TokenEndpointOptions & ClientAuthOptions & {
  readonly clientId: string
  readonly scope?: string | undefined
}

const commonConfig: Config.Config<CommonSettings> = Config.all({
  tokenUrl: optionalConfig(Config.url("TOKEN_URL").pipe(Config.map((url) => url.toString()))),
  issuer: optionalConfig(Config.nonEmptyString("ISSUER")),
  clientId: Config.nonEmptyString("CLIENT_ID"),
  clientSecret: optionalConfig(Config.redacted("CLIENT_SECRET")),
  clientAuth: clientAuthMethodConfig,
  scope: optionalConfig(Config.string("SCOPE"))
}).pipe(
  Config.mapOrFail((c): Either.Either<CommonSettings, ConfigError.ConfigError> => {
    const auth = c.clientSecret === undefined ? {} : { clientAuth: ClientAuth.fromMethod(c.clientAuth, c.clientSecret) }
    const base = { clientId: c.clientId, ...auth, ...(c.scope === undefined ? {} : { scope: c.scope }) }
    if (c.issuer !== undefined) return Either.right({ ...base, issuer: c.issuer })
    if (c.tokenUrl !== undefined) return Either.right({ ...base, tokenUrl: c.tokenUrl })
    return Either.left(ConfigError.MissingData(["ISSUER"], "Expected ISSUER or TOKEN_URL to be set"))
  })
)

// -----------------------------------------------------------------------------
// refresh token grant (RFC 6749 §6)
// -----------------------------------------------------------------------------

/**
 * The options of the refresh token grant.
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshTokenOptions =
  & TokenEndpointOptions
  & ClientAuthOptions
  & {
    readonly clientId: string
    /**
     * The refresh token to start from (from an earlier login). After that, the grant trades the current
     * token's refresh token, or the newest it received.
     */
    readonly refreshToken: Redacted.Redacted<string>
    /** A narrower scope to ask for (RFC 6749 §6). Not sent when absent. */
    readonly scope?: string | ReadonlyArray<string> | undefined
    /** More form parameters, sent as given. */
    readonly extraParams?: Readonly<Record<string, string>> | undefined
  }

/**
 * The refresh token grant as a value, over the given `HttpClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRefreshToken = (options: RefreshTokenOptions, client: HttpClient.HttpClient): Service => {
  const scope = TokenEndpoint.scopeString(options.scope)
  const endpoints = InternalDiscovery.endpoints(options, client)
  const endpoint = { clientId: options.clientId, auth: clientAuthOf(options), tokenUrl: endpoints.tokenUrl }
  const tracker = RefreshTokenGrant.makeTracker(options.refreshToken)
  const send = RefreshTokenGrant.trade(
    endpoint,
    client,
    TokenEndpoint.params([["scope", scope]]).concat(Object.entries(options.extraParams ?? {}))
  )
  return {
    key: makeKey("refresh_token", [
      ...endpoints.keyParts,
      ["client", options.clientId],
      ["scope", scope === undefined ? undefined : scope.split(/\s+/)]
    ]),
    request: (current) =>
      Effect.suspend(() => {
        const used = tracker.choose(current)
        return Option.isNone(used)
          ? Effect.fail(RefreshTokenGrant.noRefreshToken(options.tokenUrl))
          : RefreshTokenGrant.tradeTracked(tracker, send, used.value)
      })
  }
}

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
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenError, TokenService, TokenStore } from "tokenlayer"
 *
 * const Tokens = TokenService.layer().pipe(
 *   Layer.provide(Grant.refreshToken({
 *     issuer: "https://auth.example.com", // or tokenUrl: "https://auth.example.com/oauth/token"
 *     clientId: "my-cli",
 *     refreshToken: Redacted.make(process.env.REFRESH_TOKEN ?? "")
 *   })),
 *   Layer.provide([RefreshPolicy.fraction(0.1), RetryPolicy.layerDefault, TokenStore.layerFile({ directory: ".tokens" })]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 *
 * const program = TokenService.get.pipe(
 *   Effect.catchIf(TokenError.isInvalidGrant, () => Effect.dieMessage("the refresh token is dead: log in again"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const refreshToken = (options: RefreshTokenOptions): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  Layer.effect(Grant, Effect.map(HttpClient.HttpClient, (client) => makeRefreshToken(options, client)))

/**
 * The refresh token grant's options through `Config`: `ISSUER` or `TOKEN_URL`, `CLIENT_ID`,
 * `REFRESH_TOKEN` (redacted), and optionally `CLIENT_SECRET` (absent: a public client), `CLIENT_AUTH`
 * (`basic` or `post`) and `SCOPE`.
 *
 * @since 0.1.0
 * @category config
 */
export const refreshTokenOptionsConfig: Config.Config<RefreshTokenOptions> = Config.zipWith(
  commonConfig,
  Config.redacted("REFRESH_TOKEN"),
  (common, refreshToken): RefreshTokenOptions => ({ ...common, refreshToken })
)

/**
 * The refresh token grant, its options read through `Config` (see `refreshTokenOptionsConfig`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { Grant } from "tokenlayer"
 *
 * // reads MYAPP_ISSUER (or MYAPP_TOKEN_URL), MYAPP_CLIENT_ID, MYAPP_REFRESH_TOKEN, ...
 * const MyApp = Grant.refreshTokenConfig(Config.nested(Grant.refreshTokenOptionsConfig, "MYAPP")).pipe(
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const refreshTokenConfig = (
  config: Config.Config<RefreshTokenOptions> = refreshTokenOptionsConfig
): Layer.Layer<Grant, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    Grant,
    Effect.zipWith(config, HttpClient.HttpClient, (options, client) => makeRefreshToken(options, client))
  )

// -----------------------------------------------------------------------------
// device authorization grant (RFC 8628)
// -----------------------------------------------------------------------------

/**
 * What the user needs to approve a device flow, as the prompt gets it (RFC 8628 §3.2, §3.3).
 *
 * @since 0.1.0
 * @category models
 */
export interface DeviceAuthorization {
  /** The code the user enters at `verificationUri`. Short-lived, meant to be shown. */
  readonly userCode: string
  readonly verificationUri: string
  /** The verification URI with the user code in it (for a link or a QR code), when the server sends one. */
  readonly verificationUriComplete?: string
  /** How long the code is valid, and until when (by the Clock): the flow gives up then. */
  readonly expiresIn: Duration.Duration
  readonly expiresAt: DateTime.Utc
  /** How often the token endpoint is polled (at first: `slow_down` adds 5 s). */
  readonly interval: Duration.Duration
}

/**
 * Where the device flow's endpoints are: both URLs, or the issuer whose metadata names them.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceEndpointOptions =
  | { readonly tokenUrl: string; readonly deviceAuthorizationUrl: string; readonly issuer?: undefined }
  | {
    readonly issuer: string | Discovery
    readonly tokenUrl?: undefined
    readonly deviceAuthorizationUrl?: undefined
  }

/**
 * The options of the device grant other than its prompt: what `deviceCodeOptionsConfig` reads.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceCodeSettings =
  & DeviceEndpointOptions
  & ClientAuthOptions
  & {
    readonly clientId: string
    /** Space-separated scopes, or a list (`offline_access` asks many servers for a refresh token). */
    readonly scope?: string | ReadonlyArray<string> | undefined
    /** `audience` (Auth0). Not sent when absent. */
    readonly audience?: string | undefined
    /** More form parameters for the device authorization request, sent as given. */
    readonly extraParams?: Readonly<Record<string, string>> | undefined
    /** A refresh token from an earlier login, tried before a device flow is started. */
    readonly refreshToken?: Redacted.Redacted<string> | undefined
    /** The polling interval when the server sends none. Default: 5 seconds (RFC 8628 §3.2). */
    readonly interval?: Duration.DurationInput | undefined
    /** The longest one HTTP exchange (a poll, a refresh) may take. Default: 10 seconds. */
    readonly httpTimeout?: Duration.DurationInput | undefined
  }

/**
 * The options of the device grant.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceCodeOptions = DeviceCodeSettings & {
  /**
   * Shows the user where to go and what code to enter. Called once per device flow, before polling
   * starts; the flow waits for the approval, not for the prompt's user.
   */
  readonly prompt: (authorization: DeviceAuthorization) => Effect.Effect<void>
}

/**
 * A prompt that prints the verification URI and the user code to the console.
 *
 * @since 0.1.0
 * @category prompts
 */
export const consolePrompt = (authorization: DeviceAuthorization): Effect.Effect<void> =>
  Console.log(
    [
      `To sign in, open ${authorization.verificationUri} and enter the code ${authorization.userCode}`,
      ...(authorization.verificationUriComplete === undefined
        ? []
        : [`(or open ${authorization.verificationUriComplete})`]),
      `The code expires in ${Duration.format(authorization.expiresIn)}.`
    ].join("\n")
  )

/**
 * The device grant as a value, over the given `HttpClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDeviceCode = (options: DeviceCodeOptions, client: HttpClient.HttpClient): Service => {
  const scope = TokenEndpoint.scopeString(options.scope)
  const endpoints = InternalDiscovery.endpoints(options, client)
  const resolved: DeviceCode.Resolved = {
    endpoint: { clientId: options.clientId, auth: clientAuthOf(options), tokenUrl: endpoints.tokenUrl },
    deviceAuthorizationUrl: endpoints.deviceAuthorizationUrl,
    authorizationParams: TokenEndpoint.params([["scope", scope], ["audience", options.audience]]).concat(
      Object.entries(options.extraParams ?? {})
    ),
    prompt: options.prompt,
    interval: Duration.decode(options.interval ?? "5 seconds"),
    httpTimeout: Duration.decode(options.httpTimeout ?? "10 seconds"),
    tracker: RefreshTokenGrant.makeTracker(options.refreshToken)
  }
  return {
    key: makeKey("device_code", [
      ...endpoints.keyParts,
      ["client", options.clientId],
      ["scope", scope === undefined ? undefined : scope.split(/\s+/)],
      ["audience", options.audience]
    ]),
    interactive: true,
    request: DeviceCode.request(resolved, client)
  }
}

/**
 * The device authorization grant (RFC 8628), seed 004's re-authentication: the user approves on another
 * device, and the token is kept alive by its refresh token.
 *
 * A token request trades the current token's refresh token when it has one. When it has none, or the
 * server refuses it (`invalid_grant`), the device flow runs: a code from the device authorization
 * endpoint, handed to your `prompt` (`userCode`, `verificationUri`, `verificationUriComplete`), then the
 * token endpoint polled every `interval` (the server's, else 5 s; 5 s more after `slow_down`; longer
 * after a transient failure) until the user approves. A denial fails with `access_denied`
 * (`TokenError.isAccessDenied`), a code that runs out with `expired_token` (`TokenError.isExpiredToken`);
 * neither is retried. All waits are `Effect.sleep`: `TestClock` drives them in tests.
 *
 * The grant is `interactive`: the token service gives it no per-attempt timeout (a login takes
 * minutes); each HTTP exchange has its own (`httpTimeout`, 10 s). `get` waits for the login while
 * there is no valid token; with `TokenService.layer({ refreshAhead: true })` a token that is due but
 * still valid keeps being served while a renewal (or a new login) goes on in the background. With
 * `TokenStore.layerFile`, a restart goes on with the saved refresh token instead of asking the user
 * again.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
 *
 * const Tokens = TokenService.layer().pipe(
 *   Layer.provide(Grant.deviceCode({
 *     issuer: "https://auth.example.com", // its metadata names both endpoints
 *     clientId: "my-cli", // a public client: no secret
 *     scope: "openid offline_access",
 *     prompt: Grant.consolePrompt
 *   })),
 *   Layer.provide([RefreshPolicy.fraction(0.1), RetryPolicy.layerDefault, TokenStore.layerFile({ directory: ".tokens" })]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const deviceCode = (options: DeviceCodeOptions): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  Layer.effect(Grant, Effect.map(HttpClient.HttpClient, (client) => makeDeviceCode(options, client)))

/**
 * The device grant's options other than the prompt, through `Config`: `ISSUER`, or `TOKEN_URL` and
 * `DEVICE_AUTHORIZATION_URL`; `CLIENT_ID`; and optionally `CLIENT_SECRET` (absent: a public client),
 * `CLIENT_AUTH`, `SCOPE`, `AUDIENCE`.
 *
 * @since 0.1.0
 * @category config
 */
export const deviceCodeOptionsConfig: Config.Config<DeviceCodeSettings> = Config.zipWith(
  commonConfig,
  Config.all({
    deviceAuthorizationUrl: optionalConfig(
      Config.url("DEVICE_AUTHORIZATION_URL").pipe(Config.map((url) => url.toString()))
    ),
    audience: optionalConfig(Config.string("AUDIENCE"))
  }),
  (common, c) => ({ common, ...c })
).pipe(
  Config.mapOrFail(({ audience, common, deviceAuthorizationUrl }): Either.Either<
    DeviceCodeSettings,
    ConfigError.ConfigError
  > => {
    const extra = audience === undefined ? {} : { audience }
    if (common.issuer !== undefined) return Either.right({ ...common, ...extra })
    if (deviceAuthorizationUrl === undefined) {
      return Either.left(
        ConfigError.MissingData(["DEVICE_AUTHORIZATION_URL"], "Expected ISSUER or DEVICE_AUTHORIZATION_URL to be set")
      )
    }
    return Either.right({ ...common, ...extra, deviceAuthorizationUrl })
  })
)

/**
 * The device grant, its options read through `Config` (see `deviceCodeOptionsConfig`), with your prompt.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { Grant } from "tokenlayer"
 *
 * // reads MYAPP_ISSUER, MYAPP_CLIENT_ID, MYAPP_SCOPE, ...
 * const MyApp = Grant.deviceCodeConfig(Grant.consolePrompt, Config.nested(Grant.deviceCodeOptionsConfig, "MYAPP"))
 *   .pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const deviceCodeConfig = (
  prompt: (authorization: DeviceAuthorization) => Effect.Effect<void>,
  config: Config.Config<DeviceCodeSettings> = deviceCodeOptionsConfig
): Layer.Layer<Grant, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    Grant,
    Effect.zipWith(config, HttpClient.HttpClient, (settings, client) => makeDeviceCode({ ...settings, prompt }, client))
  )

// -----------------------------------------------------------------------------
// JWT bearer grant (RFC 7523 §2.1)
// -----------------------------------------------------------------------------

/**
 * The options of the JWT bearer grant: where to ask (`tokenUrl`), what the assertion says (`issuer`,
 * optional `subject`, `audience` (default: the token URL), `keyId`, `lifetime` (default 1 hour), `jti`
 * (default on), more `claims`), and how it is signed: a `secret` (HS256, or `alg` HS384 / HS512) or a
 * `privateKey` (RS256, ES256, ...: see `ClientAuth.PrivateKey`). Optionally `scope`, `extraParams`,
 * and `clientId` with `clientAuth` for a server that also wants the client to authenticate.
 *
 * @since 0.1.0
 * @category models
 */
export type JwtBearerOptions = JwtBearer.Options

/**
 * The JWT bearer grant as a value, over the given `HttpClient`. Fails with a `KeyError` when the key
 * cannot sign (a bad PEM, a key that does not fit `alg`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeJwtBearer = (
  options: JwtBearerOptions,
  client: HttpClient.HttpClient
): Effect.Effect<Service, TokenError.KeyError> =>
  JwtBearer.make(options, client, makeKey(JwtBearer.grantType, JwtBearer.keyParts(options)))

/**
 * The JWT bearer grant (RFC 7523 §2.1), the flow of Disruptive Technologies' service accounts: every
 * token request carries a new assertion, a JWT with header `alg` and `kid`, claims `iss`, `sub` (when
 * given), `aud` (default: the token URL), `iat` (now, by the `Clock`), `exp` (`iat` + `lifetime`,
 * default 1 hour) and a random `jti`, sent as
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=...`.
 *
 * The key is read, and one trial assertion signed, when the layer is built: a key that cannot sign fails
 * the layer with a `KeyError` (never showing the key), not a token request.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant } from "tokenlayer"
 *
 * // Disruptive Technologies: a service account's key id, email and secret
 * const DT = Grant.jwtBearer({
 *   tokenUrl: "https://identity.disruptive-technologies.com/oauth2/token",
 *   keyId: "my-key-id",
 *   issuer: "my-account@my-project.serviceaccount.d21s.com",
 *   secret: Redacted.make("my-secret")
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const jwtBearer = (
  options: JwtBearerOptions
): Layer.Layer<Grant, TokenError.KeyError, HttpClient.HttpClient> =>
  Layer.effect(Grant, Effect.flatMap(HttpClient.HttpClient, (client) => makeJwtBearer(options, client)))

/**
 * Reads the JWT bearer options through `Config`: `TOKEN_URL`, `ISSUER`, `KEY_ID` (optional), and
 * `SECRET` (HMAC) or `PRIVATE_KEY` (a PEM), both with `Config.redacted`; optionally `ALG`, `SUBJECT`,
 * `AUDIENCE` and `SCOPE`. Nest them with `Config.nested("X")` to read `X_TOKEN_URL` and so on, or build
 * the options from names of your own with `Config.all` (see `jwtBearerConfig`).
 *
 * @since 0.1.0
 * @category config
 */
export const jwtBearerOptionsConfig: Config.Config<JwtBearerOptions> = JwtBearer.optionsConfig

/**
 * The JWT bearer grant, its options read through `Config` (by default `jwtBearerOptionsConfig`). Fails
 * with a `ConfigError` when a setting is missing, and a `KeyError` when the key cannot sign.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { Grant } from "tokenlayer"
 *
 * // Disruptive Technologies' variables, as in their guide
 * const DT = Grant.jwtBearerConfig(Config.all({
 *   tokenUrl: Config.succeed("https://identity.disruptive-technologies.com/oauth2/token"),
 *   keyId: Config.string("DT_SERVICE_ACCOUNT_KEY_ID"),
 *   issuer: Config.string("DT_SERVICE_ACCOUNT_EMAIL"),
 *   secret: Config.redacted("DT_SERVICE_ACCOUNT_SECRET")
 * })).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const jwtBearerConfig = (
  config: Config.Config<JwtBearerOptions> = jwtBearerOptionsConfig
): Layer.Layer<Grant, ConfigError.ConfigError | TokenError.KeyError, HttpClient.HttpClient> =>
  Layer.effect(
    Grant,
    Effect.flatMap(Effect.zip(config, HttpClient.HttpClient), ([options, client]) => makeJwtBearer(options, client))
  )

// -----------------------------------------------------------------------------
// any other grant
// -----------------------------------------------------------------------------

/**
 * Form parameters of a custom grant, by name: a value, a list (the parameter repeated), or a
 * `Redacted` secret (sent, never logged, never part of the key). Absent and empty values are not sent.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomParams = CustomGrant.Params

/**
 * The options of a grant tokenlayer does not ship (`Grant.custom`).
 *
 * - `grantType`: the `grant_type` sent (`urn:ietf:params:oauth:grant-type:token-exchange`, a vendor's).
 * - `tokenUrl` or `issuer`, as for every grant.
 * - `clientId` with `clientSecret` (HTTP Basic) or `clientAuth` (any method), or `clientId` alone (a
 *   public client: its id in the form). Without `clientId` no client credentials are sent.
 * - `params`: the grant's own parameters, fixed, or an effect computing them for each request from the
 *   token held now (a subject token read from a file, a refresh token to trade).
 * - `key`: what tells this grant's tokens apart besides the grant type, the URL and the client (an
 *   audience, a subject); never a secret. By default, the fixed parameters that are not `Redacted`
 *   (as `param.<name>`); give `key` when `params` is a function.
 * - `interactive`: the request waits for a person (no per-attempt timeout).
 *
 * @since 0.1.0
 * @category models
 */
export type CustomOptions = CustomGrant.Options

/**
 * A custom grant as a value, over the given `HttpClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCustom: (options: CustomOptions, client: HttpClient.HttpClient) => Service = CustomGrant.make

/**
 * A grant tokenlayer does not ship, in a few lines: its `grant_type` and form parameters. It goes through
 * the same funnel as the built-in grants, so retries, `Retry-After`, the refresh policy, the stores,
 * bounded and checked answers, typed `HttpError`s and redaction come with it.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, TokenService } from "tokenlayer"
 *
 * // RFC 8693 token exchange: a workload's token traded for one for the billing API
 * const Exchanged = TokenService.layer().pipe(
 *   Layer.provide(Grant.custom({
 *     grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "gateway",
 *     clientSecret: Redacted.make(process.env.GATEWAY_SECRET ?? ""),
 *     params: {
 *       subject_token: Redacted.make(process.env.WORKLOAD_TOKEN ?? ""),
 *       subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
 *       audience: "billing"
 *     },
 *     key: { audience: "billing" }
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const custom = (options: CustomOptions): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  Layer.effect(Grant, Effect.map(HttpClient.HttpClient, (client) => makeCustom(options, client)))

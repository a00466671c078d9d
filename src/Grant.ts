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
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ClientAuth from "./ClientAuth.js"
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
 * Percent-encodes the characters that give a key its structure (`%`, `;`, `=`, space), so that values
 * containing them (a scope token may contain `;` and `=`) cannot make two different grants share a key.
 */
const keyValue = (value: string): string =>
  value.replace(/[%;= ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)

/**
 * Builds the cache key of a grant from what distinguishes its tokens: `grant=<type>;name=value;...`,
 * lists sorted and space-separated, the structural characters of each value percent-encoded so that
 * different grants never share a key. Never pass a secret.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKey = (
  grantType: string,
  parts: ReadonlyArray<readonly [string, string | ReadonlyArray<string> | undefined]>
): string => {
  const fields = [`grant=${keyValue(grantType)}`]
  for (const [name, value] of parts) {
    if (value === undefined) continue
    const text = typeof value === "string"
      ? keyValue(value)
      : value.filter((v) => v !== "").map(keyValue).sort().join(" ")
    if (text !== "") fields.push(`${name}=${text}`)
  }
  return fields.join(";")
}

/**
 * The options of the client credentials grant (RFC 6749 §4.4).
 *
 * Give `clientSecret` for HTTP Basic authentication (the default, RFC 6749 §2.3.1), or `clientAuth` for
 * any other method (`ClientAuth.post(secret)` for credentials in the form body).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientCredentialsOptions =
  & {
    readonly tokenUrl: string
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

const scopeString = (scope: string | ReadonlyArray<string> | undefined): string | undefined =>
  scope === undefined ? undefined : typeof scope === "string" ? scope.trim() : scope.join(" ").trim()

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
  const scope = scopeString(options.scope)
  const grantParams = TokenEndpoint.params([
    ["grant_type", "client_credentials"],
    ["scope", scope],
    ["audience", options.audience],
    ["resource", options.resource]
  ]).concat(Object.entries(options.extraParams ?? {}))
  const context = { clientId: options.clientId, tokenUrl: options.tokenUrl }
  return {
    key: makeKey("client_credentials", [
      ["url", options.tokenUrl],
      ["client", options.clientId],
      ["scope", scope === undefined ? undefined : scope.split(/\s+/)],
      ["audience", options.audience],
      ["resource", options.resource]
    ]),
    request: () =>
      Effect.flatMap(
        TokenEndpoint.authenticated(auth, context, grantParams),
        (request) => TokenEndpoint.sendWith(client, request)
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

/**
 * Reads the client credentials options through `Config`, the secret with `Config.redacted`.
 *
 * With the default names: `TOKEN_URL`, `CLIENT_ID`, `CLIENT_SECRET`, and optionally `SCOPE`,
 * `AUDIENCE`, `RESOURCE` and `CLIENT_AUTH` (`basic` or `post`; default `basic`). Nest them with
 * `Config.nested("ICEYE")` to read `ICEYE_TOKEN_URL` and so on.
 *
 * @since 0.1.0
 * @category config
 */
export const clientCredentialsOptionsConfig: Config.Config<ClientCredentialsOptions> = Config.all({
  tokenUrl: Config.url("TOKEN_URL").pipe(Config.map((url) => url.toString())),
  clientId: Config.nonEmptyString("CLIENT_ID"),
  clientSecret: Config.redacted("CLIENT_SECRET"),
  clientAuth: Config.literal("basic", "post", "client_secret_basic", "client_secret_post")("CLIENT_AUTH").pipe(
    Config.withDefault("basic" as const)
  ),
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

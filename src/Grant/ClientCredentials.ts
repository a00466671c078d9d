/**
 * The client credentials grant (RFC 6749 §4.4), the flow of ICEYE and ThingPark: a client that acts
 * on its own behalf trades its credentials for a token.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { TokenService } from "tokenlayer"
 * import * as ClientCredentials from "tokenlayer/Grant/ClientCredentials"
 *
 * const Tokens = TokenService.layer().pipe(
 *   Layer.provide(ClientCredentials.layer({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make("my-secret")
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as ClientAuth from "../ClientAuth.js"
import type * as Grant from "../Grant.js"
import * as Endpoint from "../internal/endpoint.js"
import { Grant as GrantTag, makeKey, refusing, requestKey, requestOverrides, scopeList } from "../internal/grant.js"
import type { Service } from "../internal/grant.js"
import * as GrantConfig from "../internal/grantConfig.js"
import * as TokenEndpoint from "../internal/tokenEndpoint.js"

/**
 * What names the grant's tokens: the token URL (or issuer), the client, the scope, the audience and
 * the resources. No secret: `key` takes these fields only.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyOptions = Grant.TokenEndpointOptions & {
  readonly clientId: string
  /** Space-separated scopes, or a list. Not sent when absent or empty. */
  readonly scope?: string | ReadonlyArray<string> | undefined
  /** `audience` (Auth0, Okta). Not sent when absent. */
  readonly audience?: string | undefined
  /** RFC 8707 `resource` indicators. Not sent when absent. */
  readonly resource?: string | ReadonlyArray<string> | undefined
}

/**
 * The options of the client credentials grant.
 *
 * Give `clientSecret` for HTTP Basic authentication (the default, RFC 6749 §2.3.1), or `clientAuth` for
 * any other method (`ClientAuth.post(secret)` for credentials in the form body). Give `tokenUrl`, or
 * `issuer` to take the token endpoint from the issuer's metadata (see `Discovery`).
 *
 * @since 0.1.0
 * @category models
 */
export type Options =
  & KeyOptions
  & {
    /** More form parameters, sent as given (an empty value too). Do not repeat the grant's own parameters. */
    readonly extraParams?: Readonly<Record<string, string>> | undefined
  }
  & (
    | { readonly clientSecret: Redacted.Redacted<string>; readonly clientAuth?: undefined }
    | { readonly clientAuth: ClientAuth.ClientAuth; readonly clientSecret?: undefined }
  )

/**
 * The key a grant built from these options has (`grant=client_credentials;url=...;client=...`), computed
 * without building it: for a program that looks a token up in a store, or removes it, without the
 * secret.
 *
 * @example
 * ```ts
 * import * as ClientCredentials from "tokenlayer/Grant/ClientCredentials"
 *
 * const key = ClientCredentials.key({ tokenUrl: "https://auth.example.com/oauth2/token", clientId: "my-client" })
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (options: KeyOptions): string => {
  const scope = TokenEndpoint.scopeString(options.scope)
  return makeKey("client_credentials", [
    ...Endpoint.keyParts(options),
    ["client", options.clientId],
    ["scope", scopeList(scope)],
    ["audience", options.audience],
    ["resource", options.resource]
  ])
}

/**
 * The grant as a value over the given client, built at once, without the checks of `make`: options that
 * `make` refuses (a token URL that is not an http(s) URL) fail every request instead, at once and
 * without sending anything. Prefer `make` or `layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: Options, client: HttpClient.HttpClient): Service => {
  const scope = TokenEndpoint.scopeString(options.scope)
  const params = TokenEndpoint.params([
    ["scope", scope],
    ["audience", options.audience],
    ["resource", options.resource]
  ]).concat(Object.entries(options.extraParams ?? {}))
  const endpoint = Endpoint.make(options, client)
  const base = key(options)
  return {
    key: base,
    request: () => TokenEndpoint.grantRequest(client, endpoint, "client_credentials", params),
    // another scope, audience or resources, more parameters; a client acts for itself, not for a user
    forRequest: (request) => {
      const k = requestKey(base, request)
      if (request.subject !== undefined) {
        return refusing(k, "a client credentials grant asks for the client's own tokens, not a user's (subject)")
      }
      const own = requestOverrides(params, request)
      return { key: k, request: () => TokenEndpoint.grantRequest(client, endpoint, "client_credentials", own) }
    }
  }
}

/**
 * The grant as a value over the `HttpClient` in context. Fails with a `ConfigError` naming the option
 * when a `tokenUrl` (or `issuer`) is not an http(s) URL. An empty client secret
 * (`Redacted.make(process.env.X ?? "")` with `X` unset) fails the first request instead, before
 * anything is sent, with an error that names `clientSecret`. Nothing is sent here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =
  Endpoint.checked<Options>(Endpoint.check, makeWith)

/**
 * The client credentials grant as a layer; token requests go over the `HttpClient` in context. The
 * layer fails with a `ConfigError` when a URL option cannot work (see `make`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { ClientAuth } from "tokenlayer"
 * import * as ClientCredentials from "tokenlayer/Grant/ClientCredentials"
 *
 * // ICEYE: HTTP Basic client authentication
 * const Iceye = ClientCredentials.layer({
 *   tokenUrl: "https://auth.example.com/oauth2/token",
 *   clientId: "my-client",
 *   clientSecret: Redacted.make("my-secret")
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 *
 * // ThingPark: client_id and client_secret in the form body
 * const ThingPark = ClientCredentials.layer({
 *   tokenUrl: "https://platform.example.com/users-auth/protocol/openid-connect/token",
 *   clientId: "my-client",
 *   clientAuth: ClientAuth.post(Redacted.make("my-secret"))
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, make(options))

/**
 * The options read through `Config`, the secret with `Config.redacted`: `TOKEN_URL`, `CLIENT_ID`,
 * `CLIENT_SECRET`, and optionally `SCOPE`, `AUDIENCE`, `RESOURCE` and `CLIENT_AUTH` (`basic`, `post` or
 * `client_secret_jwt`; default `basic`). Nest them with `Config.nested("ICEYE")` to read
 * `ICEYE_TOKEN_URL` and so on.
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  tokenUrl: GrantConfig.url("TOKEN_URL"),
  clientId: Config.nonEmptyString("CLIENT_ID"),
  clientSecret: GrantConfig.secret("CLIENT_SECRET"),
  clientAuth: GrantConfig.clientAuthMethod,
  scope: GrantConfig.optional(Config.string("SCOPE")),
  audience: GrantConfig.optional(Config.string("AUDIENCE")),
  resource: GrantConfig.optional(Config.string("RESOURCE"))
}).pipe(
  Config.map((c): Options => ({
    tokenUrl: c.tokenUrl,
    clientId: c.clientId,
    clientAuth: ClientAuth.fromMethod(c.clientAuth, c.clientSecret),
    scope: c.scope,
    audience: c.audience,
    resource: c.resource === undefined ? undefined : c.resource.split(/\s+/).filter((r) => r !== "")
  }))
)

/**
 * The client credentials grant, its options read through `Config` (by default `optionsConfig`). Fails
 * with a `ConfigError` when a setting is missing or cannot work.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import * as ClientCredentials from "tokenlayer/Grant/ClientCredentials"
 *
 * // reads ICEYE_TOKEN_URL, ICEYE_CLIENT_ID, ICEYE_CLIENT_SECRET (and ICEYE_SCOPE, ...)
 * const Iceye = ClientCredentials.layerConfig(Config.nested(ClientCredentials.optionsConfig, "ICEYE")).pipe(
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

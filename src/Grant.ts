/**
 * The grant strategy: how a new token is obtained.
 *
 * A grant is a small token source, as in golang.org/x/oauth2: `request(current)` asks the token endpoint
 * for one token, once. Caching, retries, refresh timing and stores are the `TokenService`'s business,
 * not the grant's. Its `key` (token URL, client id, scope, audience, resource) names its tokens in a
 * cache or a store, so tokens for different scopes never share an entry.
 *
 * This module holds the Tag, the `Service`, the key and the option types every grant shares; each
 * grant has a module of its own (`tokenlayer/Grant/ClientCredentials`, `RefreshToken`, `DeviceCode`,
 * `JwtBearer`, `Custom`, also here as `Grant.ClientCredentials` and so on), each with `Options`, `key`,
 * `make`, `layer` and `layerConfig`. The names below (`Grant.clientCredentials`, `Grant.jwtBearerConfig`,
 * ...) are those modules' values under their first names.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as ClientAuth from "./ClientAuth.js"
import * as DiscoveryModule from "./Discovery.js"
import * as ClientCredentials from "./Grant/ClientCredentials.js"
import * as Custom from "./Grant/Custom.js"
import * as DeviceCode from "./Grant/DeviceCode.js"
import * as JwtBearer from "./Grant/JwtBearer.js"
import * as RefreshToken from "./Grant/RefreshToken.js"
import * as internal from "./internal/grant.js"
import * as Urls from "./internal/urls.js"
import type * as TokenError from "./TokenError.js"

/**
 * The grant modules, for `Grant.ClientCredentials.layer(...)` from `tokenlayer` (or import
 * `tokenlayer/Grant/ClientCredentials` and the others directly).
 *
 * @since 0.1.0
 */
export {
  /** @since 0.1.0 */
  ClientCredentials,
  /** @since 0.1.0 */
  Custom,
  /** @since 0.1.0 */
  DeviceCode,
  /** @since 0.1.0 */
  JwtBearer,
  /** @since 0.1.0 */
  RefreshToken
}

/**
 * What a grant is: a key and a request.
 *
 * @since 0.1.0
 * @category models
 */
export type Service = internal.Service

/**
 * The grant strategy service.
 *
 * @since 0.1.0
 * @category tags
 */
export const Grant: typeof internal.Grant = internal.Grant

/**
 * @since 0.1.0
 * @category tags
 */
export type Grant = internal.Grant

/**
 * The most bytes of an authorization server's answer that are read (token, device authorization,
 * revocation and metadata responses), decompressed size included: 1 MiB by default. A larger answer
 * fails with an `HttpError` of reason `Decode` ("response too large") and is never read whole. A
 * `TokenService` uses the value of the context it is built in.
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
export { MaxResponseSize } from "./internal/exchange.js"

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
) => string = internal.makeKey

/**
 * A URL as tokenlayer's errors and logs show it: without user, password, query or fragment, which may
 * hold secrets (`"(invalid URL)"` for a text that is not a URL).
 *
 * @example
 * ```ts
 * import { Grant } from "tokenlayer"
 *
 * Grant.displayUrl("https://user:pw@auth.example.com/token?key=s3cret") // "https://auth.example.com/token"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const displayUrl: (url: string) => string = Urls.displayUrl

// -----------------------------------------------------------------------------
// shared option types
// -----------------------------------------------------------------------------

/**
 * Where the token endpoint is: its URL, or the issuer whose metadata names it (see `Discovery`).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenEndpointOptions =
  | { readonly tokenUrl: string; readonly issuer?: undefined }
  | {
    /** The issuer (`https://auth.example.com/realms/x`), or a `Discovery` shared by several grants. */
    readonly issuer: string | DiscoveryModule.Discovery
    readonly tokenUrl?: undefined
  }

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

/**
 * A grant layer under its first name: options the new layer refuses with a `ConfigError` (a token URL
 * that is not an http(s) URL, an empty secret) fail the layer as a defect carrying that `ConfigError`,
 * so that its type stays what it was (`Layer<Grant, never, HttpClient>`). The modules' own `layer`s
 * (`ClientCredentials.layer`, ...) keep the `ConfigError` typed.
 */
const dieOnConfigError = <E, R>(
  layer: Layer.Layer<Grant, ConfigError.ConfigError | E, R>
): Layer.Layer<Grant, Exclude<E, ConfigError.ConfigError>, R> =>
  Layer.catchAll(
    layer,
    (error) =>
      ConfigError.isConfigError(error)
        ? Layer.die(error)
        : Layer.fail(error as Exclude<E, ConfigError.ConfigError>)
  )

// -----------------------------------------------------------------------------
// keys, computed from the options without their secrets
// -----------------------------------------------------------------------------

/**
 * The key of a client credentials grant, from its options without the secret (`ClientCredentials.key`).
 *
 * @example
 * ```ts
 * import { Grant } from "tokenlayer"
 *
 * const key = Grant.clientCredentialsKey({ tokenUrl: "https://auth.example.com/oauth2/token", clientId: "app" })
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const clientCredentialsKey: (options: ClientCredentials.KeyOptions) => string = ClientCredentials.key

/**
 * The key of a refresh token grant, from its options without the tokens or the secret
 * (`RefreshToken.key`).
 *
 * @since 0.1.0
 * @category keys
 */
export const refreshTokenKey: (options: RefreshToken.KeyOptions) => string = RefreshToken.key

/**
 * The key of a device grant, from its options without the secret or the prompt (`DeviceCode.key`).
 *
 * @since 0.1.0
 * @category keys
 */
export const deviceCodeKey: (options: DeviceCode.KeyOptions) => string = DeviceCode.key

/**
 * The key of a JWT bearer grant, from its options without the signing key (`JwtBearer.key`).
 *
 * @since 0.1.0
 * @category keys
 */
export const jwtBearerKey: (options: JwtBearer.KeyOptions) => string = JwtBearer.key

/**
 * The key of a custom grant, from its options without the secrets (`Custom.key`).
 *
 * @since 0.1.0
 * @category keys
 */
export const customKey: (options: Custom.KeyOptions) => string = Custom.key

// -----------------------------------------------------------------------------
// client credentials (Grant/ClientCredentials.ts)
// -----------------------------------------------------------------------------

/**
 * The options of the client credentials grant (RFC 6749 §4.4): `ClientCredentials.Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientCredentialsOptions = ClientCredentials.Options

/**
 * The client credentials grant as a value over the given client: `ClientCredentials.makeWith`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClientCredentials = ClientCredentials.makeWith

/**
 * The client credentials grant (RFC 6749 §4.4), the flow of ICEYE and ThingPark: `ClientCredentials.layer`.
 * Fails with a `ConfigError` naming the option when the options cannot work (a token URL that is not
 * an http(s) URL, an empty secret).
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
): Layer.Layer<Grant, never, HttpClient.HttpClient> => dieOnConfigError(ClientCredentials.layer(options))

/**
 * The client credentials options through `Config`: `ClientCredentials.optionsConfig`.
 *
 * @since 0.1.0
 * @category config
 */
export const clientCredentialsOptionsConfig = ClientCredentials.optionsConfig

/**
 * The client credentials grant, its options read through `Config`: `ClientCredentials.layerConfig`.
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
export const clientCredentialsConfig = ClientCredentials.layerConfig

// -----------------------------------------------------------------------------
// discovery (Discovery.ts)
// -----------------------------------------------------------------------------

/**
 * An authorization server's metadata (RFC 8414 §2): `Discovery.Metadata`.
 *
 * @since 0.1.0
 * @category models
 */
export type Metadata = DiscoveryModule.Metadata

/**
 * The options of discovery: `Discovery.Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type DiscoveryOptions = DiscoveryModule.Options

/**
 * An issuer's metadata, cached: `Discovery.Discovery`.
 *
 * @since 0.1.0
 * @category models
 */
export type Discovery = DiscoveryModule.Discovery

/**
 * Fetches an issuer's metadata, once, over the `HttpClient` in context: `Discovery.discover`.
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
export const discover = DiscoveryModule.discover

/**
 * An issuer's metadata as a cached `Discovery` over the given client, as a plain value:
 * `Discovery.unsafeMake` (see `Discovery.make` for the `Effect`).
 *
 * @since 0.1.0
 * @category discovery
 */
export const makeDiscovery = DiscoveryModule.unsafeMake

/**
 * An issuer's metadata as a cached `Discovery` over the `HttpClient` in context: `Discovery.make`.
 *
 * @since 0.1.0
 * @category discovery
 */
export const discovery = DiscoveryModule.make

// -----------------------------------------------------------------------------
// refresh token (Grant/RefreshToken.ts)
// -----------------------------------------------------------------------------

/**
 * The options of the refresh token grant: `RefreshToken.Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshTokenOptions = RefreshToken.Options

/**
 * The refresh token grant as a value over the given client: `RefreshToken.makeWith`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRefreshToken = RefreshToken.makeWith

/**
 * The refresh token grant (RFC 6749 §6), which keeps a login alive by trading refresh tokens:
 * `RefreshToken.layer`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, TokenService } from "tokenlayer"
 *
 * const Tokens = TokenService.layer().pipe(
 *   Layer.provide(Grant.refreshToken({
 *     issuer: "https://auth.example.com",
 *     clientId: "my-cli",
 *     refreshToken: Redacted.make(process.env.REFRESH_TOKEN ?? "")
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const refreshToken = (
  options: RefreshTokenOptions
): Layer.Layer<Grant, never, HttpClient.HttpClient> => dieOnConfigError(RefreshToken.layer(options))

/**
 * The refresh token options through `Config`: `RefreshToken.optionsConfig`.
 *
 * @since 0.1.0
 * @category config
 */
export const refreshTokenOptionsConfig = RefreshToken.optionsConfig

/**
 * The refresh token grant, its options read through `Config`: `RefreshToken.layerConfig`.
 *
 * @since 0.1.0
 * @category layers
 */
export const refreshTokenConfig = RefreshToken.layerConfig

// -----------------------------------------------------------------------------
// device authorization (Grant/DeviceCode.ts)
// -----------------------------------------------------------------------------

/**
 * What the user needs to approve a device flow: `DeviceCode.DeviceAuthorization`.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceAuthorization = DeviceCode.DeviceAuthorization

/**
 * Where the device flow's endpoints are: `DeviceCode.EndpointOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceEndpointOptions = DeviceCode.EndpointOptions

/**
 * The options of the device grant other than its prompt: `DeviceCode.Settings`.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceCodeSettings = DeviceCode.Settings

/**
 * The options of the device grant: `DeviceCode.Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type DeviceCodeOptions = DeviceCode.Options

/**
 * A prompt that prints the verification URI and the user code to the console: `DeviceCode.consolePrompt`.
 *
 * @since 0.1.0
 * @category prompts
 */
export const consolePrompt = DeviceCode.consolePrompt

/**
 * The device grant as a value over the given client: `DeviceCode.makeWith`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDeviceCode = DeviceCode.makeWith

/**
 * The device authorization grant (RFC 8628): `DeviceCode.layer`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { Grant, TokenService, TokenStore } from "tokenlayer"
 *
 * const Tokens = TokenService.layer().pipe(
 *   Layer.provide(Grant.deviceCode({
 *     issuer: "https://auth.example.com",
 *     clientId: "my-cli",
 *     scope: "openid offline_access",
 *     prompt: Grant.consolePrompt
 *   })),
 *   Layer.provide([TokenStore.layerFile({ directory: ".tokens" }), NodeHttpClient.layerUndici])
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const deviceCode = (
  options: DeviceCodeOptions
): Layer.Layer<Grant, never, HttpClient.HttpClient> => dieOnConfigError(DeviceCode.layer(options))

/**
 * The device grant's options other than the prompt, through `Config`: `DeviceCode.optionsConfig`.
 *
 * @since 0.1.0
 * @category config
 */
export const deviceCodeOptionsConfig = DeviceCode.optionsConfig

/**
 * The device grant, its options read through `Config`, with your prompt: `DeviceCode.layerConfig`.
 *
 * @since 0.1.0
 * @category layers
 */
export const deviceCodeConfig = DeviceCode.layerConfig

// -----------------------------------------------------------------------------
// JWT bearer (Grant/JwtBearer.ts)
// -----------------------------------------------------------------------------

/**
 * The options of the JWT bearer grant: `JwtBearer.Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type JwtBearerOptions = JwtBearer.Options

/**
 * The JWT bearer grant as a value over the given client: `JwtBearer.makeWith`. Fails with a `KeyError`
 * when the key cannot sign.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeJwtBearer = JwtBearer.makeWith

/**
 * The JWT bearer grant (RFC 7523 §2.1), the flow of Disruptive Technologies' service accounts:
 * `JwtBearer.layer`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant } from "tokenlayer"
 *
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
): Layer.Layer<Grant, TokenError.KeyError, HttpClient.HttpClient> => dieOnConfigError(JwtBearer.layer(options))

/**
 * The JWT bearer options through `Config`: `JwtBearer.optionsConfig`.
 *
 * @since 0.1.0
 * @category config
 */
export const jwtBearerOptionsConfig = JwtBearer.optionsConfig

/**
 * The JWT bearer grant, its options read through `Config`: `JwtBearer.layerConfig`.
 *
 * @since 0.1.0
 * @category layers
 */
export const jwtBearerConfig = JwtBearer.layerConfig

// -----------------------------------------------------------------------------
// any other grant (Grant/Custom.ts)
// -----------------------------------------------------------------------------

/**
 * Form parameters of a custom grant: `Custom.Params`.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomParams = Custom.Params

/**
 * The options of a grant tokenlayer does not ship: `Custom.Options`.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomOptions = Custom.Options

/**
 * A custom grant as a value over the given client: `Custom.makeWith`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCustom = Custom.makeWith

/**
 * A grant tokenlayer does not ship, in a few lines: its `grant_type` and form parameters, through the
 * same funnel as the built-in grants: `Custom.layer`.
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
export const custom = (
  options: CustomOptions
): Layer.Layer<Grant, never, HttpClient.HttpClient> => dieOnConfigError(Custom.layer(options))

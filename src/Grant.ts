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
import type * as Discovery from "./Discovery.js"
import * as ClientCredentials from "./Grant/ClientCredentials.js"
import * as Custom from "./Grant/Custom.js"
import * as DeviceCode from "./Grant/DeviceCode.js"
import * as JwtBearer from "./Grant/JwtBearer.js"
import * as RefreshToken from "./Grant/RefreshToken.js"
import * as TokenExchange from "./Grant/TokenExchange.js"
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
  RefreshToken,
  /** @since 0.1.0 */
  TokenExchange
}

/**
 * What a grant is: a key and a request.
 *
 * @since 0.1.0
 * @category models
 */
export type Service = internal.Service

/**
 * What a token is asked for beyond the grant's own options (scope, audience, resource, subject,
 * params): what `Service.forRequest` and a `TokenCache` take.
 *
 * @since 0.2.0
 * @category models
 */
export type Request = internal.Request

/**
 * The key of a grant's token for a request: the grant's key followed by the request's parts (the
 * subject first, scopes as a set, resources sorted); the empty request has the grant's own key.
 *
 * @since 0.2.0
 * @category constructors
 */
export const requestKey: (key: string, request: Request | undefined) => string = internal.requestKey

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
    readonly issuer: string | Discovery.Discovery
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

// -----------------------------------------------------------------------------
// every grant's names, as they were before the grants had modules of their own
// -----------------------------------------------------------------------------

export {
  /** The key of a client credentials grant, without its secret. @since 0.1.0 @category keys */
  key as clientCredentialsKey,
  /** The client credentials grant, its options read through `Config`. @since 0.1.0 @category layers */
  layerConfig as clientCredentialsConfig,
  /** The client credentials grant as a value over the given client. @since 0.1.0 @category constructors */
  makeWith as makeClientCredentials,
  /** The options of the client credentials grant (RFC 6749 §4.4). @since 0.1.0 @category models */
  type Options as ClientCredentialsOptions,
  /** The client credentials options through `Config`. @since 0.1.0 @category config */
  optionsConfig as clientCredentialsOptionsConfig
} from "./Grant/ClientCredentials.js"

export {
  /** The key of a refresh token grant, without its tokens or secret. @since 0.1.0 @category keys */
  key as refreshTokenKey,
  /** The refresh token grant, its options read through `Config`. @since 0.1.0 @category layers */
  layerConfig as refreshTokenConfig,
  /** The refresh token grant as a value over the given client. @since 0.1.0 @category constructors */
  makeWith as makeRefreshToken,
  /** The options of the refresh token grant (RFC 6749 §6). @since 0.1.0 @category models */
  type Options as RefreshTokenOptions,
  /** The refresh token options through `Config`. @since 0.1.0 @category config */
  optionsConfig as refreshTokenOptionsConfig
} from "./Grant/RefreshToken.js"

export {
  /** A prompt that prints the verification URI and the user code. @since 0.1.0 @category prompts */
  consolePrompt,
  /** What the user needs to approve a device flow. @since 0.1.0 @category models */
  type DeviceAuthorization,
  /** Where the device flow's endpoints are. @since 0.1.0 @category models */
  type EndpointOptions as DeviceEndpointOptions,
  /** The key of a device grant, without its secret or prompt. @since 0.1.0 @category keys */
  key as deviceCodeKey,
  /** The device grant, its options read through `Config`, with your prompt. @since 0.1.0 @category layers */
  layerConfig as deviceCodeConfig,
  /** The device grant as a value over the given client. @since 0.1.0 @category constructors */
  makeWith as makeDeviceCode,
  /** The options of the device grant (RFC 8628). @since 0.1.0 @category models */
  type Options as DeviceCodeOptions,
  /** The device grant's options other than the prompt, through `Config`. @since 0.1.0 @category config */
  optionsConfig as deviceCodeOptionsConfig,
  /** The options of the device grant other than its prompt. @since 0.1.0 @category models */
  type Settings as DeviceCodeSettings
} from "./Grant/DeviceCode.js"

export {
  /** The key of a JWT bearer grant, without its signing key. @since 0.1.0 @category keys */
  key as jwtBearerKey,
  /** The JWT bearer grant, its options read through `Config`. @since 0.1.0 @category layers */
  layerConfig as jwtBearerConfig,
  /** The JWT bearer grant as a value over the given client (a `KeyError` when the key cannot sign). @since 0.1.0 @category constructors */
  makeWith as makeJwtBearer,
  /** The options of the JWT bearer grant (RFC 7523 §2.1). @since 0.1.0 @category models */
  type Options as JwtBearerOptions,
  /** The JWT bearer options through `Config`. @since 0.1.0 @category config */
  optionsConfig as jwtBearerOptionsConfig
} from "./Grant/JwtBearer.js"

export {
  /** The key of a custom grant, without its secrets. @since 0.1.0 @category keys */
  key as customKey,
  /** A custom grant as a value over the given client. @since 0.1.0 @category constructors */
  makeWith as makeCustom,
  /** The options of a grant tokenlayer does not ship. @since 0.1.0 @category models */
  type Options as CustomOptions,
  /** Form parameters of a custom grant. @since 0.1.0 @category models */
  type Params as CustomParams
} from "./Grant/Custom.js"

export {
  /** Fetches an issuer's metadata over the `HttpClient` in context (`Discovery.discover`). @since 0.1.0 @category discovery */
  discover,
  /** An issuer's metadata, cached. @since 0.1.0 @category models */
  type Discovery,
  /** An issuer's metadata as a cached `Discovery` over the `HttpClient` in context (`Discovery.make`). @since 0.1.0 @category discovery */
  make as discovery,
  /** An authorization server's metadata (RFC 8414 §2). @since 0.1.0 @category models */
  type Metadata,
  /** The options of discovery. @since 0.1.0 @category models */
  type Options as DiscoveryOptions,
  /** An issuer's metadata as a cached `Discovery` over the given client, as a plain value. @since 0.1.0 @category discovery */
  unsafeMake as makeDiscovery
} from "./Discovery.js"

/**
 * The layers under their first names keep the types they had (`Layer<Grant, never, HttpClient>`):
 * options that the modules' `layer`s refuse with a `ConfigError` (a token URL that is not an http(s)
 * URL) fail these layers, when they are built, as a defect carrying that `ConfigError`.
 */
const dieOnConfigError = <E, R>(
  layer: Layer.Layer<Grant, ConfigError.ConfigError | E, R>
): Layer.Layer<Grant, Exclude<E, ConfigError.ConfigError>, R> =>
  Layer.catchAll(
    layer,
    (error) =>
      ConfigError.isConfigError(error) ? Layer.die(error) : Layer.fail(error as Exclude<E, ConfigError.ConfigError>)
  )

/**
 * The client credentials grant (RFC 6749 §4.4), the flow of ICEYE and ThingPark, as a layer over the
 * `HttpClient` in context: `ClientCredentials.layer`, with its `ConfigError` a defect.
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
  options: ClientCredentials.Options
): Layer.Layer<Grant, never, HttpClient.HttpClient> => dieOnConfigError(ClientCredentials.layer(options))

/**
 * The refresh token grant (RFC 6749 §6): `RefreshToken.layer`, with its `ConfigError` a defect.
 *
 * @since 0.1.0
 * @category layers
 */
export const refreshToken = (options: RefreshToken.Options): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  dieOnConfigError(RefreshToken.layer(options))

/**
 * The device authorization grant (RFC 8628): `DeviceCode.layer`, with its `ConfigError` a defect.
 *
 * @since 0.1.0
 * @category layers
 */
export const deviceCode = (options: DeviceCode.Options): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  dieOnConfigError(DeviceCode.layer(options))

/**
 * The JWT bearer grant (RFC 7523 §2.1): `JwtBearer.layer`, with its `ConfigError` a defect (a key that
 * cannot sign stays a typed `KeyError`).
 *
 * @since 0.1.0
 * @category layers
 */
export const jwtBearer = (
  options: JwtBearer.Options
): Layer.Layer<Grant, TokenError.KeyError, HttpClient.HttpClient> => dieOnConfigError(JwtBearer.layer(options))

/**
 * A grant tokenlayer does not ship (RFC 8693 token exchange, a vendor's `grant_type`): `Custom.layer`,
 * with its `ConfigError` a defect.
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
export const custom = (options: Custom.Options): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  dieOnConfigError(Custom.layer(options))

/**
 * RFC 8693 token exchange, the subject token from a `TokenSource`: `TokenExchange.layer`, with its
 * `ConfigError` a defect.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { Grant, TokenService, TokenSource } from "tokenlayer"
 *
 * const Billing = TokenService.layer().pipe(
 *   Layer.provide(Grant.tokenExchange({
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
export const tokenExchange = (options: TokenExchange.Options): Layer.Layer<Grant, never, HttpClient.HttpClient> =>
  dieOnConfigError(TokenExchange.layer(options))

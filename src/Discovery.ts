/**
 * Authorization server metadata (RFC 8414) and OpenID Connect Discovery 1.0: an issuer's endpoints,
 * checked and cached.
 *
 * Grants given an `issuer` find their endpoints here, and a grant given URLs holds the same kind of
 * value (see `Grant.TokenEndpointOptions`): the funnel reads the server's endpoints as an `Effect`
 * either way. A `Discovery` shares one document among several grants.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as internal from "./internal/discovery.js"
import type * as TokenError from "./TokenError.js"

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
  /**
   * RFC 8705 §5 `mtls_endpoint_aliases`: where a client that presents a certificate sends its requests
   * instead (a grant whose `ClientAuth` is `tlsClientAuth` or `selfSignedTlsClientAuth` does).
   */
  readonly mtlsEndpointAliases?: {
    readonly tokenEndpoint?: string
    readonly deviceAuthorizationEndpoint?: string
    readonly revocationEndpoint?: string
  }
  /** The document as the server sent it. */
  readonly document: Readonly<Record<string, unknown>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
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
 * `HttpError` (reason `Decode` for a bad document, not transient). Every answer is bounded by
 * `Grant.MaxResponseSize`; a redirect is never followed.
 *
 * Grants given an `issuer` do this themselves, and cache the document (see `make`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Console, Effect } from "effect"
 * import { Discovery } from "tokenlayer"
 *
 * const program = Discovery.discover("https://auth.example.com/realms/iot").pipe(
 *   Effect.tap((metadata) => Console.log(metadata.tokenEndpoint, metadata.revocationEndpoint)),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const discover = (
  issuer: string,
  options?: Options
): Effect.Effect<Metadata, TokenError.HttpError, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (client) => internal.discover(issuer, client, options))

/**
 * An issuer's metadata as a cached `Discovery` over the `HttpClient` in context, to pass as the `issuer`
 * of several grants: they share one document, fetched on first use and at most once per `ttl`
 * (default 1 hour). Nothing is fetched here.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Discovery, Grant } from "tokenlayer"
 *
 * // two grants of one issuer, one metadata document
 * const Grants = Layer.unwrapEffect(Effect.map(Discovery.make("https://auth.example.com"), (issuer) =>
 *   Layer.mergeAll(
 *     Grant.RefreshToken.layer({ issuer, clientId: "cli", refreshToken: Redacted.make("from-an-earlier-login") })
 *   ))).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (issuer: string, options?: Options): Effect.Effect<Discovery, never, HttpClient.HttpClient> =>
  Effect.flatMap(HttpClient.HttpClient, (client) => internal.make(issuer, client, options))

/**
 * `make` over the given client, as a plain value (for code that builds grants as values: see
 * `Grant.makeDiscovery`). The cache's construction runs nothing, so this neither blocks nor fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake: (issuer: string, client: HttpClient.HttpClient, options?: Options) => Discovery =
  internal.unsafeMake

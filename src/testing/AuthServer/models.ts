/**
 * The models of the embedded `AuthServer`: what a test registers (clients, service accounts, the grants'
 * settings) and what it reads back (counters, issued tokens). Re-exported by `AuthServer.ts`.
 *
 * @since 0.1.0
 */
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"
import type * as Jose from "jose"
import type { CustomGrantType, TokenExchangeDetails, TokenExchangeOptions } from "./grants.js"

/**
 * How a client authenticates at the token endpoint (RFC 6749 §2.3.1).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAuthMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "client_secret_jwt"
  | "private_key_jwt"
  | "tls_client_auth"
  | "self_signed_tls_client_auth"
  | "none"

/**
 * What a client's refresh tokens do (see `ClientRegistration.refreshTokens`).
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshTokenMode = "rotate" | "reuse" | "none"

/**
 * What the tokens of a client or a service account are: their lifetime and the scopes it may ask for.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenRules {
  /** The lifetime of its tokens (`expires_in`, whole seconds). Default: the server's `tokenLifetime`. */
  readonly tokenLifetime?: Duration.DurationInput | undefined
  /**
   * The scopes it may ask for: any other is `invalid_scope`, and a request without `scope` gets them all.
   * Default: any scope, and none when it asks for none.
   */
  readonly scopes?: ReadonlyArray<string> | undefined
}

/**
 * A client the server knows.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientRegistration extends TokenRules {
  readonly id: string
  /** Its secret, for the secret-based methods. A `none` client (public: device flow, CLI) has none. */
  readonly secret?: string | undefined
  /** How it authenticates; a request using the other method is refused (`invalid_client`). Default: basic. */
  readonly method?: ClientAuthMethod | undefined
  /**
   * Its public key, for `private_key_jwt`: assertions must verify with it, with an algorithm it fits
   * (RSA: RS256..PS512, EC P-256: ES256, ...). `client_secret_jwt` clients use `secret` (HS256/384/512).
   */
  readonly publicKey?: PublicKey | undefined
  /**
   * `tls_client_auth` (RFC 8705 §2.1): the subject DN its certificate must have, as Node prints it with
   * `, ` between the attributes (`CN=app, O=Example`), in any order. It must also chain to `mutualTls.ca`.
   */
  readonly tlsSubject?: string | undefined
  /** `tls_client_auth`: instead of the subject, a subject alternative name it must have (`DNS:app.example`). */
  readonly tlsSan?: string | undefined
  /** `self_signed_tls_client_auth` (RFC 8705 §2.2): its certificate (PEM), matched by SHA-256 thumbprint. */
  readonly certificate?: string | undefined
  /**
   * What a request for a scope outside `scopes` gets (RFC 6749 §3.3): `refuse` (default) answers
   * `invalid_scope`; `narrow` issues the token with the scopes it may have, and says so in the answer's
   * `scope` (`invalid_scope` only when none is left).
   */
  readonly scopePolicy?: "refuse" | "narrow" | undefined
  /**
   * The RFC 8707 resources it may ask tokens for (the `resource` parameter, repeatable), as URIs or
   * with their audiences and scopes. A token request naming any other is refused with `invalid_target`;
   * a token's `resource` and `audience` (`server.tokens`, `/introspect`, the API's answer) are those of
   * the resources asked for. Default: any absolute URI (still `invalid_target` for a malformed one).
   *
   * @example
   * ```ts
   * import { AuthServer } from "tokenlayer/testing"
   *
   * const Server = AuthServer.layer({
   *   clients: [{
   *     id: "gateway",
   *     secret: "s3cret",
   *     scopes: ["orders:read", "orders:write", "billing"],
   *     resources: [
   *       "https://billing.example.com",
   *       { resource: "https://orders.example.com", audience: "orders-api", scopes: ["orders:read", "orders:write"] }
   *     ]
   *   }]
   * })
   * ```
   */
  readonly resources?: ReadonlyArray<string | ResourceRegistration> | undefined
  /**
   * Its refresh tokens (from the device flow and `issueRefreshToken`), traded with
   * `grant_type=refresh_token`:
   * - `rotate` (default): each refresh answers a new refresh token and spends the old one; a spent one
   *   replayed is `invalid_grant` and revokes its whole login, refresh and access tokens (OAuth 2.0
   *   Security BCP §4.14.2);
   * - `reuse`: the refresh token stays valid; refresh answers carry no `refresh_token` (RFC 6749 §6);
   * - `none`: device-flow answers carry no refresh token.
   */
  readonly refreshTokens?: RefreshTokenMode | undefined
}

/**
 * A resource a client may ask tokens for (RFC 8707).
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceRegistration {
  /** Its URI, as the client sends it in `resource`: absolute, without a fragment. */
  readonly resource: string
  /** The `aud` of tokens for it. Default: `resource` itself. */
  readonly audience?: string | ReadonlyArray<string> | undefined
  /**
   * The scopes a token for it may carry: others asked with it are left out of the token (and the answer's
   * `scope` says so); `invalid_scope` when none is left. Default: whatever the client may have.
   */
  readonly scopes?: ReadonlyArray<string> | undefined
}

/**
 * A route of the protected API (`/api/<path>`) that asks more of a token than being valid.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiRoute {
  /** `orders` covers `/api/orders` and everything below it; the longest matching route applies. */
  readonly path: string
  /**
   * The RFC 8707 resource its tokens must have been issued for. Any other token is answered 401
   * `invalid_token` ("not for this resource").
   */
  readonly resource?: string | undefined
  /**
   * The scopes a token must carry (a space-separated string or a list). A token without all of them is
   * answered with `insufficientScopeStatus` and `WWW-Authenticate: Bearer error="insufficient_scope",
   * scope="<the route's scopes>"` (RFC 6750 §3.1), so that a client can step up.
   */
  readonly scope?: string | ReadonlyArray<string> | undefined
  /** The status of an insufficient-scope answer: 403 (RFC 6750's choice, the default) or 401. */
  readonly insufficientScopeStatus?: 401 | 403 | undefined
}

/**
 * The protected API's settings.
 *
 * @example
 * ```ts
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const Server = AuthServer.layer({
 *   clients: [{ id: "app", secret: "s3cret", scopes: ["read", "write"], scopePolicy: "narrow" }],
 *   api: {
 *     routes: [
 *       { path: "reports", scope: "read" },
 *       { path: "reports/edit", scope: ["read", "write"] }
 *     ]
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiOptions {
  readonly routes?: ReadonlyArray<ApiRoute> | undefined
}

/**
 * The device flow's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeviceFlowOptions {
  /** The polling interval the server asks for and enforces (`slow_down`). Default: 5 seconds. */
  readonly interval?: Duration.DurationInput | undefined
  /** How long a device code is valid. Default: 10 minutes. */
  readonly lifetime?: Duration.DurationInput | undefined
  /** Whether the device authorization answer includes `interval`. Default: true. */
  readonly announceInterval?: boolean | undefined
}

/**
 * A public key: a PEM string (SPKI `-----BEGIN PUBLIC KEY-----`, or a certificate), a JWK, a WebCrypto /
 * jose `CryptoKey` or a Node `KeyObject`. A private key given by mistake is taken for its public half.
 *
 * @since 0.1.0
 * @category models
 */
export type PublicKey = string | Jose.JWK | Jose.CryptoKey | Jose.KeyObject

/**
 * A service account key, for the JWT bearer grant (RFC 7523 §2.1) as Disruptive Technologies runs it:
 * an assertion whose header `kid` is `keyId`, with `iss` (and `sub`, when sent) the account's `email`,
 * `aud` the token URL (or the issuer), `exp` in the future and at most 1 hour after `iat`, a `jti` never
 * used before (when it has one), signed with `secret` (HS256/384/512) or the private key of `publicKey`.
 * Its tokens are issued to the client id `email`. Refusals are `invalid_grant` and say what was wrong.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceAccountRegistration extends TokenRules {
  /** The key id its assertions name in `kid`. An account may have several keys: register each. */
  readonly keyId: string
  /** The account's email: `iss` of its assertions, and the client id of its tokens. */
  readonly email: string
  /** A shared secret (HMAC). */
  readonly secret?: string | undefined
  /** A public key (RS256, ES256, ...). */
  readonly publicKey?: PublicKey | undefined
  /** The one algorithm to accept. Default: any the key fits (HS256/384/512 for a secret). */
  readonly alg?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly clients?: ReadonlyArray<ClientRegistration> | undefined
  /** The lifetime of tokens for clients that do not set one. Default: 1 hour. */
  readonly tokenLifetime?: Duration.DurationInput | undefined
  /** Service account keys for the JWT bearer grant. A key that cannot be read is a defect. */
  readonly serviceAccounts?: ReadonlyArray<ServiceAccountRegistration> | undefined
  readonly deviceFlow?: DeviceFlowOptions | undefined
  /** RFC 8693 token exchange: served when given (`{}` for the defaults), else `unsupported_grant_type`. */
  readonly tokenExchange?: TokenExchangeOptions | undefined
  /** Grant types the library does not ship, served by the token endpoint. */
  readonly grantTypes?: ReadonlyArray<CustomGrantType> | undefined
  /** The protected API's routes that require a resource or a scope. Default: any valid token will do. */
  readonly api?: ApiOptions | undefined
  /**
   * Mutual TLS (RFC 8705): a second listener, https on 127.0.0.1, that asks every client for a
   * certificate (`mtlsUrl`, named in the discovery document's `mtls_endpoint_aliases`). Tokens requested
   * over it with a certificate are bound to it (`cnf.x5t#S256`): the API accepts them only from a
   * connection that presents the same certificate.
   */
  readonly mutualTls?: MutualTlsOptions | undefined
}

/**
 * The https listener's settings (PEM strings).
 *
 * @since 0.1.0
 * @category models
 */
export interface MutualTlsOptions {
  /** The server's certificate (for 127.0.0.1: a subject alternative name `IP:127.0.0.1`). */
  readonly certificate: string
  readonly privateKey: string
  /** The CAs whose client certificates `tls_client_auth` accepts. */
  readonly ca?: string | ReadonlyArray<string> | undefined
}

/**
 * Why the API answered 401: no Bearer token, a token the server never issued, an expired token, a revoked
 * one, or `setApiAlwaysUnauthorized(true)`.
 *
 * @since 0.1.0
 * @category models
 */
export type UnauthorizedReason = "missing" | "unknown" | "expired" | "revoked" | "forced" | "certificate"

/**
 * What the server has answered since it started (or since `resetStats`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Token requests received (counted on arrival, hung ones too). */
  readonly tokenRequests: number
  /**
   * Token requests by client id (as the request claimed it, checked or not: HTTP Basic or `client_id`,
   * else the `iss` of a JWT-bearer assertion; `-` when it named none) and outcome: `issued`,
   * the RFC 6749 error code (`invalid_client`, ...), or the `_tag` of the fault that replaced the answer
   * (`Status`, `Hang`, `Reset`, `MalformedJson`, `Html`).
   */
  readonly tokenRequestsBy: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** Requests to `/api/*`. */
  readonly apiRequests: number
  readonly apiByStatus: Readonly<Record<number, number>>
  readonly unauthorizedBy: Readonly<Record<UnauthorizedReason, number>>
  /** Requests to `/revoke`. */
  readonly revocationRequests: number
  /** Requests to `/device_authorization`. (Device-flow polls are token requests, by outcome.) */
  readonly deviceAuthorizationRequests: number
  /** Requests for the discovery document (either well-known path). */
  readonly metadataRequests: number
}

/**
 * A refresh token the server issued.
 *
 * @since 0.1.0
 * @category models
 */
export interface IssuedRefreshToken {
  readonly refreshToken: Redacted.Redacted<string>
  readonly clientId: string
  readonly scope: ReadonlyArray<string>
  readonly issuedAt: DateTime.Utc
  /** Traded for a newer one (rotation). */
  readonly spent: boolean
  /** Its login was revoked (by `revoke`, `revokeClient`, `/revoke`, or a replay). */
  readonly revoked: boolean
}

/**
 * An access token the server issued.
 *
 * @since 0.1.0
 * @category models
 */
export interface IssuedToken {
  readonly accessToken: Redacted.Redacted<string>
  readonly clientId: string
  readonly grantType: string
  /** The scope granted; empty when none. */
  readonly scope: ReadonlyArray<string>
  readonly issuedAt: DateTime.Utc
  readonly expiresAt: DateTime.Utc
  /** Whether it was revoked when `tokens` was read. */
  readonly revoked: boolean
  /** What a token exchange (RFC 8693) issued it for; only on exchanged tokens. */
  readonly exchange?: TokenExchangeDetails | undefined
  /** RFC 8705 §3: the `x5t#S256` of the certificate it is bound to; only on certificate-bound tokens. */
  readonly certificateThumbprint?: string | undefined
  /** The RFC 8707 resources it was issued for; empty when none was asked. */
  readonly resource: ReadonlyArray<string>
  /** Its audiences (`aud`): those of its resources. */
  readonly audience: ReadonlyArray<string>
}

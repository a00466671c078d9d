/**
 * An embedded OAuth 2.0 authorization server and protected API, served over real HTTP on a free port of
 * 127.0.0.1 by `NodeHttpServer`, for integration tests.
 *
 * - `POST /token`: the client credentials grant (RFC 6749 §4.4) for clients registered with
 *   `client_secret_basic`, `client_secret_post`, `client_secret_jwt` or `private_key_jwt` (RFC 7523 §2.2:
 *   assertions checked, a reused `jti` refused), RFC 6749 §5.2 errors, optional scopes, a lifetime per
 *   client, opaque random tokens.
 * - The JWT bearer grant (RFC 7523 §2.1) for service account keys (`serviceAccounts`,
 *   `registerServiceAccount`): Disruptive Technologies' flow, each assertion checked claim by claim.
 * - `/api/*`: a protected resource that answers 200 for a valid Bearer token and 401 with an RFC 6750
 *   `WWW-Authenticate` challenge for a missing, unknown, expired or revoked one.
 * - `POST /revoke`: RFC 7009 token revocation; `revoke` and `revokeClient` do the same from the test.
 * - Refresh tokens (`grant_type=refresh_token`), rotated by default: a replayed one is refused and revokes
 *   its whole login; `issueRefreshToken` hands one out as if from an earlier login.
 * - The device flow (RFC 8628): `POST /device_authorization`, the device code grant (pending, `slow_down`,
 *   denied, expired), a `/device` page, and `approve` / `deny` / `pendingUserCodes` for tests.
 * - `/.well-known/oauth-authorization-server` (and `/.well-known/openid-configuration`): an RFC 8414
 *   discovery document listing what the server supports.
 * - Fault injection on `/token` (error statuses, `Retry-After`, hangs, connection resets, malformed
 *   bodies, `expires_in` variants, latency), and counters of what it answered.
 *
 * Time is the `Clock` of the context the layer is built in: build it inside an `it.effect` test and
 * `TestClock` decides when tokens expire and how long injected latency lasts.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { assert, it } from "@effect/vitest"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const Server = AuthServer.layer({ clients: [{ id: "app", secret: "s3cret" }] })
 *
 * const Tokens = Layer.unwrapEffect(Effect.map(AuthServer.AuthServer, (server) =>
 *   TokenService.layer().pipe(
 *     Layer.provide(Grant.clientCredentials({
 *       tokenUrl: server.tokenUrl,
 *       clientId: "app",
 *       clientSecret: Redacted.make("s3cret")
 *     })),
 *     Layer.provide([NodeHttpClient.layerUndici, RefreshPolicy.fixed("5 minutes"), RetryPolicy.none,
 *       TokenStore.layerMemory])
 *   )))
 *
 * it.effect("asks once for a token", () =>
 *   Effect.gen(function*() {
 *     yield* TokenService.get
 *     yield* TokenService.get
 *     const stats = yield* AuthServer.stats
 *     assert.deepStrictEqual(stats.tokenRequestsBy, { app: { issued: 1 } })
 *   }).pipe(Effect.provide(Tokens.pipe(Layer.provideMerge(Server)))))
 * ```
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpServer from "@effect/platform/HttpServer"
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Jose from "jose"
import * as http from "node:http"
import * as internal from "./internal/authServer.js"

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
  | "none"

/**
 * What a client's refresh tokens do (see `ClientRegistration.refreshTokens`).
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshTokenMode = "rotate" | "reuse" | "none"

/**
 * A client the server knows.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientRegistration {
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
  /** The lifetime of its tokens (`expires_in`, whole seconds). Default: the server's `tokenLifetime`. */
  readonly tokenLifetime?: Duration.DurationInput | undefined
  /**
   * The scopes it may ask for: any other is `invalid_scope`, and a request without `scope` gets them all.
   * Default: any scope, and none when it asks for none.
   */
  readonly scopes?: ReadonlyArray<string> | undefined
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
export interface ServiceAccountRegistration {
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
  /** The lifetime of its tokens. Default: the server's `tokenLifetime`. */
  readonly tokenLifetime?: Duration.DurationInput | undefined
  /** The scopes it may ask for (as `ClientRegistration.scopes`). */
  readonly scopes?: ReadonlyArray<string> | undefined
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
}

/**
 * A fault the token endpoint injects into its answer to one request (`inject`) or to every request
 * (`injectAlways`).
 *
 * - `Status`: that status, with an RFC 6749 §5.2 body when `error` is given (else an empty body), and
 *   `Retry-After: <retryAfter>` when given.
 * - `Hang`: never answers (until the client gives up, or the server's scope closes).
 * - `Reset`: destroys the connection without answering.
 * - `MalformedJson`: 200 with a truncated JSON body. `Html`: 200 with a `text/html` page.
 * - `ExpiresInMissing`, `ExpiresInString` (`expires_in` as a string: `value`, by default the lifetime),
 *   `ExpiresIn` (that many seconds, also what the server itself holds the token to) and `Latency` (the
 *   normal answer after that long, by the Clock) change a normal answer: a request that fails on its own
 *   still fails.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly error?: string | undefined
    readonly description?: string | undefined
    readonly retryAfter?: number | undefined
  }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "MalformedJson" }
  | { readonly _tag: "Html" }
  | { readonly _tag: "ExpiresInMissing" }
  | { readonly _tag: "ExpiresInString"; readonly value?: string | undefined }
  | { readonly _tag: "ExpiresIn"; readonly seconds: number }
  | { readonly _tag: "Latency"; readonly duration: Duration.DurationInput }

/**
 * Constructors of faults.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const program = AuthServer.inject(
 *   AuthServer.Fault.status(503),
 *   AuthServer.Fault.tooManyRequests(30),
 *   AuthServer.Fault.status(400, { error: "invalid_grant" }),
 *   AuthServer.Fault.reset,
 *   AuthServer.Fault.expiresIn(0)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Fault = {
  /** That status; an RFC 6749 body when `error` is given; `Retry-After` (seconds) when `retryAfter` is. */
  status: (
    status: number,
    options: { readonly error?: string; readonly description?: string; readonly retryAfter?: number } = {}
  ): Fault => ({ _tag: "Status", status, ...options }),
  /** 429 with `Retry-After: <seconds>`. */
  tooManyRequests: (retryAfterSeconds: number): Fault => ({
    _tag: "Status",
    status: 429,
    retryAfter: retryAfterSeconds
  }),
  /** Never answers. */
  hang: { _tag: "Hang" } as Fault,
  /** Destroys the connection. */
  reset: { _tag: "Reset" } as Fault,
  /** 200 with a truncated JSON body. */
  malformedJson: { _tag: "MalformedJson" } as Fault,
  /** 200 with an HTML page. */
  html: { _tag: "Html" } as Fault,
  /** A token response without `expires_in`. */
  expiresInMissing: { _tag: "ExpiresInMissing" } as Fault,
  /** A token response whose `expires_in` is a string: `value`, by default the lifetime in seconds. */
  expiresInString: (value?: string): Fault => ({ _tag: "ExpiresInString", value }),
  /** A token that lives `seconds` (0: already due), as the server sees it too. */
  expiresIn: (seconds: number): Fault => ({ _tag: "ExpiresIn", seconds }),
  /** The normal answer after `duration`, by the Clock. */
  latency: (duration: Duration.DurationInput): Fault => ({ _tag: "Latency", duration })
} as const

/**
 * Why the API answered 401: no Bearer token, a token the server never issued, an expired token, a revoked
 * one, or `setApiAlwaysUnauthorized(true)`.
 *
 * @since 0.1.0
 * @category models
 */
export type UnauthorizedReason = "missing" | "unknown" | "expired" | "revoked" | "forced"

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
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** The issuer in the discovery document: the same as `url`. */
  readonly issuer: string
  /** `${url}/token` */
  readonly tokenUrl: string
  /** `${url}/revoke` */
  readonly revocationUrl: string
  /** `${url}/.well-known/oauth-authorization-server` */
  readonly discoveryUrl: string
  /** `${url}/device_authorization` (RFC 8628 §3.1) */
  readonly deviceAuthorizationUrl: string
  /** `${url}/device`: the page where a person enters a user code and approves or denies it. */
  readonly verificationUrl: string
  /** `${url}/api/<path>` (a leading `/` in `path` is dropped). */
  readonly apiUrl: (path?: string) => string
  /** Adds a client, or replaces the one with the same id. */
  readonly register: (client: ClientRegistration) => Effect.Effect<void>
  /** Adds a service account key, or replaces the one with the same key id. A bad key is a defect. */
  readonly registerServiceAccount: (account: ServiceAccountRegistration) => Effect.Effect<void>
  /** Queues faults: each is consumed by one token request, in order. */
  readonly inject: (...faults: ReadonlyArray<Fault>) => Effect.Effect<void>
  /** A fault for every token request (after the queued ones) until cleared with `undefined`. */
  readonly injectAlways: (fault: Fault | undefined) => Effect.Effect<void>
  /** While on, the API answers every request with 401 (`forced`). */
  readonly setApiAlwaysUnauthorized: (on: boolean) => Effect.Effect<void>
  /**
   * Revokes an access token, or a refresh token and with it its whole login. `true` when it was issued
   * here and not revoked yet.
   */
  readonly revoke: (accessToken: string | Redacted.Redacted<string>) => Effect.Effect<boolean>
  /** Revokes every token of a client, refresh tokens too; how many were not revoked yet. */
  readonly revokeClient: (clientId: string) => Effect.Effect<number>
  /**
   * A refresh token for a client, as if from an earlier login (with the given scope, default none):
   * what a test hands to `Grant.refreshToken`. Dies for an unknown client.
   */
  readonly issueRefreshToken: (
    clientId: string,
    options?: { readonly scope?: ReadonlyArray<string> | undefined }
  ) => Effect.Effect<Redacted.Redacted<string>>
  /** Every refresh token issued, oldest first. */
  readonly refreshTokens: Effect.Effect<ReadonlyArray<IssuedRefreshToken>>
  /** Approves a pending device-flow user code (any spelling: `bcdf ghjk`). `false` when none is pending. */
  readonly approve: (userCode: string) => Effect.Effect<boolean>
  /** Denies a pending device-flow user code: the device gets `access_denied`. */
  readonly deny: (userCode: string) => Effect.Effect<boolean>
  /** The user codes waiting for approval, oldest first. */
  readonly pendingUserCodes: Effect.Effect<ReadonlyArray<string>>
  readonly stats: Effect.Effect<Stats>
  /** Every token issued, oldest first. */
  readonly tokens: Effect.Effect<ReadonlyArray<IssuedToken>>
  /** Sets the counters back to zero (tokens, clients and faults stay). */
  readonly resetStats: Effect.Effect<void>
}

/**
 * The embedded authorization server.
 *
 * @since 0.1.0
 * @category tags
 */
export class AuthServer extends Context.Tag("tokenlayer/testing/AuthServer")<AuthServer, Service>() {}

/**
 * Serves the authorization server on the `HttpServer` in context, until the scope closes. Time is the
 * `Clock` of the context it runs in. Resets and the clean shutdown of hung requests need a Node server
 * (`NodeHttpServer`).
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import * as http from "node:http"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* AuthServer.make({ clients: [{ id: "app", secret: "s3cret" }] })
 *   console.log(server.tokenUrl)
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, never, HttpServer.HttpServer | Scope.Scope> =
  internal.make

/**
 * The authorization server on a free port of 127.0.0.1, for the lifetime of the layer. Failing to listen
 * is a defect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const Server = AuthServer.layer({
 *   clients: [
 *     { id: "basic-app", secret: "s3cret" },
 *     { id: "post-app", secret: "s3cret", method: "client_secret_post", tokenLifetime: "5 minutes" },
 *     { id: "scoped-app", secret: "s3cret", scopes: ["read", "write"] }
 *   ],
 *   tokenLifetime: "1 hour"
 * })
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* AuthServer.AuthServer
 *   console.log(server.tokenUrl, server.apiUrl("things"))
 * }).pipe(Effect.provide(Server))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<AuthServer> =>
  Layer.scoped(AuthServer, make(options)).pipe(
    Layer.provide(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" })),
    Layer.orDie
  )

/**
 * The counters of the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stats: Effect.Effect<Stats, never, AuthServer> = Effect.flatMap(AuthServer, (s) => s.stats)

/**
 * The tokens the server in context issued, oldest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const tokens: Effect.Effect<ReadonlyArray<IssuedToken>, never, AuthServer> = Effect.flatMap(
  AuthServer,
  (s) => s.tokens
)

/**
 * Sets the counters of the server in context back to zero.
 *
 * @since 0.1.0
 * @category accessors
 */
export const resetStats: Effect.Effect<void, never, AuthServer> = Effect.flatMap(AuthServer, (s) => s.resetStats)

/**
 * Registers a client with the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const register = (client: ClientRegistration): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.register(client))

/**
 * Registers a service account key (for the JWT bearer grant) with the server in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const program = AuthServer.registerServiceAccount({
 *   keyId: "key-1",
 *   email: "robot@project.serviceaccount.example",
 *   secret: "s3cret",
 *   tokenLifetime: "1 hour"
 * }).pipe(Effect.provide(AuthServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const registerServiceAccount = (account: ServiceAccountRegistration): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.registerServiceAccount(account))

/**
 * Queues faults on the server in context, one per token request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const inject = (...faults: ReadonlyArray<Fault>): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.inject(...faults))

/**
 * Sets (or, with `undefined`, clears) a fault for every token request of the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const injectAlways = (fault: Fault | undefined): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.injectAlways(fault))

/**
 * Makes the API of the server in context answer 401 to everything, or stop doing so.
 *
 * @since 0.1.0
 * @category accessors
 */
export const setApiAlwaysUnauthorized = (on: boolean): Effect.Effect<void, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.setApiAlwaysUnauthorized(on))

/**
 * Revokes an access token at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const revoke = (accessToken: string | Redacted.Redacted<string>): Effect.Effect<boolean, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.revoke(accessToken))

/**
 * Revokes every token of a client at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const revokeClient = (clientId: string): Effect.Effect<number, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.revokeClient(clientId))

/**
 * A refresh token for a client of the server in context, as if from an earlier login.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const Server = AuthServer.layer({ clients: [{ id: "cli", method: "none" }] })
 * const program = AuthServer.issueRefreshToken("cli").pipe(Effect.provide(Server))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const issueRefreshToken = (
  clientId: string,
  options?: { readonly scope?: ReadonlyArray<string> | undefined }
): Effect.Effect<Redacted.Redacted<string>, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.issueRefreshToken(clientId, options))

/**
 * The refresh tokens the server in context issued, oldest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const refreshTokens: Effect.Effect<ReadonlyArray<IssuedRefreshToken>, never, AuthServer> = Effect.flatMap(
  AuthServer,
  (s) => s.refreshTokens
)

/**
 * Approves a pending device-flow user code at the server in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * // approve every code waiting
 * const approveAll = Effect.flatMap(AuthServer.pendingUserCodes, Effect.forEach(AuthServer.approve))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const approve = (userCode: string): Effect.Effect<boolean, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.approve(userCode))

/**
 * Denies a pending device-flow user code at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const deny = (userCode: string): Effect.Effect<boolean, never, AuthServer> =>
  Effect.flatMap(AuthServer, (s) => s.deny(userCode))

/**
 * The device-flow user codes waiting for approval at the server in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const pendingUserCodes: Effect.Effect<ReadonlyArray<string>, never, AuthServer> = Effect.flatMap(
  AuthServer,
  (s) => s.pendingUserCodes
)

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
 * - RFC 8707 resource indicators: a client may register the resources it asks tokens for (`resources`,
 *   with their audiences and scopes); another is refused with `invalid_target`. Scopes outside a client's
 *   are refused (`invalid_scope`) or left out (`scopePolicy: "narrow"`, RFC 6749 §3.3).
 * - `POST /introspect`: RFC 7662 introspection (scope, `aud`, resources of a token).
 * - API routes (`api.routes`) that require a resource or scopes, answering a token without them with an
 *   RFC 6750 §3.1 `insufficient_scope` challenge naming the scope needed.
 * - `POST /revoke`: RFC 7009 token revocation; `revoke` and `revokeClient` do the same from the test.
 * - Refresh tokens (`grant_type=refresh_token`), rotated by default: a replayed one is refused and revokes
 *   its whole login; `issueRefreshToken` hands one out as if from an earlier login.
 * - The device flow (RFC 8628): `POST /device_authorization`, the device code grant (pending, `slow_down`,
 *   denied, expired), a `/device` page, and `approve` / `deny` / `pendingUserCodes` for tests.
 * - RFC 8693 token exchange of the tokens it issued, when `tokenExchange` is given; grant types a test
 *   registers itself (`grantTypes`: a vendor's `urn:vendor:grant:api-key`, say).
 * - `/.well-known/oauth-authorization-server` (and `/.well-known/openid-configuration`): an RFC 8414
 *   discovery document listing what the server supports.
 * - Fault injection on `/token` (error statuses, `Retry-After`, hangs, connection resets, malformed
 *   bodies, `expires_in` variants, latency), and counters of what it answered.
 *
 * Time is the `Clock` of the context the layer is built in: build it inside an `it.effect` test and
 * `TestClock` decides when tokens expire and how long injected latency lasts. Tests in plain async code
 * use `start` (`await AuthServer.start(options)`, then `await server.stop()`), on the real clock.
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
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as http from "node:http"
import type { Options } from "./AuthServer/models.js"
import { AuthServer, type Service } from "./AuthServer/service.js"
import * as internal from "./internal/authServer.js"
import * as Promised from "./internal/promised.js"

export * from "./AuthServer/accessors.js"
export { Fault } from "./AuthServer/fault.js"
export * from "./AuthServer/grants.js"
export type * from "./AuthServer/models.js"
export { AuthServer, type Service } from "./AuthServer/service.js"

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
 * A server started from plain async code (`start`): every member of `Service`, its Effects as functions
 * returning Promises (`await server.stats()`, `await server.inject(AuthServer.Fault.status(503))`), and
 * `stop`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Running extends Promised.Promised<Service> {
  /** The Effect side of the same server, for Effect code in the same test. */
  readonly service: Service
  /** Stops serving: hung requests end, the port is closed. Idempotent. */
  readonly stop: () => Promise<void>
}

/**
 * Starts the authorization server on a free port of 127.0.0.1, for tests written in plain async code
 * (no Effect in the test): the same server as `layer`, on the real clock. Call `stop` when done.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Grant, TokenManager, TokenService } from "tokenlayer"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const server = await AuthServer.start({ clients: [{ id: "app", secret: "s3cret" }] })
 * const tokens = TokenManager.make(
 *   TokenService.layer().pipe(
 *     Layer.provide(Grant.clientCredentials({
 *       tokenUrl: server.tokenUrl,
 *       clientId: "app",
 *       clientSecret: Redacted.make("s3cret")
 *     })),
 *     Layer.provide(NodeHttpClient.layerUndici)
 *   )
 * )
 * console.log(await tokens.getToken(), (await server.stats()).tokenRequests)
 * await tokens.dispose()
 * await server.stop()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options = {}): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const stop = () => Promised.run(Scope.close(scope, Exit.void))
  return Promised.run(Layer.buildWithScope(layer(options), scope)).then(
    (context) => {
      const service = Context.get(context, AuthServer)
      return { ...Promised.promised(service), service, stop }
    },
    (error: unknown) => stop().then(() => Promise.reject(error))
  )
}

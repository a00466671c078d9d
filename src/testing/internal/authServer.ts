/**
 * The embedded `AuthServer`: its state, the registration of clients, routing, the revocation and
 * discovery endpoints, the device flow's endpoints, and the test-side controls. The token endpoint is
 * `tokenServer.ts`, the protected API `apiServer.ts`, the protocol (client authentication, grants,
 * scopes) `oauthServer.ts` and the grant modules beside it.
 *
 * @internal
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as net from "node:net"
import type * as AuthServer from "../AuthServer.js"
import * as ApiServer from "./apiServer.js"
import * as CustomGrants from "./customGrants.js"
import * as DeviceServer from "./deviceServer.js"
import * as ExchangeServer from "./exchangeServer.js"
import { formEndpoint, json, readForm, socketOf } from "./httpParts.js"
import * as IntrospectServer from "./introspectServer.js"
import * as JwtServer from "./jwtServer.js"
import * as MtlsListener from "./mtlsListener.js"
import * as MtlsServer from "./mtlsServer.js"
import * as OAuth from "./oauthServer.js"
import * as RefreshServer from "./refreshServer.js"
import * as State from "./serverState.js"
import * as Target from "./targetServer.js"
import * as TokenServer from "./tokenServer.js"

/** @internal */
export const make = (
  options: AuthServer.Options = {}
): Effect.Effect<AuthServer.Service, never, HttpServer.HttpServer | Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    if (server.address._tag !== "TcpAddress") {
      return yield* Effect.dieMessage("AuthServer needs a TCP address")
    }
    const host = server.address.hostname === "0.0.0.0" ? "127.0.0.1" : server.address.hostname
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.address.port}`
    const tokenUrl = `${url}/token`
    const revocationUrl = `${url}/revoke`
    const introspectionUrl = `${url}/introspect`
    const discoveryUrl = `${url}/.well-known/oauth-authorization-server`
    const deviceAuthorizationUrl = `${url}/device_authorization`
    const verificationUrl = `${url}/device`
    // RFC 8705: an https listener that asks for a client certificate (and decides itself what to accept)
    const mtlsServer = options.mutualTls === undefined ? undefined : yield* MtlsListener.listen(options.mutualTls)
    const mtls = mtlsServer === undefined ? undefined : MtlsListener.urls(mtlsServer)
    // the Clock of the context the server is built in: a TestClock when built inside `it.effect`
    const clock = yield* Effect.clock

    // --- state ----------------------------------------------------------------------------------
    const defaultLifetime = Duration.decode(options.tokenLifetime ?? "1 hour")
    // service accounts and the jti of JWT assertions (jwtServer.ts), provided to every request below
    const jwt = JwtServer.make({ tokenUrl, issuer: url, defaultLifetime, serviceAccounts: options.serviceAccounts })
    const clients = new Map<string, OAuth.Client>()
    const lookup = (id: string) => clients.get(id)
    // refresh tokens and the device flow (refreshServer.ts, deviceServer.ts): state and grant handlers
    const refresh = RefreshServer.make()
    const devices = DeviceServer.make({
      verificationUrl,
      interval: Duration.decode(options.deviceFlow?.interval ?? "5 seconds"),
      lifetime: Duration.decode(options.deviceFlow?.lifetime ?? "10 minutes"),
      announceInterval: options.deviceFlow?.announceInterval ?? true,
      lookup,
      refresh
    })
    const state = State.make()
    // a test's own grant types first (they may replace a built-in one), token exchange when asked for
    const grantHandlers: ReadonlyArray<OAuth.GrantHandler> = [
      ...(options.grantTypes ?? []).map((grant) => CustomGrants.handler(grant, { lookup, defaultLifetime })),
      ...OAuth.grantHandlers,
      refresh.handler,
      devices.handler,
      ...(options.tokenExchange === undefined ? [] : [
        ExchangeServer.make({
          exchange: options.tokenExchange,
          token: (value) => state.tokensByValue.get(value),
          audiences: [url, tokenUrl]
        })
      ])
    ]

    const registerNow = (client: AuthServer.ClientRegistration): void => {
      const method = client.method ?? "client_secret_basic"
      if (client.secret === undefined && method.startsWith("client_secret_")) {
        throw new Error(`AuthServer: client ${client.id} (${method}) needs a secret`)
      }
      // a private_key_jwt client needs a public key that can verify (throws, as above, when not)
      if (method === "private_key_jwt") JwtServer.verifyKey(`client ${client.id}`, { publicKey: client.publicKey })
      if (method === "tls_client_auth" && client.tlsSubject === undefined && client.tlsSan === undefined) {
        throw new Error(`AuthServer: client ${client.id} (tls_client_auth) needs a tlsSubject or a tlsSan`)
      }
      if (method === "self_signed_tls_client_auth" && client.certificate === undefined) {
        throw new Error(`AuthServer: client ${client.id} (self_signed_tls_client_auth) needs a certificate`)
      }
      refresh.register(client)
      clients.set(client.id, {
        id: client.id,
        secret: client.secret ?? "",
        method: client.method ?? "client_secret_basic",
        tokenLifetime: client.tokenLifetime === undefined ? defaultLifetime : Duration.decode(client.tokenLifetime),
        scopes: client.scopes,
        publicKey: client.publicKey,
        scopePolicy: client.scopePolicy,
        resources: Target.resources(client.id, client.resources),
        tlsSubject: client.tlsSubject,
        tlsSan: client.tlsSan,
        ...(client.certificate === undefined
          ? {}
          : { certificateThumbprint: MtlsServer.thumbprintOfPem(`client ${client.id}`, client.certificate) })
      })
    }
    for (const client of options.clients ?? []) registerNow(client)

    // sockets with a request in flight, destroyed when the scope closes so that hung requests end
    const inFlight = new Set<net.Socket>()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const socket of inFlight) socket.destroy()
        inFlight.clear()
      })
    )

    // --- /token and /api/* ------------------------------------------------------------------------
    const token = TokenServer.make({ state, grantHandlers, lookup })
    const api = ApiServer.make(state, options.api)
    const introspection = IntrospectServer.make({ state, issuer: url, lookup })

    // --- /revoke (RFC 7009) -----------------------------------------------------------------------
    const revocation = (request: HttpServerRequest.HttpServerRequest) => {
      state.counters.revocationRequests++
      return formEndpoint(
        request,
        (endpointRequest) =>
          Effect.gen(function*() {
            const client = yield* OAuth.authenticateClient(endpointRequest, lookup)
            const value = yield* OAuth.param(endpointRequest.form, "token")
            if (value === undefined || value === "") return yield* Effect.fail(OAuth.invalidRequest("missing token"))
            const record = state.tokensByValue.get(value)
            // RFC 7009 §2.2: unknown tokens, and tokens of other clients, are answered 200 and left alone
            if (record !== undefined && record.clientId === client.id) record.revoked = true
            else if (record === undefined) refresh.revoke(value, client.id)
          }),
        () => HttpServerResponse.empty({ status: 200, headers: { "cache-control": "no-store" } })
      )
    }

    // --- discovery (RFC 8414) ---------------------------------------------------------------------
    const discovery = () => {
      state.counters.metadataRequests++
      const scopes = new Set<string>()
      for (const client of clients.values()) for (const scope of client.scopes ?? []) scopes.add(scope)
      // the mTLS methods only where a listener asks for certificates
      const methods = OAuth.clientAuthMethods.map((m) => m.name).filter((name) =>
        mtls !== undefined || !name.includes("tls_client_auth")
      )
      return json({
        issuer: url,
        token_endpoint: tokenUrl,
        revocation_endpoint: revocationUrl,
        device_authorization_endpoint: deviceAuthorizationUrl,
        grant_types_supported: grantHandlers.map((g) => g.grantType),
        token_endpoint_auth_methods_supported: methods,
        revocation_endpoint_auth_methods_supported: methods,
        ...(mtls === undefined ? {} : {
          mtls_endpoint_aliases: {
            token_endpoint: mtls.tokenUrl,
            revocation_endpoint: `${mtls.url}/revoke`,
            device_authorization_endpoint: `${mtls.url}/device_authorization`
          },
          tls_client_certificate_bound_access_tokens: true
        }),
        ...(scopes.size === 0 ? {} : { scopes_supported: [...scopes].sort() })
      })
    }

    // --- /device_authorization (RFC 8628 §3.1) and the verification page -------------------------
    const deviceAuthorization = (request: HttpServerRequest.HttpServerRequest) => {
      state.counters.deviceAuthorizationRequests++
      return formEndpoint(request, devices.authorize, (answer) => json(answer))
    }

    const verificationPage = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.flatMap(readForm(request), (endpointRequest) => devices.page(request, endpointRequest.form))

    // --- routing ----------------------------------------------------------------------------------
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const socket = socketOf(request)
      if (socket !== undefined) inFlight.add(socket)
      const path = new URL(request.url, url).pathname
      const handle = path === "/token"
        ? token(request)
        : path === "/revoke"
        ? revocation(request)
        : path === "/introspect"
        ? introspection(request)
        : path === "/device_authorization"
        ? deviceAuthorization(request)
        : path === "/device"
        ? verificationPage(request)
        : path === "/.well-known/oauth-authorization-server" || path === "/.well-known/openid-configuration"
        ? Effect.sync(discovery)
        : path === "/api" || path.startsWith("/api/")
        ? api(request, path)
        : Effect.succeed(json({ error: "not_found", error_description: `no route for ${path}` }, 404))
      return yield* Effect.ensuring(
        handle,
        Effect.sync(() => {
          if (socket !== undefined) inFlight.delete(socket)
        })
      )
    }).pipe(Effect.withClock(clock), Effect.provideService(JwtServer.CurrentJwtState, jwt))

    yield* HttpServer.serveEffect(app)
    if (mtlsServer !== undefined) {
      yield* Effect.provideService(HttpServer.serveEffect(app), HttpServer.HttpServer, mtlsServer)
    }

    const service: AuthServer.Service = {
      url,
      issuer: url,
      tokenUrl,
      revocationUrl,
      introspectionUrl,
      discoveryUrl,
      deviceAuthorizationUrl,
      verificationUrl,
      apiUrl: (path = "") => `${url}/api/${path.replace(/^\/+/, "")}`,
      ...(mtls === undefined ? {} : { mtls }),
      register: (client) => Effect.sync(() => registerNow(client)),
      registerServiceAccount: (account) => Effect.sync(() => jwt.register(account)),
      inject: (...faults) => Effect.sync(() => void state.faults.push(...faults)),
      injectAlways: (fault) =>
        Effect.sync(() => {
          state.alwaysFault = fault
        }),
      setApiAlwaysUnauthorized: (on) =>
        Effect.sync(() => {
          state.apiAlwaysUnauthorized = on
        }),
      revoke: (accessToken) =>
        Effect.sync(() => {
          const value = typeof accessToken === "string" ? accessToken : Redacted.value(accessToken)
          const record = state.tokensByValue.get(value)
          if (record === undefined) return refresh.revoke(value)
          if (record.revoked) return false
          record.revoked = true
          return true
        }),
      revokeClient: (clientId) =>
        Effect.sync(() => {
          let count = 0
          for (const record of state.tokens) {
            if (record.clientId === clientId && !record.revoked) {
              record.revoked = true
              count++
            }
          }
          return count + refresh.revokeClient(clientId)
        }),
      stats: Effect.sync(() => State.stats(state)),
      tokens: Effect.sync(() => state.tokens.map(State.issuedToken)),
      resetStats: Effect.sync(() => State.resetCounters(state)),
      issueRefreshToken: (clientId, issueOptions) =>
        Effect.suspend(() =>
          clients.has(clientId)
            ? Effect.map(refresh.issue(clientId, issueOptions?.scope ?? []), Redacted.make)
            : Effect.dieMessage(`AuthServer.issueRefreshToken: unknown client ${clientId}`)
        ),
      refreshTokens: Effect.sync(() =>
        refresh.list().map((r) => ({
          refreshToken: Redacted.make(r.value),
          clientId: r.family.clientId,
          scope: r.family.scope,
          issuedAt: r.issuedAt,
          spent: r.spent,
          revoked: r.family.revoked
        }))
      ),
      approve: (userCode) => devices.decide(userCode, "approved"),
      deny: (userCode) => devices.decide(userCode, "denied"),
      pendingUserCodes: devices.pending
    }
    return service
  })

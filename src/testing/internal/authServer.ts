/**
 * The HTTP side of the embedded `AuthServer`: routing, state, counters, fault injection and shutdown.
 * The protocol (client authentication, grants, scopes) is in `oauthServer.ts`.
 *
 * @internal
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as net from "node:net"
import type * as AuthServer from "../AuthServer.js"
import * as DeviceServer from "./deviceServer.js"
import * as OAuth from "./oauthServer.js"
// after oauthServer.js, which imports jwtServer.js for its tables (see jwtServer.ts)
import * as JwtServer from "./jwtServer.js"
import * as RefreshServer from "./refreshServer.js"

type Counters = Record<string, number>

const jsonHeaders = { "cache-control": "no-store", pragma: "no-cache" } as const

const json = (
  body: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(JSON.stringify(body), {
    status,
    contentType: "application/json",
    headers: { ...jsonHeaders, ...headers }
  })

const errorResponse = (error: OAuth.OAuthError): HttpServerResponse.HttpServerResponse =>
  json({ error: error.error, error_description: error.description }, error.status, error.headers ?? {})

const bump = (counters: Counters, key: string | number): void => {
  counters[key] = (counters[key] ?? 0) + 1
}

const htmlPage = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>" +
  "<body><h1>Please sign in</h1><form method=\"post\"><input name=\"user\"></form></body></html>\n"

/** `application/x-www-form-urlencoded`, whatever its parameters (`; charset=UTF-8`). */
const isForm = (contentType: string | undefined): boolean =>
  (contentType ?? "").split(";")[0]!.trim().toLowerCase() === "application/x-www-form-urlencoded"

/** The socket under a Node request, when the `HttpServer` is Node's. */
const socketOf = (request: HttpServerRequest.HttpServerRequest): net.Socket | undefined => {
  const incoming: unknown = NodeHttpServerRequest.toIncomingMessage(request)
  if (typeof incoming !== "object" || incoming === null || !("socket" in incoming)) return undefined
  const socket = (incoming as { readonly socket: unknown }).socket
  return typeof socket === "object" && socket !== null && "destroy" in socket ? socket as net.Socket : undefined
}

const emptyUnauthorized = (): Record<AuthServer.UnauthorizedReason, number> => ({
  missing: 0,
  unknown: 0,
  expired: 0,
  revoked: 0,
  forced: 0
})

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
    const discoveryUrl = `${url}/.well-known/oauth-authorization-server`
    const deviceAuthorizationUrl = `${url}/device_authorization`
    const verificationUrl = `${url}/device`
    // the Clock of the context the server is built in: a TestClock when built inside `it.effect`
    const clock = yield* Effect.clock

    // --- state ----------------------------------------------------------------------------------
    const defaultLifetime = Duration.decode(options.tokenLifetime ?? "1 hour")
    // service accounts and the jti of JWT assertions (jwtServer.ts), provided to every request below
    const jwt = JwtServer.make({ tokenUrl, issuer: url, defaultLifetime, serviceAccounts: options.serviceAccounts })
    const clients = new Map<string, OAuth.Client>()
    // refresh tokens and the device flow (refreshServer.ts, deviceServer.ts): state and grant handlers
    const refresh = RefreshServer.make()
    const devices = DeviceServer.make({
      verificationUrl,
      interval: Duration.decode(options.deviceFlow?.interval ?? "5 seconds"),
      lifetime: Duration.decode(options.deviceFlow?.lifetime ?? "10 minutes"),
      announceInterval: options.deviceFlow?.announceInterval ?? true,
      lookup: (id) => clients.get(id),
      refresh
    })
    const grantHandlers: ReadonlyArray<OAuth.GrantHandler> = [...OAuth.grantHandlers, refresh.handler, devices.handler]
    const tokenList: Array<OAuth.TokenRecord> = []
    const tokensByValue = new Map<string, OAuth.TokenRecord>()
    const faultQueue: Array<AuthServer.Fault> = []
    let alwaysFault: AuthServer.Fault | undefined = undefined
    let apiAlwaysUnauthorized = false

    let tokenRequests = 0
    let tokenRequestsBy: Record<string, Counters> = {}
    let apiRequests = 0
    let apiByStatus: Counters = {}
    let unauthorizedBy = emptyUnauthorized()
    let revocationRequests = 0
    let deviceAuthorizationRequests = 0
    let metadataRequests = 0

    const registerNow = (client: AuthServer.ClientRegistration): void => {
      const method = client.method ?? "client_secret_basic"
      if (client.secret === undefined && method.startsWith("client_secret_")) {
        throw new Error(`AuthServer: client ${client.id} (${method}) needs a secret`)
      }
      // a private_key_jwt client needs a public key that can verify (throws, as above, when not)
      if (method === "private_key_jwt") JwtServer.verifyKey(`client ${client.id}`, { publicKey: client.publicKey })
      refresh.register(client)
      clients.set(client.id, {
        id: client.id,
        secret: client.secret ?? "",
        method: client.method ?? "client_secret_basic",
        tokenLifetime: client.tokenLifetime === undefined ? defaultLifetime : Duration.decode(client.tokenLifetime),
        scopes: client.scopes,
        publicKey: client.publicKey
      })
    }
    for (const client of options.clients ?? []) registerNow(client)
    const lookup = (id: string) => clients.get(id)

    // sockets with a request in flight, destroyed when the scope closes so that hung requests end
    const inFlight = new Set<net.Socket>()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const socket of inFlight) socket.destroy()
        inFlight.clear()
      })
    )

    const countToken = (clientId: string, outcome: string): void => {
      bump(tokenRequestsBy[clientId] ??= {}, outcome)
    }

    // --- /token ---------------------------------------------------------------------------------
    const issue = (lifetimeOverride: number | undefined): OAuth.GrantContext["issue"] => (grant) =>
      Effect.map(DateTime.now, (now) => {
        const seconds = lifetimeOverride ?? Math.floor(Duration.toSeconds(grant.client.tokenLifetime))
        const record: OAuth.TokenRecord = {
          value: OAuth.randomToken(),
          clientId: grant.client.id,
          grantType: grant.grantType,
          scope: grant.scope,
          issuedAt: now,
          expiresAt: DateTime.addDuration(now, Duration.seconds(seconds)),
          revoked: false
        }
        tokenList.push(record)
        tokensByValue.set(record.value, record)
        return record
      })

    /** The token endpoint's own answer, before any fault changes its body. */
    const grantFor = (
      request: OAuth.EndpointRequest,
      lifetimeOverride: number | undefined
    ): Effect.Effect<OAuth.GrantResult, OAuth.OAuthError> =>
      Effect.gen(function*() {
        const grantType = yield* OAuth.param(request.form, "grant_type")
        if (grantType === undefined || grantType === "") {
          return yield* Effect.fail(OAuth.invalidRequest("missing grant_type"))
        }
        const handler = grantHandlers.find((g) => g.grantType === grantType)
        if (handler === undefined) {
          return yield* Effect.fail(
            new OAuth.OAuthError({
              status: 400,
              error: "unsupported_grant_type",
              description: `grant_type ${grantType} is not supported`
            })
          )
        }
        return yield* handler.handle({
          request,
          claimsClient: OAuth.claimedClientId(request) !== undefined,
          authenticateClient: OAuth.authenticateClient(request, lookup),
          issue: issue(lifetimeOverride)
        })
      })

    const tokenBody = (result: OAuth.GrantResult, fault: AuthServer.Fault | undefined): Record<string, unknown> => {
      const { token } = result
      const seconds = Math.round(DateTime.distance(token.issuedAt, token.expiresAt) / 1000)
      const body: Record<string, unknown> = { access_token: token.value, token_type: "Bearer" }
      if (fault?._tag === "ExpiresInString") body.expires_in = fault.value ?? String(seconds)
      else if (fault?._tag !== "ExpiresInMissing") body.expires_in = seconds
      if (token.scope.length > 0) body.scope = token.scope.join(" ")
      return { ...body, ...result.extra }
    }

    const readForm = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.map(
        Effect.orElseSucceed(request.text, () => ""),
        (text): OAuth.EndpointRequest => ({
          headers: request.headers,
          form: new URLSearchParams(isForm(request.headers["content-type"]) ? text : "")
        })
      )

    /** Method and content type, checked before anything else. */
    const checkForm = (request: HttpServerRequest.HttpServerRequest): OAuth.OAuthError | undefined =>
      request.method !== "POST"
        ? new OAuth.OAuthError({
          status: 405,
          error: "invalid_request",
          description: "use POST",
          headers: { allow: "POST" }
        })
        : !isForm(request.headers["content-type"])
        ? OAuth.invalidRequest("the body must be application/x-www-form-urlencoded")
        : undefined

    const token = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        tokenRequests++
        const endpointRequest = yield* readForm(request)
        const clientId = OAuth.claimedClientId(endpointRequest) ??
          OAuth.assertionIssuer(endpointRequest.form.get("assertion")) ?? "-"
        const fault = faultQueue.shift() ?? alwaysFault

        switch (fault?._tag) {
          case "Status": {
            countToken(clientId, "Status")
            const headers: Record<string, string> = { "cache-control": "no-store" }
            if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter)
            return fault.error === undefined
              ? HttpServerResponse.empty({ status: fault.status, headers })
              : json(
                { error: fault.error, error_description: fault.description ?? "injected fault" },
                fault.status,
                headers
              )
          }
          case "Hang": {
            countToken(clientId, "Hang")
            return yield* Effect.never
          }
          case "Reset": {
            countToken(clientId, "Reset")
            const socket = socketOf(request)
            if (socket === undefined) return yield* Effect.dieMessage("AuthServer: Reset needs a Node HttpServer")
            socket.destroy()
            return yield* Effect.never
          }
          case "MalformedJson": {
            countToken(clientId, "MalformedJson")
            const body = JSON.stringify({ access_token: OAuth.randomToken(), token_type: "Bearer", expires_in: 3600 })
            return HttpServerResponse.text(body.slice(0, body.length - 7), {
              contentType: "application/json",
              headers: jsonHeaders
            })
          }
          case "Html": {
            countToken(clientId, "Html")
            return HttpServerResponse.text(htmlPage, { contentType: "text/html; charset=utf-8" })
          }
          case "Latency": {
            yield* Effect.sleep(fault.duration)
            break
          }
        }

        const invalid = checkForm(request)
        const answer = yield* Effect.either(
          invalid === undefined
            ? grantFor(endpointRequest, fault?._tag === "ExpiresIn" ? fault.seconds : undefined)
            : Effect.fail(invalid)
        )
        if (Either.isLeft(answer)) {
          countToken(clientId, answer.left.error)
          return errorResponse(answer.left)
        }
        countToken(clientId, "issued")
        return json(tokenBody(answer.right, fault))
      })

    // --- /revoke (RFC 7009) -----------------------------------------------------------------------
    const revocation = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        revocationRequests++
        const endpointRequest = yield* readForm(request)
        const answer = yield* Effect.either(Effect.gen(function*() {
          const invalid = checkForm(request)
          if (invalid !== undefined) return yield* Effect.fail(invalid)
          const client = yield* OAuth.authenticateClient(endpointRequest, lookup)
          const value = yield* OAuth.param(endpointRequest.form, "token")
          if (value === undefined || value === "") return yield* Effect.fail(OAuth.invalidRequest("missing token"))
          const record = tokensByValue.get(value)
          // RFC 7009 §2.2: unknown tokens, and tokens of other clients, are answered 200 and left alone
          if (record !== undefined && record.clientId === client.id) record.revoked = true
          else if (record === undefined) refresh.revoke(value, client.id)
        }))
        return Either.isLeft(answer)
          ? errorResponse(answer.left)
          : HttpServerResponse.empty({ status: 200, headers: { "cache-control": "no-store" } })
      })

    // --- discovery (RFC 8414) ---------------------------------------------------------------------
    const discovery = () => {
      metadataRequests++
      const scopes = new Set<string>()
      for (const client of clients.values()) for (const scope of client.scopes ?? []) scopes.add(scope)
      const methods = OAuth.clientAuthMethods.map((m) => m.name)
      return json({
        issuer: url,
        token_endpoint: tokenUrl,
        revocation_endpoint: revocationUrl,
        device_authorization_endpoint: deviceAuthorizationUrl,
        grant_types_supported: grantHandlers.map((g) => g.grantType),
        token_endpoint_auth_methods_supported: methods,
        revocation_endpoint_auth_methods_supported: methods,
        ...(scopes.size === 0 ? {} : { scopes_supported: [...scopes].sort() })
      })
    }

    // --- /device_authorization (RFC 8628 §3.1) and the verification page -------------------------
    const deviceAuthorization = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        deviceAuthorizationRequests++
        const endpointRequest = yield* readForm(request)
        const invalid = checkForm(request)
        const answer = yield* Effect.either(
          invalid === undefined ? devices.authorize(endpointRequest) : Effect.fail(invalid)
        )
        return Either.isLeft(answer) ? errorResponse(answer.left) : json(answer.right)
      })

    const verificationPage = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.flatMap(readForm(request), (endpointRequest) => devices.page(request, endpointRequest.form))

    // --- /api/* (RFC 6750) ------------------------------------------------------------------------
    const unauthorized = (reason: AuthServer.UnauthorizedReason, description: string) => {
      unauthorizedBy[reason]++
      const challenge = reason === "missing"
        ? `Bearer realm="${OAuth.realm}"`
        : `Bearer realm="${OAuth.realm}", error="invalid_token", error_description="${description}"`
      return json(
        { error: reason === "missing" ? "unauthorized" : "invalid_token", error_description: description },
        401,
        {
          "www-authenticate": challenge
        }
      )
    }

    const api = (request: HttpServerRequest.HttpServerRequest, path: string) =>
      Effect.gen(function*() {
        apiRequests++
        const response = yield* Effect.gen(function*() {
          if (apiAlwaysUnauthorized) return unauthorized("forced", "the server refuses every token")
          const match = /^bearer +(\S+) *$/i.exec(request.headers["authorization"] ?? "")
          if (match === null) return unauthorized("missing", "no Bearer token")
          const record = tokensByValue.get(match[1]!)
          if (record === undefined) return unauthorized("unknown", "unknown access token")
          if (record.revoked) return unauthorized("revoked", "the access token was revoked")
          const now = yield* DateTime.now
          if (!DateTime.lessThan(now, record.expiresAt)) return unauthorized("expired", "the access token expired")
          return json({
            ok: true,
            method: request.method,
            path,
            client_id: record.clientId,
            ...(record.scope.length === 0 ? {} : { scope: record.scope.join(" ") })
          })
        })
        bump(apiByStatus, response.status)
        return response
      })

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

    const snapshot = (record: OAuth.TokenRecord): AuthServer.IssuedToken => ({
      accessToken: Redacted.make(record.value),
      clientId: record.clientId,
      grantType: record.grantType,
      scope: record.scope,
      issuedAt: record.issuedAt,
      expiresAt: record.expiresAt,
      revoked: record.revoked
    })

    const service: AuthServer.Service = {
      url,
      issuer: url,
      tokenUrl,
      revocationUrl,
      discoveryUrl,
      deviceAuthorizationUrl,
      verificationUrl,
      apiUrl: (path = "") => `${url}/api/${path.replace(/^\/+/, "")}`,
      register: (client) => Effect.sync(() => registerNow(client)),
      registerServiceAccount: (account) => Effect.sync(() => jwt.register(account)),
      inject: (...faults) => Effect.sync(() => void faultQueue.push(...faults)),
      injectAlways: (fault) =>
        Effect.sync(() => {
          alwaysFault = fault
        }),
      setApiAlwaysUnauthorized: (on) =>
        Effect.sync(() => {
          apiAlwaysUnauthorized = on
        }),
      revoke: (accessToken) =>
        Effect.sync(() => {
          const value = typeof accessToken === "string" ? accessToken : Redacted.value(accessToken)
          const record = tokensByValue.get(value)
          if (record === undefined) return refresh.revoke(value)
          if (record.revoked) return false
          record.revoked = true
          return true
        }),
      revokeClient: (clientId) =>
        Effect.sync(() => {
          let count = 0
          for (const record of tokenList) {
            if (record.clientId === clientId && !record.revoked) {
              record.revoked = true
              count++
            }
          }
          return count + refresh.revokeClient(clientId)
        }),
      stats: Effect.sync(() => ({
        tokenRequests,
        tokenRequestsBy: Object.fromEntries(
          Object.entries(tokenRequestsBy).map(([client, outcomes]) => [client, { ...outcomes }])
        ),
        apiRequests,
        apiByStatus: { ...apiByStatus },
        unauthorizedBy: { ...unauthorizedBy },
        revocationRequests,
        deviceAuthorizationRequests,
        metadataRequests
      })),
      tokens: Effect.sync(() => tokenList.map(snapshot)),
      resetStats: Effect.sync(() => {
        tokenRequests = 0
        tokenRequestsBy = {}
        apiRequests = 0
        apiByStatus = {}
        unauthorizedBy = emptyUnauthorized()
        revocationRequests = 0
        deviceAuthorizationRequests = 0
        metadataRequests = 0
      }),
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

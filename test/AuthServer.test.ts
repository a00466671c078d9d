/**
 * The embedded AuthServer over real HTTP on 127.0.0.1: raw requests through `NodeHttpClient.layerUndici`
 * for what goes over the wire, and tokenlayer's own `Grant.clientCredentials` for what a client sees.
 * Each test builds its own server inside the test, so `TestClock` is the server's clock.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Fiber, Layer, Option, Redacted, Scope, TestClock } from "effect"
import type { Token } from "tokenlayer"
import { ClientAuth, Grant } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { basicHeader, send, tokenRequest } from "./support/authServer.js"
import { ioTurn, pollUntil } from "./support/tokenEndpoint.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

/** A secret with every character RFC 6749 §2.3.1's form encoding changes. */
const SECRET = "s3cr:et p@ss%+£€/=&"

const clients: ReadonlyArray<AuthServer.ClientRegistration> = [
  { id: "basic-app", secret: SECRET },
  { id: "post-app", secret: SECRET, method: "client_secret_post" },
  { id: "short-app", secret: "short", tokenLifetime: "1 minute" },
  { id: "scoped-app", secret: "scoped", scopes: ["read", "write"] },
  { id: "id:with space", secret: SECRET }
]

const TestLayer = Layer.merge(AuthServer.layer({ clients }), NodeHttpClient.layerUndici)

const Fault = AuthServer.Fault

const server = AuthServer.AuthServer

const apiRequest = (token: string | undefined, path = "things", method: "GET" | "DELETE" = "GET") =>
  Effect.flatMap(server, (s) => {
    const request = method === "GET" ? HttpClientRequest.get(s.apiUrl(path)) : HttpClientRequest.del(s.apiUrl(path))
    return send(token === undefined ? request : HttpClientRequest.setHeader(request, "authorization", token))
  })

/** One token request through tokenlayer's client credentials grant. */
const grantRequest = (
  clientId: string,
  secret: string,
  extra: Partial<Pick<Grant.ClientCredentialsOptions, "scope">> & { readonly post?: boolean } = {}
) =>
  Effect.gen(function*() {
    const s = yield* server
    const client = yield* HttpClient.HttpClient
    const grant = Grant.makeClientCredentials(
      extra.post
        ? { tokenUrl: s.tokenUrl, clientId, clientAuth: ClientAuth.post(Redacted.make(secret)), scope: extra.scope }
        : { tokenUrl: s.tokenUrl, clientId, clientSecret: Redacted.make(secret), scope: extra.scope },
      client
    )
    return yield* grant.request(Option.none())
  })

const basicToken = grantRequest("basic-app", SECRET)

const bearer = (token: Token.Token) => `Bearer ${Redacted.value(token.accessToken)}`

/** Waits (I/O turns, no Clock) until the server has received `count` token requests. */
const awaitTokenRequests = (count: number) =>
  Effect.flatMap(
    server,
    (s) => pollUntil(`${count} token request(s)`, Effect.map(s.stats, (stats) => stats.tokenRequests >= count))
  )

// -----------------------------------------------------------------------------
// token endpoint
// -----------------------------------------------------------------------------

describe("AuthServer token endpoint", () => {
  it.effect("issues opaque Bearer tokens to a client_secret_basic client", () =>
    Effect.gen(function*() {
      const answer = yield* tokenRequest({ grant_type: "client_credentials" }, {
        authorization: basicHeader("basic-app", SECRET)
      })
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.headers["cache-control"], "no-store")
      assert.match(answer.headers["content-type"] ?? "", /^application\/json/)
      const body = answer.json as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(body).sort(), ["access_token", "expires_in", "token_type"])
      assert.strictEqual(body.token_type, "Bearer")
      assert.strictEqual(body.expires_in, 3600)
      assert.match(body.access_token as string, /^[A-Za-z0-9_-]{43}$/)

      const second = yield* basicToken
      assert.notStrictEqual(Redacted.value(second.accessToken), body.access_token)
      assert.strictEqual(second.expiresIn, 3600)

      const tokens = yield* AuthServer.tokens
      assert.strictEqual(tokens.length, 2)
      assert.strictEqual(Redacted.value(tokens[0]!.accessToken), body.access_token)
      assert.strictEqual(tokens[0]!.clientId, "basic-app")
      assert.strictEqual(tokens[0]!.grantType, "client_credentials")
      assert.strictEqual(
        Duration.toSeconds(Duration.millis(tokens[0]!.expiresAt.epochMillis - tokens[0]!.issuedAt.epochMillis)),
        3600
      )
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "basic-app": { issued: 2 } })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("decodes Basic credentials as RFC 6749 §2.3.1 says (form-encoded id and secret)", () =>
    Effect.gen(function*() {
      const token = yield* grantRequest("id:with space", SECRET)
      const [issued] = yield* AuthServer.tokens
      assert.strictEqual(issued!.clientId, "id:with space")
      assert.strictEqual(Redacted.value(issued!.accessToken), Redacted.value(token.accessToken))
    }).pipe(Effect.provide(TestLayer)))

  it.effect("issues tokens to a client_secret_post client", () =>
    Effect.gen(function*() {
      const token = yield* grantRequest("post-app", SECRET, { post: true })
      assert.strictEqual(token.tokenType, "Bearer")
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "post-app": { issued: 1 } })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("refuses a client that uses the other method, or a wrong secret: invalid_client, 401", () =>
    Effect.gen(function*() {
      // a basic client that sends its secret in the body
      const postForBasic = yield* tokenRequest({
        grant_type: "client_credentials",
        client_id: "basic-app",
        client_secret: SECRET
      })
      assert.strictEqual(postForBasic.status, 401)
      assert.strictEqual((postForBasic.json as { error: string }).error, "invalid_client")
      assert.strictEqual(postForBasic.headers["www-authenticate"], "Basic realm=\"tokenlayer\"")
      assert.strictEqual(postForBasic.headers["cache-control"], "no-store")

      // a post client that uses HTTP Basic
      const basicForPost = yield* tokenRequest({ grant_type: "client_credentials" }, {
        authorization: basicHeader("post-app", SECRET)
      })
      assert.strictEqual(basicForPost.status, 401)
      assert.strictEqual((basicForPost.json as { error: string }).error, "invalid_client")
      assert.strictEqual(basicForPost.headers["www-authenticate"], "Basic realm=\"tokenlayer\"")

      // wrong secrets, both ways; a post client is not challenged
      const wrongBasic = yield* Effect.flip(grantRequest("basic-app", "nope"))
      assert.strictEqual(wrongBasic.status, 401)
      assert.strictEqual(wrongBasic.error, "invalid_client")
      const wrongPost = yield* tokenRequest({
        grant_type: "client_credentials",
        client_id: "post-app",
        client_secret: "nope"
      })
      assert.strictEqual(wrongPost.status, 401)
      assert.strictEqual((wrongPost.json as { error: string }).error, "invalid_client")
      assert.isUndefined(wrongPost.headers["www-authenticate"])

      // unknown client, no credentials at all, two methods at once
      const unknown = yield* Effect.flip(grantRequest("nobody", SECRET))
      assert.strictEqual(unknown.error, "invalid_client")
      const none = yield* tokenRequest({ grant_type: "client_credentials" })
      assert.strictEqual(none.status, 401)
      assert.strictEqual((none.json as { error: string }).error, "invalid_client")
      const both = yield* tokenRequest({
        grant_type: "client_credentials",
        client_id: "basic-app",
        client_secret: SECRET
      }, { authorization: basicHeader("basic-app", SECRET) })
      assert.strictEqual(both.status, 400)
      assert.strictEqual((both.json as { error: string }).error, "invalid_request")

      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, {
        "basic-app": { invalid_client: 2, invalid_request: 1 },
        "post-app": { invalid_client: 2 },
        nobody: { invalid_client: 1 },
        "-": { invalid_client: 1 }
      })
      assert.strictEqual((yield* AuthServer.tokens).length, 0)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("answers RFC 6749 §5.2 errors for bad grants and requests", () =>
    Effect.gen(function*() {
      const auth = { authorization: basicHeader("basic-app", SECRET) }
      const unsupported = yield* tokenRequest({ grant_type: "password", username: "u", password: "p" }, auth)
      assert.strictEqual(unsupported.status, 400)
      assert.strictEqual((unsupported.json as { error: string }).error, "unsupported_grant_type")
      assert.isString((unsupported.json as { error_description: string }).error_description)

      const missing = yield* tokenRequest({}, auth)
      assert.strictEqual(missing.status, 400)
      assert.strictEqual((missing.json as { error: string }).error, "invalid_request")

      const repeated = yield* Effect.flatMap(server, (s) =>
        send(
          HttpClientRequest.post(s.tokenUrl).pipe(
            HttpClientRequest.bodyText(
              "grant_type=client_credentials&grant_type=client_credentials",
              "application/x-www-form-urlencoded"
            ),
            HttpClientRequest.setHeaders(auth)
          )
        ))
      assert.strictEqual((repeated.json as { error: string }).error, "invalid_request")

      const json = yield* Effect.flatMap(server, (s) =>
        send(
          HttpClientRequest.post(s.tokenUrl).pipe(
            HttpClientRequest.bodyUnsafeJson({ grant_type: "client_credentials" }),
            HttpClientRequest.setHeaders(auth)
          )
        ))
      assert.strictEqual((json.json as { error: string }).error, "invalid_request")

      const get = yield* Effect.flatMap(server, (s) => send(HttpClientRequest.get(s.tokenUrl)))
      assert.strictEqual(get.status, 405)
      assert.strictEqual(get.headers["allow"], "POST")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("grants scopes: any for clients without registered scopes, only registered ones otherwise", () =>
    Effect.gen(function*() {
      const free = yield* grantRequest("basic-app", SECRET, { scope: ["b", "a", "b"] })
      assert.strictEqual(free.scope, "b a")
      const none = yield* basicToken
      assert.isUndefined(none.scope)

      const asked = yield* grantRequest("scoped-app", "scoped", { scope: "read" })
      assert.strictEqual(asked.scope, "read")
      const all = yield* grantRequest("scoped-app", "scoped")
      assert.strictEqual(all.scope, "read write")
      const refused = yield* Effect.flip(grantRequest("scoped-app", "scoped", { scope: "read admin" }))
      assert.strictEqual(refused.status, 400)
      assert.strictEqual(refused.error, "invalid_scope")

      const tokens = yield* AuthServer.tokens
      assert.deepStrictEqual(tokens.map((t) => t.scope), [["b", "a"], [], ["read"], ["read", "write"]])
      const api = yield* apiRequest(`Bearer ${Redacted.value(tokens[2]!.accessToken)}`)
      assert.strictEqual((api.json as { scope: string }).scope, "read")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("registers clients at run time, with their own lifetime", () =>
    Effect.gen(function*() {
      yield* AuthServer.register({ id: "late", secret: "x", method: "client_secret_post", tokenLifetime: "90 seconds" })
      const token = yield* grantRequest("late", "x", { post: true })
      assert.strictEqual(token.expiresIn, 90)
      assert.strictEqual((yield* grantRequest("short-app", "short")).expiresIn, 60)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("serves a discovery document of what it supports", () =>
    Effect.gen(function*() {
      const s = yield* server
      assert.strictEqual(s.issuer, s.url)
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const rfc8414 = yield* send(HttpClientRequest.get(s.discoveryUrl))
      const oidc = yield* send(HttpClientRequest.get(`${s.url}/.well-known/openid-configuration`))
      const methods = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]
      assert.strictEqual(rfc8414.status, 200)
      assert.deepStrictEqual(oidc.json, rfc8414.json)
      assert.deepStrictEqual(rfc8414.json, {
        issuer: s.url,
        token_endpoint: s.tokenUrl,
        revocation_endpoint: s.revocationUrl,
        device_authorization_endpoint: s.deviceAuthorizationUrl,
        grant_types_supported: [
          "client_credentials",
          "urn:ietf:params:oauth:grant-type:jwt-bearer",
          "refresh_token",
          "urn:ietf:params:oauth:grant-type:device_code"
        ],
        token_endpoint_auth_methods_supported: methods,
        revocation_endpoint_auth_methods_supported: methods,
        scopes_supported: ["read", "write"]
      })
      const missing = yield* send(HttpClientRequest.get(`${s.url}/nothing`))
      assert.strictEqual(missing.status, 404)
    }).pipe(Effect.provide(TestLayer)))
})

// -----------------------------------------------------------------------------
// protected API and revocation
// -----------------------------------------------------------------------------

describe("AuthServer API", () => {
  it.effect("answers 200 for a valid token and 401 with an RFC 6750 challenge otherwise", () =>
    Effect.gen(function*() {
      const token = yield* grantRequest("short-app", "short")
      const ok = yield* apiRequest(bearer(token), "things/1")
      assert.strictEqual(ok.status, 200)
      assert.deepStrictEqual(ok.json, { ok: true, method: "GET", path: "/api/things/1", client_id: "short-app" })
      const lowerCase = yield* apiRequest(`bearer ${Redacted.value(token.accessToken)}`, "x", "DELETE")
      assert.strictEqual(lowerCase.status, 200)
      assert.strictEqual((lowerCase.json as { method: string }).method, "DELETE")

      const missing = yield* apiRequest(undefined)
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(missing.headers["www-authenticate"], "Bearer realm=\"tokenlayer\"")
      const basic = yield* apiRequest(basicHeader("short-app", "short"))
      assert.strictEqual(basic.status, 401)

      const unknown = yield* apiRequest("Bearer not-a-token")
      assert.strictEqual(unknown.status, 401)
      assert.match(
        unknown.headers["www-authenticate"] ?? "",
        /^Bearer realm="tokenlayer", error="invalid_token", error_description="[^"]+"$/
      )

      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* apiRequest(bearer(token))).status, 200)
      yield* TestClock.adjust("1 second")
      const expired = yield* apiRequest(bearer(token))
      assert.strictEqual(expired.status, 401)
      assert.match(expired.headers["www-authenticate"] ?? "", /error="invalid_token"/)
      assert.match(expired.headers["www-authenticate"] ?? "", /expired/)

      const stats = yield* AuthServer.stats
      assert.strictEqual(stats.apiRequests, 7)
      assert.deepStrictEqual(stats.apiByStatus, { 200: 3, 401: 4 })
      assert.deepStrictEqual(stats.unauthorizedBy, {
        missing: 2,
        unknown: 1,
        expired: 1,
        revoked: 0,
        forced: 0,
        certificate: 0
      })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("refuses revoked tokens: by value, by client, and through POST /revoke (RFC 7009)", () =>
    Effect.gen(function*() {
      const s = yield* server
      const first = yield* basicToken
      const second = yield* basicToken
      const other = yield* grantRequest("post-app", SECRET, { post: true })

      assert.isTrue(yield* AuthServer.revoke(first.accessToken))
      assert.isFalse(yield* AuthServer.revoke(first.accessToken))
      assert.isFalse(yield* AuthServer.revoke("never-issued"))
      const revoked = yield* apiRequest(bearer(first))
      assert.strictEqual(revoked.status, 401)
      assert.match(revoked.headers["www-authenticate"] ?? "", /revoked/)
      assert.strictEqual((yield* apiRequest(bearer(second))).status, 200)

      assert.strictEqual(yield* AuthServer.revokeClient("basic-app"), 1)
      assert.strictEqual((yield* apiRequest(bearer(second))).status, 401)

      // RFC 7009: client-authenticated, always 200; a token of another client is left alone
      const revokeRequest = (form: Record<string, string>, auth: Record<string, string>) =>
        send(
          HttpClientRequest.post(s.revocationUrl).pipe(
            HttpClientRequest.bodyText(new URLSearchParams(form).toString(), "application/x-www-form-urlencoded"),
            HttpClientRequest.setHeaders(auth)
          )
        )
      const basicAuth = { authorization: basicHeader("basic-app", SECRET) }
      const notMine = yield* revokeRequest({ token: Redacted.value(other.accessToken) }, basicAuth)
      assert.strictEqual(notMine.status, 200)
      assert.strictEqual((yield* apiRequest(bearer(other))).status, 200)
      const unknown = yield* revokeRequest({ token: "never-issued" }, basicAuth)
      assert.strictEqual(unknown.status, 200)
      const mine = yield* revokeRequest(
        {
          token: Redacted.value(other.accessToken),
          token_type_hint: "access_token",
          client_id: "post-app",
          client_secret: SECRET
        },
        {}
      )
      assert.strictEqual(mine.status, 200)
      assert.strictEqual((yield* apiRequest(bearer(other))).status, 401)
      const unauthenticated = yield* revokeRequest({ token: Redacted.value(other.accessToken) }, {})
      assert.strictEqual(unauthenticated.status, 401)
      assert.strictEqual((unauthenticated.json as { error: string }).error, "invalid_client")
      const noToken = yield* revokeRequest({}, basicAuth)
      assert.strictEqual((noToken.json as { error: string }).error, "invalid_request")

      const stats = yield* AuthServer.stats
      assert.strictEqual(stats.revocationRequests, 5)
      assert.deepStrictEqual(stats.unauthorizedBy, {
        missing: 0,
        unknown: 0,
        expired: 0,
        revoked: 3,
        forced: 0,
        certificate: 0
      })
      assert.deepStrictEqual((yield* AuthServer.tokens).map((t) => t.revoked), [true, true, true])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("answers 401 to everything while told to, and counters reset", () =>
    Effect.gen(function*() {
      const token = yield* basicToken
      yield* AuthServer.setApiAlwaysUnauthorized(true)
      const forced = yield* apiRequest(bearer(token))
      assert.strictEqual(forced.status, 401)
      assert.match(forced.headers["www-authenticate"] ?? "", /error="invalid_token"/)
      yield* AuthServer.setApiAlwaysUnauthorized(false)
      assert.strictEqual((yield* apiRequest(bearer(token))).status, 200)
      assert.deepStrictEqual((yield* AuthServer.stats).unauthorizedBy.forced, 1)

      yield* AuthServer.resetStats
      assert.deepStrictEqual(yield* AuthServer.stats, {
        tokenRequests: 0,
        tokenRequestsBy: {},
        apiRequests: 0,
        apiByStatus: {},
        unauthorizedBy: { missing: 0, unknown: 0, expired: 0, revoked: 0, forced: 0, certificate: 0 },
        revocationRequests: 0,
        deviceAuthorizationRequests: 0,
        metadataRequests: 0
      })
      assert.strictEqual((yield* AuthServer.tokens).length, 1)
    }).pipe(Effect.provide(TestLayer)))
})

// -----------------------------------------------------------------------------
// fault injection, seen by tokenlayer's client
// -----------------------------------------------------------------------------

describe("AuthServer faults", () => {
  it.effect("status faults: the status, the RFC 6749 body, Retry-After; the queue is consumed one per request", () =>
    Effect.gen(function*() {
      yield* AuthServer.inject(
        Fault.status(503),
        Fault.tooManyRequests(30),
        Fault.status(400, { error: "invalid_grant", description: "no" }),
        Fault.status(500, { error: "server_error" })
      )
      const unavailable = yield* Effect.flip(basicToken)
      assert.strictEqual(unavailable.reason, "Status")
      assert.strictEqual(unavailable.status, 503)
      assert.isUndefined(unavailable.error)
      assert.isTrue(unavailable.isTransient)

      const tooMany = yield* Effect.flip(basicToken)
      assert.strictEqual(tooMany.status, 429)
      assert.deepStrictEqual(tooMany.retryAfter, Duration.seconds(30))

      const invalidGrant = yield* Effect.flip(basicToken)
      assert.strictEqual(invalidGrant.status, 400)
      assert.strictEqual(invalidGrant.error, "invalid_grant")
      assert.strictEqual(invalidGrant.errorDescription, "no")
      assert.isFalse(invalidGrant.isTransient)

      const serverError = yield* Effect.flip(basicToken)
      assert.strictEqual(serverError.status, 500)
      assert.strictEqual(serverError.error, "server_error")

      // the queue is empty again
      yield* basicToken
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "basic-app": { Status: 4, issued: 1 } })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("injectAlways: every request until cleared, after the queued faults", () =>
    Effect.gen(function*() {
      yield* AuthServer.injectAlways(Fault.status(502))
      yield* AuthServer.inject(Fault.html)
      assert.strictEqual((yield* Effect.flip(basicToken)).reason, "Decode")
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* Effect.flip(basicToken)).status, 502)
      yield* AuthServer.injectAlways(undefined)
      yield* basicToken
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, {
        "basic-app": { Html: 1, Status: 3, issued: 1 }
      })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("malformed JSON and HTML reach the client as Decode errors", () =>
    Effect.gen(function*() {
      yield* AuthServer.inject(Fault.malformedJson, Fault.html)
      const malformed = yield* tokenRequest({ grant_type: "client_credentials" }, {
        authorization: basicHeader("basic-app", SECRET)
      })
      assert.strictEqual(malformed.status, 200)
      assert.isUndefined(malformed.json)
      assert.match(malformed.text, /^\{"access_token":/)
      const html = yield* Effect.flip(basicToken)
      assert.strictEqual(html.reason, "Decode")
      assert.strictEqual(html.status, 200)
      assert.match(html.detail ?? "", /text\/html/)

      yield* AuthServer.inject(Fault.malformedJson)
      const decode = yield* Effect.flip(basicToken)
      assert.strictEqual(decode.reason, "Decode")
      assert.strictEqual((yield* AuthServer.tokens).length, 0)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("expires_in variants: missing, a string, an override the server holds to", () =>
    Effect.gen(function*() {
      yield* AuthServer.inject(
        Fault.expiresInMissing,
        Fault.expiresInString(),
        Fault.expiresInString("soon"),
        Fault.expiresIn(0)
      )
      const missing = yield* basicToken
      assert.isUndefined(missing.expiresIn)
      assert.isUndefined(missing.expiresAt)

      const asString = yield* tokenRequest({ grant_type: "client_credentials" }, {
        authorization: basicHeader("basic-app", SECRET)
      })
      assert.strictEqual((asString.json as { expires_in: unknown }).expires_in, "3600")
      const soon = yield* Effect.flip(basicToken)
      assert.strictEqual(soon.reason, "Decode")

      const due = yield* basicToken
      assert.strictEqual(due.expiresIn, 0)
      assert.strictEqual((yield* apiRequest(bearer(due))).status, 401)
      assert.strictEqual((yield* AuthServer.stats).unauthorizedBy.expired, 1)
      // the tokens of the modified answers were issued, and counted as such
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "basic-app": { issued: 4 } })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("latency delays the answer by the Clock", () =>
    Effect.gen(function*() {
      yield* AuthServer.inject(Fault.latency("10 seconds"))
      const fiber = yield* Effect.fork(basicToken)
      yield* awaitTokenRequests(1)
      for (let i = 0; i < 20; i++) yield* ioTurn
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("10 seconds")
      const token = yield* Fiber.join(fiber)
      assert.strictEqual(token.expiresIn, 3600)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("a hang lasts until the client's own timeout", () =>
    Effect.gen(function*() {
      yield* AuthServer.inject(Fault.hang)
      const fiber = yield* Effect.fork(Effect.timeout(basicToken, "5 seconds"))
      yield* awaitTokenRequests(1)
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.match(String(exit.cause), /TimeoutException/)
      // the server goes on answering
      yield* basicToken
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "basic-app": { Hang: 1, issued: 1 } })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("a hung request ends when the server's scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(AuthServer.layer({ clients }), scope)
      yield* AuthServer.inject(Fault.hang).pipe(Effect.provide(context))
      const fiber = yield* Effect.fork(Effect.provide(basicToken, context))
      yield* pollUntil(
        "the request",
        Effect.map(Context.get(context, server).stats, (s) => s.tokenRequests === 1)
      )
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error.reason, "Transport")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.effect("a reset is a transport error", () =>
    Effect.gen(function*() {
      yield* AuthServer.inject(Fault.reset)
      const error = yield* Effect.flip(basicToken)
      assert.strictEqual(error.reason, "Transport")
      assert.isTrue(error.isTransient)
      yield* basicToken
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "basic-app": { Reset: 1, issued: 1 } })
    }).pipe(Effect.provide(TestLayer)))
})

/**
 * The embedded AuthServer's optional grants over real HTTP on 127.0.0.1, on the wire: RFC 8693 token
 * exchange (`tokenExchange`) of the tokens it issued, with its refusals (§2.2.2) and hostile inputs, and a
 * grant type a test registers (`grantTypes`). Each test builds its own server, so `TestClock` is its clock.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, TestClock } from "effect"
import * as Jose from "jose"
import { AuthServer } from "tokenlayer/testing"
import { basicHeader, send, tokenRequest } from "./support/authServer.js"

const EXCHANGE = AuthServer.tokenExchangeGrantType
const ACCESS = AuthServer.TokenType.accessToken

const clients: ReadonlyArray<AuthServer.ClientRegistration> = [
  { id: "user-app", secret: "user-s3cret", tokenLifetime: "10 minutes", scopes: ["read", "write"] },
  { id: "gateway", secret: "gateway-s3cret", scopes: ["read", "invoices"] },
  { id: "outsider", secret: "outsider-s3cret" }
]

const exchangeOptions: AuthServer.TokenExchangeOptions = {
  clients: ["gateway"],
  audiences: ["billing", "crm"],
  resources: ["https://billing.example/api", "https://crm.example/api?tenant=7"]
}

const serverLayer = (options: AuthServer.Options) => Layer.merge(AuthServer.layer(options), NodeHttpClient.layerUndici)
const TestLayer = serverLayer({ clients, tokenExchange: exchangeOptions })

const gatewayAuth: Record<string, string> = { authorization: basicHeader("gateway", "gateway-s3cret") }

/** A token of `clientId`, by the client credentials grant (the subject of the exchanges below). */
const tokenOf = (clientId: string, secret: string, scope?: string) =>
  Effect.map(
    tokenRequest({ grant_type: "client_credentials", ...(scope === undefined ? {} : { scope }) }, {
      authorization: basicHeader(clientId, secret)
    }),
    (answer) => (answer.json as { readonly access_token: string }).access_token
  )

const userToken = tokenOf("user-app", "user-s3cret", "read")

/** An exchange request by the gateway: the subject token and the given parameters (pairs may repeat). */
const exchange = (subject: string, more: ReadonlyArray<readonly [string, string]> = [], headers = gatewayAuth) =>
  tokenRequest([
    ["grant_type", EXCHANGE],
    ["subject_token", subject],
    ["subject_token_type", ACCESS],
    ...more
  ], headers)

const apiStatus = (token: string) =>
  Effect.flatMap(
    AuthServer.AuthServer,
    (s) =>
      Effect.map(
        send(HttpClientRequest.get(s.apiUrl("me")).pipe(HttpClientRequest.bearerToken(token))),
        (a) => a.status
      )
  )

describe("AuthServer token exchange (RFC 8693)", () => {
  it.effect("exchanges a token it issued: issued_token_type, the targets recorded, capped by the subject", () =>
    Effect.gen(function*() {
      const subject = yield* userToken
      const answer = yield* exchange(subject, [["audience", "billing"], ["resource", "https://billing.example/api"]])
      assert.strictEqual(answer.status, 200)
      const body = answer.json as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(body).sort(), [
        "access_token",
        "expires_in",
        "issued_token_type",
        "scope",
        "token_type"
      ])
      assert.strictEqual(body.issued_token_type, ACCESS)
      assert.strictEqual(body.token_type, "Bearer")
      // the gateway's tokens live 1 hour, the subject 10 minutes: the exchanged token lives no longer
      assert.strictEqual(body.expires_in, 600)
      // no scope asked: the subject's, as far as the gateway may have it
      assert.strictEqual(body.scope, "read")
      assert.notStrictEqual(body.access_token, subject)
      assert.strictEqual(yield* apiStatus(body.access_token as string), 200)

      const issued = (yield* AuthServer.tokens).at(-1)!
      assert.strictEqual(issued.clientId, "gateway")
      assert.strictEqual(issued.grantType, EXCHANGE)
      assert.deepStrictEqual(issued.exchange, {
        subject: "user-app",
        subjectTokenType: ACCESS,
        audience: ["billing"],
        resource: ["https://billing.example/api"],
        issuedTokenType: ACCESS
      })

      // later, with a scope asked for and two audiences: what is left of the subject's life
      yield* TestClock.adjust("4 minutes")
      const later = yield* exchange(subject, [
        ["audience", "billing"],
        ["audience", "crm"],
        ["scope", "invoices"],
        ["requested_token_type", ACCESS]
      ])
      assert.strictEqual(later.status, 200)
      assert.strictEqual((later.json as Record<string, unknown>).expires_in, 360)
      assert.strictEqual((later.json as Record<string, unknown>).scope, "invoices")
      assert.deepStrictEqual((yield* AuthServer.tokens).at(-1)!.exchange?.audience, ["billing", "crm"])

      const stats = yield* AuthServer.stats
      assert.deepStrictEqual(stats.tokenRequestsBy["gateway"], { issued: 2 })
      assert.strictEqual(stats.tokenRequests, 3)
      const discovery = yield* Effect.flatMap(AuthServer.AuthServer, (s) => send(HttpClientRequest.get(s.discoveryUrl)))
      assert.include((discovery.json as { grant_types_supported: Array<string> }).grant_types_supported, EXCHANGE)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("delegation: an actor token it issued is recorded as the actor", () =>
    Effect.gen(function*() {
      const subject = yield* userToken
      const actor = yield* tokenOf("gateway", "gateway-s3cret")
      const answer = yield* exchange(subject, [["actor_token", actor], ["actor_token_type", ACCESS]])
      assert.strictEqual(answer.status, 200)
      const issued = (yield* AuthServer.tokens).at(-1)!
      assert.strictEqual(issued.exchange?.actor, "gateway")
      assert.strictEqual(issued.exchange?.subject, "user-app")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("options: its own lifetime, not capped by the subject when told so", () =>
    Effect.gen(function*() {
      const subject = yield* userToken
      const answer = yield* exchange(subject)
      assert.strictEqual((answer.json as Record<string, unknown>).expires_in, 1800)
    }).pipe(
      Effect.provide(serverLayer({ clients, tokenExchange: { tokenLifetime: "30 minutes", capToSubject: false } }))
    ))

  it.effect("refuses as §2.2.2 says, never quoting a token, each refusal counted", () =>
    Effect.gen(function*() {
      const subject = yield* userToken
      const revoked = yield* userToken
      yield* AuthServer.revoke(revoked)
      const expectError = (
        answer: { readonly status: number; readonly json: unknown; readonly text: string },
        error: string,
        status = 400
      ) => {
        assert.strictEqual(answer.status, status, answer.text)
        assert.strictEqual((answer.json as { error: string }).error, error, answer.text)
        assert.notInclude(answer.text, subject)
        assert.notInclude(answer.text, revoked)
      }
      const bare = (form: ReadonlyArray<readonly [string, string]>) =>
        tokenRequest([["grant_type", EXCHANGE], ...form], gatewayAuth)

      expectError(yield* bare([["subject_token_type", ACCESS]]), "invalid_request")
      expectError(yield* bare([["subject_token", subject]]), "invalid_request")
      expectError(
        yield* bare([["subject_token", subject], ["subject_token_type", AuthServer.TokenType.jwt]]),
        "invalid_request"
      )
      expectError(yield* exchange("not-a-token-it-issued"), "invalid_request")
      expectError(yield* exchange(subject, [["subject_token", subject]]), "invalid_request")
      expectError(yield* exchange(revoked), "invalid_request")
      expectError(yield* exchange(subject, [["actor_token", subject]]), "invalid_request")
      expectError(yield* exchange(subject, [["actor_token_type", ACCESS]]), "invalid_request")
      expectError(
        yield* exchange(subject, [["actor_token", "unknown"], ["actor_token_type", ACCESS]]),
        "invalid_request"
      )
      expectError(
        yield* exchange(subject, [["requested_token_type", AuthServer.TokenType.refreshToken]]),
        "invalid_request"
      )
      expectError(yield* exchange(subject, [["audience", "payroll"]]), "invalid_target")
      expectError(yield* exchange(subject, [["audience", ""]]), "invalid_target")
      expectError(yield* exchange(subject, [["resource", "billing"]]), "invalid_target")
      expectError(yield* exchange(subject, [["resource", "https://billing.example/api#frag"]]), "invalid_target")
      expectError(yield* exchange(subject, [["resource", "https://evil.example/api"]]), "invalid_target")
      expectError(yield* exchange(subject, [["scope", "write"]]), "invalid_scope")
      expectError(yield* exchange(subject, [], {}), "invalid_client", 401)
      expectError(
        yield* exchange(subject, [], { authorization: basicHeader("gateway", "wrong") }),
        "invalid_client",
        401
      )
      expectError(
        yield* exchange(subject, [], { authorization: basicHeader("outsider", "outsider-s3cret") }),
        "unauthorized_client"
      )
      // the subject expires (10 minutes): then it is refused too
      yield* TestClock.adjust("10 minutes")
      expectError(yield* exchange(subject), "invalid_request")

      const stats = yield* AuthServer.stats
      assert.deepStrictEqual(stats.tokenRequestsBy["gateway"], {
        invalid_request: 11,
        invalid_target: 5,
        invalid_scope: 1,
        invalid_client: 1
      })
      assert.deepStrictEqual(stats.tokenRequestsBy["outsider"], { unauthorized_client: 1 })
      assert.isFalse((yield* AuthServer.tokens).some((t) => t.grantType === EXCHANGE))
    }).pipe(Effect.provide(TestLayer)))

  it.effect("hostile subject tokens: huge, control characters, another server's, a refresh token", () =>
    Effect.gen(function*() {
      const other = yield* Effect.provide(
        Effect.flatMap(AuthServer.AuthServer, () => tokenOf("user-app", "user-s3cret")),
        AuthServer.layer({ clients })
      )
      const refresh = yield* AuthServer.issueRefreshToken("user-app")
      for (const hostile of ["x".repeat(100_000), "a\r\nSet-Cookie: x=1", "\u0000\u202e\ud800", other]) {
        const answer = yield* exchange(hostile)
        assert.strictEqual(answer.status, 400)
        assert.strictEqual((answer.json as { error: string }).error, "invalid_request")
        assert.isBelow(answer.text.length, 300)
        assert.notInclude(answer.text, "Set-Cookie")
      }
      const refreshAnswer = yield* exchange(Redacted.value(refresh))
      assert.strictEqual((refreshAnswer.json as { error: string }).error, "invalid_request")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("a JWT subject token signed by a trusted issuer (a Kubernetes service account token)", () =>
    Effect.gen(function*() {
      const KUBERNETES = "https://kubernetes.default.svc"
      const key = new TextEncoder().encode("cluster-signing-s3cret")
      const jwt = (claims: Jose.JWTPayload, alg = "HS256", signingKey = key) =>
        Effect.promise(() => new Jose.SignJWT(claims).setProtectedHeader({ alg }).sign(signingKey))
      const claims = { iss: KUBERNETES, sub: "system:serviceaccount:shop:billing", aud: "tokenlayer", iat: 0, exp: 900 }
      const JWT = AuthServer.TokenType.jwt
      const exchangeJwt = (token: string, type: string = JWT) =>
        tokenRequest({ grant_type: EXCHANGE, subject_token: token, subject_token_type: type }, gatewayAuth)

      const answer = yield* exchangeJwt(yield* jwt({ ...claims, scope: "read invoices" }))
      assert.strictEqual(answer.status, 200, answer.text)
      const body = answer.json as Record<string, unknown>
      assert.strictEqual(body.expires_in, 900)
      assert.strictEqual(body.scope, "read invoices")
      assert.deepStrictEqual((yield* AuthServer.tokens).at(-1)!.exchange, {
        subject: "system:serviceaccount:shop:billing",
        subjectTokenType: JWT,
        audience: [],
        resource: [],
        issuedTokenType: ACCESS
      })
      // an id_token type is taken too; the same JWT may be exchanged again (no jti spent)
      assert.strictEqual((yield* exchangeJwt(yield* jwt(claims), AuthServer.TokenType.idToken)).status, 200)

      const other = new TextEncoder().encode("another-s3cret")
      const refusals = [
        yield* jwt(claims, "HS256", other),
        yield* jwt({ ...claims, iss: "https://evil.example" }),
        yield* jwt({ ...claims, aud: "someone-else" }),
        yield* jwt({ iss: claims.iss, sub: claims.sub, aud: claims.aud }),
        yield* jwt(claims, "HS512"),
        "eyJhbGciOiJub25lIn0." + Buffer.from(JSON.stringify(claims)).toString("base64url") + ".",
        "not.a.jwt"
      ]
      for (const token of refusals) {
        const refused = yield* exchangeJwt(token)
        assert.strictEqual((refused.json as { error: string }).error, "invalid_request", token)
        assert.notInclude(refused.text, token)
      }
      // an access token is not a JWT, and a JWT is not an access token
      assert.strictEqual((yield* exchangeJwt(yield* userToken)).status, 400)
      assert.strictEqual((yield* exchangeJwt(yield* jwt(claims), ACCESS)).status, 400)
      yield* TestClock.adjust("15 minutes")
      const expired = yield* exchangeJwt(yield* jwt(claims))
      assert.match((expired.json as { error_description: string }).error_description, /expired/)
    }).pipe(
      Effect.provide(serverLayer({
        clients,
        tokenExchange: {
          trustedIssuers: [{
            issuer: "https://kubernetes.default.svc",
            secret: "cluster-signing-s3cret",
            alg: "HS256",
            audiences: ["tokenlayer"]
          }]
        }
      }))
    ))

  it.effect("is not served unless enabled", () =>
    Effect.gen(function*() {
      const subject = yield* userToken
      const answer = yield* exchange(subject)
      assert.strictEqual((answer.json as { error: string }).error, "unsupported_grant_type")
    }).pipe(Effect.provide(serverLayer({ clients }))))
})

describe("AuthServer custom grant types", () => {
  const apiKeys: AuthServer.CustomGrantType = {
    grantType: "urn:vendor:grant:api-key",
    clientAuthentication: "none",
    handle: (request) =>
      request.form.get("api_key") === "k-123"
        ? AuthServer.CustomGrantAnswer.issue({ clientId: "key-123", scope: ["read"], extra: { vendor: "acme" } })
        : AuthServer.CustomGrantAnswer.refuse("invalid_grant", "unknown API key")
  }
  const signedIn: AuthServer.CustomGrantType = {
    grantType: "urn:vendor:grant:session",
    // an Effect, with the client the server authenticated
    handle: (request) =>
      Effect.succeed(
        request.form.get("session") === "live"
          ? AuthServer.CustomGrantAnswer.issue({ lifetime: "2 minutes" })
          : AuthServer.CustomGrantAnswer.refuse("access_denied", `no session for ${request.client?.id}`, 403)
      )
  }
  const Custom = serverLayer({ clients, grantTypes: [apiKeys, signedIn] })

  it.effect("a handler issues tokens the API accepts, and refuses; listed and counted", () =>
    Effect.gen(function*() {
      const answer = yield* tokenRequest({ grant_type: apiKeys.grantType, api_key: "k-123" })
      assert.strictEqual(answer.status, 200)
      const body = answer.json as Record<string, unknown>
      assert.strictEqual(body.scope, "read")
      assert.strictEqual(body.vendor, "acme")
      assert.strictEqual(body.expires_in, 3600)
      assert.strictEqual(yield* apiStatus(body.access_token as string), 200)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.clientId, "key-123")

      const refused = yield* tokenRequest({ grant_type: apiKeys.grantType, api_key: "k-999" })
      assert.strictEqual(refused.status, 400)
      assert.deepStrictEqual(refused.json, { error: "invalid_grant", error_description: "unknown API key" })

      const discovery = yield* Effect.flatMap(AuthServer.AuthServer, (s) => send(HttpClientRequest.get(s.discoveryUrl)))
      const types = (discovery.json as { grant_types_supported: Array<string> }).grant_types_supported
      assert.deepStrictEqual(types.slice(0, 3), [apiKeys.grantType, signedIn.grantType, "client_credentials"])
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy["-"], { issued: 1, invalid_grant: 1 })
    }).pipe(Effect.provide(Custom)))

  it.effect("client authentication first (by default), then the handler: its lifetime, its refusal", () =>
    Effect.gen(function*() {
      const auth = { authorization: basicHeader("gateway", "gateway-s3cret") }
      const anonymous = yield* tokenRequest({ grant_type: signedIn.grantType, session: "live" })
      assert.strictEqual(anonymous.status, 401)
      assert.strictEqual((anonymous.json as { error: string }).error, "invalid_client")
      const answer = yield* tokenRequest({ grant_type: signedIn.grantType, session: "live" }, auth)
      assert.strictEqual((answer.json as Record<string, unknown>).expires_in, 120)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.clientId, "gateway")
      const denied = yield* tokenRequest({ grant_type: signedIn.grantType, session: "gone" }, auth)
      assert.strictEqual(denied.status, 403)
      assert.deepStrictEqual(denied.json, { error: "access_denied", error_description: "no session for gateway" })
      // faults apply to custom grants as to the others
      yield* AuthServer.inject(AuthServer.Fault.status(503))
      const faulted = yield* tokenRequest({ grant_type: signedIn.grantType, session: "live" }, auth)
      assert.strictEqual(faulted.status, 503)
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy["-"], { invalid_client: 1 })
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy["gateway"], {
        issued: 1,
        access_denied: 1,
        Status: 1
      })
    }).pipe(Effect.provide(Custom)))
})

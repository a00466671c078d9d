/**
 * `Grant.custom`: a grant tokenlayer does not ship (RFC 8693 token exchange, a vendor's own grant type),
 * over real HTTP on 127.0.0.1, with what the built-in grants get for free: retries of transient
 * failures, typed errors, redaction, the key. Against the embedded `AuthServer` (its token exchange, a
 * grant type registered on it), and against a local endpoint that shows what went over the wire.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import { inspect } from "node:util"
import { ClientAuth, Grant, RetryPolicy, TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus } from "./support/authServer.js"
import { captureLogs } from "./support/logs.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const SUBJECT = "eyJ-subject-token-of-the-workload"
const SECRET = "gateway-s3cret"
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
const ACCESS = "urn:ietf:params:oauth:token-type:access_token"

/** RFC 8693 token exchange, as a user writes it: the whole grant is these lines. */
const tokenExchange = (tokenUrl: string, audience: string) =>
  Grant.custom({
    grantType: EXCHANGE,
    tokenUrl,
    clientId: "gateway",
    clientSecret: Redacted.make(SECRET),
    params: {
      subject_token: Redacted.make(SUBJECT),
      subject_token_type: ACCESS,
      audience,
      scope: ["invoices:read", "invoices:write"]
    },
    key: { audience }
  })

/** A token exchange endpoint: checks the grant type, the client and the subject token (RFC 8693 §2.1). */
const exchangeServer: TokenEndpoint.Responder = (request) => {
  const form = request.form
  if (form.get("grant_type") !== EXCHANGE) return { status: 400, body: { error: "unsupported_grant_type" } }
  const basic = `Basic ${Buffer.from(`gateway:${SECRET}`).toString("base64")}`
  if (request.headers["authorization"] !== basic) return { status: 401, body: { error: "invalid_client" } }
  if (form.get("subject_token") !== SUBJECT || form.get("subject_token_type") !== ACCESS) {
    return { status: 400, body: { error: "invalid_grant", error_description: "subject token refused" } }
  }
  return {
    body: {
      access_token: `exchanged-for-${form.get("audience")}`,
      issued_token_type: ACCESS,
      token_type: "Bearer",
      expires_in: 600
    }
  }
}

const Deps = Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici)

const serviceFor = (grant: Layer.Layer<Grant.Grant, never, never>) => TokenService.layer().pipe(Layer.provide(grant))

describe("Grant.custom against AuthServer", () => {
  const Server = AuthServer.layer({
    clients: [
      { id: "user-app", secret: "user-s3cret", tokenLifetime: "10 minutes" },
      { id: "gateway", secret: SECRET }
    ],
    tokenExchange: { audiences: ["billing"] },
    grantTypes: [{
      grantType: "urn:vendor:grant:api-key",
      clientAuthentication: "none",
      handle: (request) =>
        request.form.get("api_key") === "k-123"
          ? AuthServer.CustomGrantAnswer.issue({ clientId: "key-123", lifetime: "5 minutes" })
          : AuthServer.CustomGrantAnswer.refuse("invalid_grant", "unknown API key")
    }]
  })
  const Live = Layer.merge(Server, NodeHttpClient.layerUndici)

  /** RFC 8693 token exchange of `subject` for a billing token, written with the generic grant. */
  const exchangeFor = (tokenUrl: string, subject: Redacted.Redacted<string>) =>
    Grant.custom({
      grantType: AuthServer.tokenExchangeGrantType,
      tokenUrl,
      clientId: "gateway",
      clientSecret: Redacted.make(SECRET),
      params: { subject_token: subject, subject_token_type: ACCESS, audience: "billing", scope: "invoices:read" },
      key: { audience: "billing" }
    }).pipe(Layer.provide(NodeHttpClient.layerUndici))

  /** The subject: a first token from AuthServer, of the user's app (client credentials). */
  const userToken = Effect.flatMap(AuthServer.AuthServer, (server) =>
    Effect.provide(
      TokenService.get,
      serviceFor(
        Grant.clientCredentials({
          tokenUrl: server.tokenUrl,
          clientId: "user-app",
          clientSecret: Redacted.make("user-s3cret")
        }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      )
    ))

  it.scoped("an RFC 8693 token exchange of a first AuthServer token, in a few lines", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const subject = yield* userToken
      const grant = exchangeFor(server.tokenUrl, subject.accessToken)
      const token = yield* Effect.provide(TokenService.get, serviceFor(grant))
      // capped by the subject's 10 minutes; the scope as asked; the API takes it
      assert.strictEqual(token.expiresIn, 600)
      assert.strictEqual(token.scope, "invoices:read")
      assert.strictEqual(yield* apiStatus(token), 200)
      const issued = (yield* AuthServer.tokens).at(-1)!
      assert.deepStrictEqual([issued.clientId, issued.exchange?.subject, issued.exchange?.audience], [
        "gateway",
        "user-app",
        ["billing"]
      ])
    }).pipe(Effect.provide(Live)))

  it.scoped("transient failures of the exchange are retried (the default retry policy), with the 1 s spacing", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const subject = yield* userToken
      yield* AuthServer.inject(AuthServer.Fault.status(503), AuthServer.Fault.tooManyRequests(1))
      const awaitRequests = (n: number) =>
        TokenEndpoint.pollUntil(`${n} requests`, Effect.map(server.stats, (s) => s.tokenRequests >= n))
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.fork(TokenService.get)
        yield* awaitRequests(2)
        yield* TestClock.adjust("1500 millis")
        yield* awaitRequests(3)
        yield* TestClock.adjust("1500 millis")
        const token = yield* Fiber.join(fiber)
        assert.strictEqual(token.scope, "invoices:read")
      }).pipe(Effect.provide(serviceFor(exchangeFor(server.tokenUrl, subject.accessToken))))
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy["gateway"], { Status: 2, issued: 1 })
    }).pipe(Effect.provide(Live)))

  it.scoped("a revoked subject token is a typed refusal, not retried; the subject token is in no error or log", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const subject = yield* userToken
      yield* AuthServer.revoke(subject.accessToken)
      const [error, logs] = yield* captureLogs(
        Effect.flip(
          Effect.provide(
            TokenService.get,
            serviceFor(exchangeFor(server.tokenUrl, subject.accessToken)).pipe(Layer.provide(RetryPolicy.layerDefault))
          )
        )
      )
      // RFC 8693 §2.2.2: an invalid subject token is invalid_request
      assert.strictEqual(error.error, "invalid_request")
      assert.strictEqual(error.errorDescription, "subject_token was revoked")
      assert.isFalse(error.isTransient)
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy["gateway"], { invalid_request: 1 })
      const secret = Redacted.value(subject.accessToken)
      for (const text of [error.message, inspect(error, { depth: 10 }), JSON.stringify(error), ...logs]) {
        assert.notInclude(text, secret)
        assert.notInclude(text, SECRET)
      }
    }).pipe(Effect.provide(Live)))

  it.scoped("a vendor grant type registered on AuthServer, written with the generic grant", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const apiKey = (key: string) =>
        Grant.custom({
          grantType: "urn:vendor:grant:api-key",
          tokenUrl: server.tokenUrl,
          params: { api_key: Redacted.make(key) },
          key: { account: "acme" }
        }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const token = yield* Effect.provide(TokenService.get, serviceFor(apiKey("k-123")))
      assert.strictEqual(token.expiresIn, 300)
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.clientId, "key-123")
      const error = yield* Effect.flip(Effect.provide(TokenService.get, serviceFor(apiKey("k-999"))))
      assert.strictEqual(error.error, "invalid_grant")
      assert.strictEqual(error.errorDescription, "unknown API key")
      assert.notInclude(inspect(error, { depth: 10 }), "k-999")
    }).pipe(Effect.provide(Live)))
})

describe("Grant.custom (a local endpoint: what went over the wire)", () => {
  it.scoped("an RFC 8693 token exchange: its parameters, the client's authentication, the token", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(exchangeServer)
      const grant = tokenExchange(endpoint.url, "billing").pipe(Layer.provide(NodeHttpClient.layerUndici))
      const token = yield* Effect.provide(TokenService.get, serviceFor(grant))
      assert.strictEqual(Redacted.value(token.accessToken), "exchanged-for-billing")
      const [request] = yield* endpoint.requests
      assert.strictEqual(request!.form.get("grant_type"), EXCHANGE)
      assert.deepStrictEqual(request!.form.getAll("scope"), ["invoices:read", "invoices:write"])
      assert.strictEqual(request!.form.get("audience"), "billing")
    }).pipe(Effect.provide(Deps)))

  it.scoped("its key names the grant type, the URL, the client and the given parts, never a secret", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      const billing = yield* Effect.provide(Grant.Grant, tokenExchange(endpoint.url, "billing"))
      const crm = yield* Effect.provide(Grant.Grant, tokenExchange(endpoint.url, "crm"))
      assert.strictEqual(
        billing.key,
        `grant=${EXCHANGE};url=${endpoint.url};client=gateway;audience=billing`
      )
      assert.notStrictEqual(billing.key, crm.key)
      assert.notInclude(billing.key, SUBJECT)
      assert.notInclude(billing.key, SECRET)
      // without `key`: the fixed parameters that are not secrets tell two grants apart
      const byParams = (audience: string) =>
        Effect.provide(
          Grant.Grant,
          Grant.custom({
            grantType: EXCHANGE,
            tokenUrl: endpoint.url,
            params: { subject_token: Redacted.make(SUBJECT), audience }
          })
        )
      const a = yield* byParams("billing")
      const b = yield* byParams("crm")
      assert.notStrictEqual(a.key, b.key)
      assert.include(a.key, "param.audience=billing")
      assert.notInclude(a.key, SUBJECT)
    }).pipe(Effect.provide(Deps)))

  it.scoped("a refusal is a typed HttpError, not retried; the subject token is in no error or log", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(exchangeServer)
      const grant = Grant.custom({
        grantType: EXCHANGE,
        tokenUrl: endpoint.url,
        clientId: "gateway",
        clientSecret: Redacted.make(SECRET),
        params: { subject_token: Redacted.make(`${SUBJECT}-stale`), subject_token_type: ACCESS }
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const [error, logs] = yield* captureLogs(
        Effect.flip(Effect.provide(TokenService.get, serviceFor(grant).pipe(Layer.provide(RetryPolicy.layerDefault))))
      )
      assert.strictEqual(error.error, "invalid_grant")
      assert.strictEqual(error.errorDescription, "subject token refused")
      assert.isFalse(error.isTransient)
      assert.strictEqual((yield* endpoint.requests).length, 1)
      for (const text of [error.message, inspect(error, { depth: 10 }), JSON.stringify(error), ...logs]) {
        assert.notInclude(text, SUBJECT)
        assert.notInclude(text, SECRET)
      }
    }).pipe(Effect.provide(Deps)))

  it.scoped("params computed per request from the token held now; any ClientAuth, or none", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond({ body: { access_token: "vendor-token", expires_in: 60, refresh_token: "r1" } })
      const seen: Array<string> = []
      const grant = Grant.custom({
        grantType: "urn:vendor:grant:device-secret",
        tokenUrl: endpoint.url,
        clientId: "kiosk",
        clientAuth: ClientAuth.post(Redacted.make("kiosk-secret")),
        params: (current) =>
          Effect.sync(() => {
            const previous = Option.match(current, { onNone: () => "none", onSome: (t) => t.tokenType })
            seen.push(previous)
            return { device: "kiosk-7", previous }
          })
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      yield* Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestClock.adjust("2 seconds")
        yield* tokens.refresh
      }).pipe(Effect.provide(serviceFor(grant)))
      assert.deepStrictEqual(seen, ["none", "Bearer"])
      const [first] = yield* endpoint.requests
      assert.strictEqual(first!.form.get("client_secret"), "kiosk-secret")
      assert.strictEqual(first!.form.get("device"), "kiosk-7")

      // without a client id: no client credentials at all
      const anonymous = yield* Effect.provide(
        Grant.Grant,
        Grant.custom({ grantType: "urn:vendor:grant:open", tokenUrl: endpoint.url })
      )
      yield* endpoint.respond({ body: { access_token: "open-token" } })
      yield* anonymous.request(Option.none())
      const [open] = yield* endpoint.requests
      assert.isUndefined(open!.headers["authorization"])
      assert.strictEqual(open!.body, "grant_type=urn%3Avendor%3Agrant%3Aopen")
    }).pipe(Effect.provide(Deps)))
})

/**
 * `Revocation` (RFC 7009) over real HTTP on 127.0.0.1: against the embedded AuthServer (a revoked token
 * no longer opens the API) and against the recording endpoint (what went over the wire, the answers a
 * server may give).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, TestClock } from "effect"
import { inspect } from "node:util"
import { ClientAuth, Grant, Revocation } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus } from "./support/authServer.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const SECRET = "s3cr:et p@ss"

const Live = Layer.merge(
  AuthServer.layer({ clients: [{ id: "app", secret: SECRET }], tokenLifetime: "10 minutes" }),
  NodeHttpClient.layerUndici
)
const Recording = Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici)

/** A token from the server's client credentials grant. */
const aToken = Effect.gen(function*() {
  const s = yield* AuthServer.AuthServer
  const grant = yield* Effect.provide(
    Grant.Grant,
    Grant.clientCredentials({ tokenUrl: s.tokenUrl, clientId: "app", clientSecret: Redacted.make(SECRET) })
  )
  return yield* grant.request(Option.none())
})

describe("Revocation", () => {
  it.effect("revokes an access token at the given URL: the API refuses it afterwards", () =>
    Effect.gen(function*() {
      const s = yield* AuthServer.AuthServer
      const token = yield* aToken
      assert.strictEqual(yield* apiStatus(token), 200)
      yield* Revocation.revoke(
        { revocationUrl: s.revocationUrl, clientId: "app", clientSecret: Redacted.make(SECRET) },
        token.accessToken,
        "access_token"
      )
      assert.strictEqual(yield* apiStatus(token), 401)
      assert.strictEqual((yield* AuthServer.stats).revocationRequests, 1)
    }).pipe(Effect.provide(Live)))

  it.effect("revokeToken finds the endpoint in the issuer's metadata; a wrong secret is invalid_client", () =>
    Effect.gen(function*() {
      const s = yield* AuthServer.AuthServer
      const token = yield* aToken
      const wrong = yield* Effect.flip(
        Revocation.revokeToken({ issuer: s.issuer, clientId: "app", clientSecret: Redacted.make("wrong") }, token)
      )
      assert.strictEqual(wrong.error, "invalid_client")
      assert.strictEqual(yield* apiStatus(token), 200)
      const count = yield* Revocation.revokeToken(
        { issuer: s.issuer, clientId: "app", clientSecret: Redacted.make(SECRET) },
        token
      )
      assert.strictEqual(count, 1) // no refresh token
      assert.strictEqual(yield* apiStatus(token), 401)
    }).pipe(Effect.provide(Live)))

  it.effect("on the wire: the token and its hint in the form, the client authenticated; refresh token first", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond({ status: 200, body: "" })
      const s = yield* AuthServer.AuthServer
      const token = yield* aToken
      const withRefresh = { ...token, refreshToken: Redacted.make("rt-opaque-7") } as typeof token
      const count = yield* Revocation.revokeToken(
        { revocationUrl: endpoint.url, clientId: "app", clientAuth: ClientAuth.post(Redacted.make(SECRET)) },
        withRefresh
      )
      assert.strictEqual(count, 2)
      const requests = yield* endpoint.requests
      assert.deepStrictEqual(
        requests.map((r) => [r.form.get("token"), r.form.get("token_type_hint"), r.form.get("client_secret")]),
        [["rt-opaque-7", "refresh_token", SECRET], [Redacted.value(token.accessToken), "access_token", SECRET]]
      )
      assert.strictEqual(requests[0]!.method, "POST")
      assert.strictEqual(s.revocationUrl.length > 0, true)
    }).pipe(Effect.provide(Layer.merge(Live, TokenEndpoint.layer))))

  it.effect("a server error is a typed HttpError without the token; a redirect is not followed", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      const options = { revocationUrl: endpoint.url, clientId: "app", clientSecret: Redacted.make(SECRET) }
      yield* endpoint.respond({ status: 503, headers: { "retry-after": "30" }, body: "" })
      const unavailable = yield* Effect.flip(Revocation.revoke(options, Redacted.make("at-secret-value")))
      assert.strictEqual(unavailable.status, 503)
      assert.isTrue(unavailable.isTransient)
      assert.notInclude(inspect(unavailable, { depth: 10 }), "at-secret-value")
      assert.notInclude(String(unavailable), SECRET)

      yield* endpoint.respond({ status: 302, headers: { location: "https://elsewhere.example/revoke" } })
      const redirected = yield* Effect.flip(Revocation.revoke(options, Redacted.make("at-secret-value")))
      assert.match(redirected.message, /never follow redirects/)
      assert.strictEqual((yield* endpoint.requests).length, 1)
    }).pipe(Effect.provide(Recording)))

  it.effect("an empty secret or a URL that is not http(s) fails before anything is sent", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond({ status: 200, body: "" })
      const empty = yield* Effect.flip(
        Revocation.revoke(
          { revocationUrl: endpoint.url, clientId: "app", clientSecret: Redacted.make("") },
          Redacted.make("at")
        )
      )
      assert.match(empty.message, /clientSecret/)
      assert.isFalse(empty.isTransient)
      const notHttp = yield* Effect.flip(
        Revocation.revoke({ revocationUrl: "ftp://x/revoke", clientId: "app" }, Redacted.make("at"))
      )
      assert.match(notHttp.message, /revocationUrl/)
      assert.include(notHttp.message, "Expected an http(s) URL, not a ftp: URL")
      assert.strictEqual((yield* endpoint.requests).length, 0)
    }).pipe(Effect.provide(Recording)))

  it.effect("a server that never answers times out (10 s by the Clock)", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond({ status: 200, body: "", delay: "1 hour" })
      const fiber = yield* Effect.fork(
        Effect.flip(Revocation.revoke({ revocationUrl: endpoint.url, clientId: "app" }, Redacted.make("at")))
      )
      yield* endpoint.awaitRequests(1)
      yield* TestClock.adjust("10 seconds")
      const error = yield* fiber.await.pipe(Effect.flatten)
      assert.strictEqual(error.reason, "Timeout")
    }).pipe(Effect.provide(Recording)))
})

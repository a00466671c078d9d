/**
 * `Grant.refreshToken` over real HTTP against the embedded AuthServer, on TestClock: the token is
 * accepted by the protected API, rotated refresh tokens replace the old ones (which the server refuses
 * when replayed), an answer without a refresh token keeps the old one, and a dead refresh token is a
 * typed, non-transient `invalid_grant` that is neither retried nor sent again.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigError, Effect, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import { Grant, Token, TokenError } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus, readConfig, serviceFor } from "./support/authServer.js"
import { captureLogs } from "./support/logs.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const clients: ReadonlyArray<AuthServer.ClientRegistration> = [
  { id: "cli", method: "none" },
  { id: "reuse-cli", method: "none", refreshTokens: "reuse" },
  { id: "secret-cli", secret: "s3cret", scopes: ["read", "write"] }
]

/** A server and a client per test, built inside the test: the TestClock is the server's clock too. */
const Live = Layer.merge(AuthServer.layer({ clients, tokenLifetime: "10 minutes" }), NodeHttpClient.layerUndici)

const server = AuthServer.AuthServer

/** A refresh token grant of a public client, at the server's token endpoint. */
const refreshGrant = (clientId: string, refreshToken: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const s = yield* server
    const client = yield* HttpClient.HttpClient
    return Grant.makeRefreshToken({ tokenUrl: s.tokenUrl, clientId, refreshToken }, client)
  })

const value = (redacted: Redacted.Redacted<string> | undefined) =>
  redacted === undefined ? undefined : Redacted.value(redacted)

// -----------------------------------------------------------------------------
// tests
// -----------------------------------------------------------------------------

describe("Grant.refreshToken", () => {
  it.scoped("trades the refresh token for a token the API accepts; the rotated one replaces it", () =>
    Effect.gen(function*() {
      const initial = yield* AuthServer.issueRefreshToken("cli")
      const tokens = yield* serviceFor(yield* refreshGrant("cli", initial))
      const token = yield* tokens.get
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.isDefined(token.refreshToken)
      assert.notStrictEqual(value(token.refreshToken), value(initial))

      const issued = yield* AuthServer.refreshTokens
      assert.deepStrictEqual(issued.map((r) => [value(r.refreshToken), r.spent, r.revoked]), [
        [value(initial), true, false],
        [value(token.refreshToken), false, false]
      ])
      const [access] = yield* AuthServer.tokens
      assert.strictEqual(access!.grantType, "refresh_token")
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { cli: { issued: 1 } })
    }).pipe(Effect.provide(Live)))

  it.scoped("on expiry trades the rotated refresh token; the old one replayed is refused and kills the login", () =>
    Effect.gen(function*() {
      const initial = yield* AuthServer.issueRefreshToken("cli")
      const tokens = yield* serviceFor(yield* refreshGrant("cli", initial))
      const first = yield* tokens.get
      yield* TestClock.adjust("9 minutes") // due
      const second = yield* tokens.get
      assert.isFalse(Token.sameAccessToken(first, second))
      assert.strictEqual(yield* apiStatus(second), 200)
      // the second request traded the first token's refresh token, never the initial one again
      const issued = yield* AuthServer.refreshTokens
      assert.deepStrictEqual(issued.map((r) => value(r.refreshToken)), [
        value(initial),
        value(first.refreshToken),
        value(second.refreshToken)
      ])
      assert.deepStrictEqual(issued.map((r) => r.spent), [true, true, false])

      // someone replays the spent refresh token: refused, and the server revokes the whole login
      const thief = yield* refreshGrant("cli", first.refreshToken!)
      const replayed = yield* Effect.flip(thief.request(Option.none()))
      assert.strictEqual(replayed.status, 400)
      assert.strictEqual(replayed.error, "invalid_grant")
      assert.isTrue(TokenError.isInvalidGrant(replayed))
      assert.isFalse(replayed.isTransient)
      assert.strictEqual(yield* apiStatus(second), 401)
      assert.deepStrictEqual((yield* AuthServer.refreshTokens).map((r) => r.revoked), [true, true, true])

      // the service's next renewal: invalid_grant, typed, one request (not retried)
      yield* TestClock.adjust("9 minutes")
      const dead = yield* Effect.flip(tokens.refresh)
      assert.isTrue(TokenError.isInvalidGrant(dead))
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { cli: { issued: 2, invalid_grant: 2 } })
    }).pipe(Effect.provide(Live)))

  it.scoped("keeps the refresh token when the answer carries none (RFC 6749 §6)", () =>
    Effect.gen(function*() {
      const initial = yield* AuthServer.issueRefreshToken("reuse-cli")
      const tokens = yield* serviceFor(yield* refreshGrant("reuse-cli", initial))
      const first = yield* tokens.get
      assert.strictEqual(value(first.refreshToken), value(initial))
      yield* TestClock.adjust("9 minutes")
      const second = yield* tokens.get
      assert.isFalse(Token.sameAccessToken(first, second))
      assert.strictEqual(value(second.refreshToken), value(initial))
      assert.strictEqual(yield* apiStatus(second), 200)
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "reuse-cli": { issued: 2 } })
      assert.strictEqual((yield* AuthServer.refreshTokens).length, 1)
    }).pipe(Effect.provide(Live)))

  it.scoped("a revoked refresh token: invalid_grant, not retried, and never sent again", () =>
    Effect.gen(function*() {
      const initial = yield* AuthServer.issueRefreshToken("cli")
      assert.isTrue(yield* AuthServer.revoke(initial))
      const tokens = yield* serviceFor(yield* refreshGrant("cli", initial))
      const error = yield* Effect.flip(tokens.get)
      assert.strictEqual(error._tag, "HttpError")
      assert.strictEqual(error.reason, "Status")
      assert.strictEqual(error.status, 400)
      assert.isTrue(TokenError.isInvalidGrant(error))
      assert.isFalse(error.isTransient)
      assert.notInclude(error.message, Redacted.value(initial))
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { cli: { invalid_grant: 1 } })

      // the grant knows it is dead: the next attempt (a second later: requests are spaced) fails without
      // a request
      yield* TestClock.adjust("1 second")
      const again = yield* Effect.flip(tokens.get)
      assert.isTrue(TokenError.isInvalidGrant(again))
      assert.match(again.message, /nothing was sent/)
      assert.strictEqual((yield* AuthServer.stats).tokenRequests, 1)
    }).pipe(Effect.provide(Live)))

  it.scoped("after the API refused the access token, renews with that token's refresh token", () =>
    Effect.gen(function*() {
      const initial = yield* AuthServer.issueRefreshToken("cli")
      const tokens = yield* serviceFor(yield* refreshGrant("cli", initial))
      const first = yield* tokens.get
      yield* tokens.invalidate(first) // what TokenHttpClient does on a 401
      // the service waits minTokenLifetime (1 s) after the last request before the next
      const fiber = yield* Effect.fork(tokens.get)
      yield* TestClock.adjust("1 second")
      const second = yield* Fiber.join(fiber)
      assert.isFalse(Token.sameAccessToken(first, second))
      assert.strictEqual(yield* apiStatus(second), 200)
      assert.deepStrictEqual((yield* AuthServer.refreshTokens).map((r) => r.spent), [true, true, false])
    }).pipe(Effect.provide(Live)))

  it.scoped("a confidential client authenticates, and may narrow the scope; a wider one is invalid_scope", () =>
    Effect.gen(function*() {
      const s = yield* server
      const client = yield* HttpClient.HttpClient
      const initial = yield* AuthServer.issueRefreshToken("secret-cli", { scope: ["read", "write"] })
      const narrow = Grant.makeRefreshToken({
        tokenUrl: s.tokenUrl,
        clientId: "secret-cli",
        clientSecret: Redacted.make("s3cret"),
        refreshToken: initial,
        scope: ["read"]
      }, client)
      const token = yield* narrow.request(Option.none())
      assert.strictEqual(token.scope, "read")
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.match(narrow.key, /^grant=refresh_token;url=.*;client=secret-cli;scope=read$/)

      const wider = Grant.makeRefreshToken({
        tokenUrl: s.tokenUrl,
        clientId: "secret-cli",
        clientSecret: Redacted.make("s3cret"),
        refreshToken: token.refreshToken!,
        scope: "read admin"
      }, client)
      const error = yield* Effect.flip(wider.request(Option.none()))
      assert.strictEqual(error.error, "invalid_scope")

      const wrongSecret = Grant.makeRefreshToken({
        tokenUrl: s.tokenUrl,
        clientId: "secret-cli",
        clientSecret: Redacted.make("nope"),
        refreshToken: token.refreshToken!
      }, client)
      assert.strictEqual((yield* Effect.flip(wrongSecret.request(Option.none()))).error, "invalid_client")
    }).pipe(Effect.provide(Live)))

  it.scoped("neither the refresh token nor the access token shows in logs or errors", () =>
    Effect.gen(function*() {
      const initial = yield* AuthServer.issueRefreshToken("cli")
      const tokens = yield* serviceFor(yield* refreshGrant("cli", initial))
      const [result, logs] = yield* captureLogs(Effect.gen(function*() {
        const token = yield* tokens.get
        yield* AuthServer.revoke(token.refreshToken!)
        yield* TestClock.adjust("9 minutes")
        yield* tokens.get // the renewal fails: the valid token stays in use, with a warning
        return token
      }))
      const text = logs.join("\n") + String(result.refreshToken) + JSON.stringify(result)
      assert.include(text, "invalid_grant")
      for (const secret of [initial, result.refreshToken!, result.accessToken]) {
        assert.notInclude(text, Redacted.value(secret))
      }
    }).pipe(Effect.provide(Live)))
})

describe("Grant.refreshTokenConfig", () => {
  it.scoped("reads TOKEN_URL or ISSUER, CLIENT_ID, REFRESH_TOKEN; CLIENT_SECRET makes a confidential client", () =>
    Effect.gen(function*() {
      const s = yield* server
      const client = yield* HttpClient.HttpClient
      const initial = yield* AuthServer.issueRefreshToken("cli")
      const publicOptions = yield* readConfig(Grant.refreshTokenOptionsConfig, {
        TOKEN_URL: s.tokenUrl,
        CLIENT_ID: "cli",
        REFRESH_TOKEN: Redacted.value(initial)
      })
      assert.isUndefined(publicOptions.clientAuth)
      const token = yield* Grant.makeRefreshToken(publicOptions, client).request(Option.none())
      assert.strictEqual(yield* apiStatus(token), 200)

      const secret = yield* AuthServer.issueRefreshToken("secret-cli")
      const confidential = yield* readConfig(Config.nested(Grant.refreshTokenOptionsConfig, "APP"), {
        APP_ISSUER: s.issuer,
        APP_CLIENT_ID: "secret-cli",
        APP_CLIENT_SECRET: "s3cret",
        APP_REFRESH_TOKEN: Redacted.value(secret)
      })
      assert.strictEqual(confidential.clientAuth?.method, "client_secret_basic")
      assert.strictEqual(confidential.issuer, s.issuer)
      assert.strictEqual(
        yield* apiStatus(yield* Grant.makeRefreshToken(confidential, client).request(Option.none())),
        200
      )

      const missing = yield* Effect.flip(
        readConfig(Grant.refreshTokenOptionsConfig, { CLIENT_ID: "cli", REFRESH_TOKEN: "x" })
      )
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "ISSUER or TOKEN_URL")
      assert.notInclude(String(missing), Redacted.value(initial))
    }).pipe(Effect.provide(Live)))
})

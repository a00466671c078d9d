/**
 * `Grant.deviceCode` (RFC 8628) over real HTTP against the embedded AuthServer. Polling is driven by
 * TestClock, never by real waits: each step waits (event-loop turns) until the poller sleeps until the
 * instant it should poll at, moves the clock there, and counts the polls the server received.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Config, Duration, Effect, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { TokenService } from "tokenlayer"
import { Grant, Token, TokenError, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus, readConfig, serviceFor } from "./support/authServer.js"
import { captureLogs } from "./support/logs.js"
import { pollUntil } from "./support/tokenEndpoint.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const clients: ReadonlyArray<AuthServer.ClientRegistration> = [
  { id: "cli", method: "none" },
  { id: "secret-cli", secret: "s3cret" }
]

const liveWith = (options: AuthServer.Options = {}) =>
  Layer.merge(AuthServer.layer({ clients, tokenLifetime: "10 minutes", ...options }), NodeHttpClient.layerUndici)

/** A server (5 s interval, 10-minute codes) and a client per test: the TestClock is the server's clock. */
const Live = liveWith()

const server = AuthServer.AuthServer

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

/** The prompts a grant made, and a prompt that records them (and approves, if asked to). */
const makePrompts = (approve = false) =>
  Effect.gen(function*() {
    const s = yield* server
    const seen: Array<Grant.DeviceAuthorization> = []
    const prompt = (info: Grant.DeviceAuthorization) =>
      Effect.suspend(() => {
        seen.push(info)
        return approve ? Effect.asVoid(s.approve(info.userCode)) : Effect.void
      })
    const awaitPrompt = (count: number) =>
      Effect.zipRight(
        pollUntil(`prompt #${count}`, Effect.sync(() => seen.length >= count)),
        Effect.sync(() => seen[count - 1]!)
      )
    return { seen, prompt, awaitPrompt }
  })

/** The device grant at the server's endpoints (an HTTP timeout unlike any interval, see `sleepingUntil`). */
const deviceGrant = (
  prompt: (info: Grant.DeviceAuthorization) => Effect.Effect<void>,
  clientId = "cli"
) =>
  Effect.gen(function*() {
    const s = yield* server
    const client = yield* HttpClient.HttpClient
    const endpoints = { tokenUrl: s.tokenUrl, deviceAuthorizationUrl: s.deviceAuthorizationUrl }
    return Grant.makeDeviceCode(
      clientId === "secret-cli"
        ? { ...endpoints, clientId, clientSecret: Redacted.make("s3cret"), prompt, httpTimeout: "59 seconds" }
        : { ...endpoints, clientId, prompt, httpTimeout: "59 seconds" },
      client
    )
  })

/** The token endpoint's answers to a client, by outcome. */
const outcomes = (clientId = "cli") => Effect.map(AuthServer.stats, (stats) => ({ ...stats.tokenRequestsBy[clientId] }))

const answered = (clientId: string) =>
  Effect.map(outcomes(clientId), (by) => Object.values(by).reduce((a, b) => a + b, 0))

/**
 * Waits (event-loop turns, not the Clock) until some fiber sleeps until `at` ms. (TestClock keeps the
 * sleeps of interrupted timeouts too: the grants here have a 59 s HTTP timeout, and the token service's
 * tests poll every 7 s, so that no timeout (the store's 5 s, the lock's 30 s) falls on a polling instant.)
 */
const sleepingUntil = (at: number) =>
  pollUntil(`a sleep until ${at} ms`, Effect.map(TestClock.sleeps(), Chunk.some((t) => t === at)))

/** Once the poller sleeps until `at`, moves the clock there and waits for the server's `polls`-th answer. */
const pollAt = (at: number, polls: number, clientId = "cli") =>
  Effect.gen(function*() {
    yield* sleepingUntil(at)
    yield* TestClock.setTime(at)
    const s = yield* server
    yield* pollUntil(
      `${polls} poll(s)`,
      Effect.map(answered(clientId), (n) => n >= polls).pipe(Effect.provideService(server, s))
    )
  })

// -----------------------------------------------------------------------------
// the device flow
// -----------------------------------------------------------------------------

describe("Grant.deviceCode: the device flow", () => {
  it.effect("prompts with the codes, polls every interval until approved; the token works at the API", () =>
    Effect.gen(function*() {
      const s = yield* server
      const prompts = yield* makePrompts()
      const grant = yield* deviceGrant(prompts.prompt)
      assert.isTrue(grant.interactive)
      assert.match(grant.key, /^grant=device_code;url=http:\/\/127\.0\.0\.1:\d+\/token;client=cli$/)
      const fiber = yield* Effect.fork(grant.request(Option.none()))

      const info = yield* prompts.awaitPrompt(1)
      assert.match(info.userCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
      assert.strictEqual(info.verificationUri, s.verificationUrl)
      assert.strictEqual(info.verificationUriComplete, `${s.verificationUrl}?user_code=${info.userCode}`)
      assert.strictEqual(Duration.toSeconds(info.expiresIn), 600)
      assert.strictEqual(info.expiresAt.epochMillis, 600_000)
      assert.strictEqual(Duration.toSeconds(info.interval), 5)
      assert.deepStrictEqual(yield* AuthServer.pendingUserCodes, [info.userCode])
      assert.strictEqual((yield* AuthServer.stats).deviceAuthorizationRequests, 1)
      assert.deepStrictEqual(yield* outcomes(), {}) // no poll before the first interval

      yield* pollAt(5_000, 1)
      assert.deepStrictEqual(yield* outcomes(), { authorization_pending: 1 })
      yield* pollAt(10_000, 2)
      assert.deepStrictEqual(yield* outcomes(), { authorization_pending: 2 })

      // the user types the code in their own way
      assert.isTrue(yield* AuthServer.approve(info.userCode.toLowerCase().replace("-", " ")))
      yield* pollAt(15_000, 3)
      const token = yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* outcomes(), { authorization_pending: 2, issued: 1 })
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.isDefined(token.refreshToken)
      assert.strictEqual((yield* AuthServer.tokens)[0]!.grantType, DEVICE_GRANT)
      assert.deepStrictEqual(yield* AuthServer.pendingUserCodes, [])
      assert.strictEqual(prompts.seen.length, 1)
    }).pipe(Effect.provide(Live)))

  it.effect("polls every 5 s when the server names no interval, and 5 s more after slow_down", () =>
    Effect.gen(function*() {
      const prompts = yield* makePrompts()
      const fiber = yield* Effect.fork(Effect.flatMap(deviceGrant(prompts.prompt), (g) => g.request(Option.none())))
      const info = yield* prompts.awaitPrompt(1)
      assert.strictEqual(Duration.toSeconds(info.interval), 5)

      yield* pollAt(5_000, 1) // the server wants 8 s between polls
      assert.deepStrictEqual(yield* outcomes(), { slow_down: 1 })
      yield* pollAt(15_000, 2) // 10 s later
      assert.deepStrictEqual(yield* outcomes(), { slow_down: 1, authorization_pending: 1 })
      yield* pollAt(25_000, 3)
      assert.deepStrictEqual(yield* outcomes(), { slow_down: 1, authorization_pending: 2 })
      yield* AuthServer.approve(info.userCode)
      yield* pollAt(35_000, 4)
      assert.strictEqual(yield* apiStatus(yield* Fiber.join(fiber)), 200)
    }).pipe(Effect.provide(liveWith({ deviceFlow: { interval: "8 seconds", announceInterval: false } }))))

  it.effect("backs off after a transient failure: twice the interval", () =>
    Effect.gen(function*() {
      const prompts = yield* makePrompts()
      const fiber = yield* Effect.fork(Effect.flatMap(deviceGrant(prompts.prompt), (g) => g.request(Option.none())))
      const info = yield* prompts.awaitPrompt(1)
      yield* AuthServer.inject(AuthServer.Fault.status(503))
      yield* pollAt(5_000, 1)
      assert.deepStrictEqual(yield* outcomes(), { Status: 1 })
      yield* pollAt(15_000, 2)
      assert.deepStrictEqual(yield* outcomes(), { Status: 1, authorization_pending: 1 })
      yield* AuthServer.approve(info.userCode)
      yield* pollAt(25_000, 3)
      assert.strictEqual(yield* apiStatus(yield* Fiber.join(fiber)), 200)
    }).pipe(Effect.provide(Live)))

  it.effect("a denial is access_denied, typed and final: no more polls (a confidential client)", () =>
    Effect.gen(function*() {
      const prompts = yield* makePrompts()
      const grant = yield* deviceGrant(prompts.prompt, "secret-cli")
      const fiber = yield* Effect.fork(grant.request(Option.none()))
      const info = yield* prompts.awaitPrompt(1)
      yield* pollAt(5_000, 1, "secret-cli")
      assert.isTrue(yield* AuthServer.deny(info.userCode))
      assert.isFalse(yield* AuthServer.approve(info.userCode)) // decided already
      yield* pollAt(10_000, 2, "secret-cli")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error.error, "access_denied")
      assert.strictEqual(error.status, 400)
      assert.isTrue(TokenError.isAccessDenied(error))
      assert.isFalse(error.isTransient)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* outcomes("secret-cli"), { authorization_pending: 1, access_denied: 1 })
    }).pipe(Effect.provide(Live)))

  it.effect("gives up when the code's expires_in runs out (expired_token), and on the server's expired_token", () =>
    Effect.gen(function*() {
      const prompts = yield* makePrompts()
      const grant = yield* deviceGrant(prompts.prompt)
      const first = yield* Effect.fork(grant.request(Option.none()))
      const info = yield* prompts.awaitPrompt(1)
      assert.strictEqual(Duration.toSeconds(info.expiresIn), 12)
      yield* pollAt(5_000, 1)
      yield* pollAt(10_000, 2)
      yield* sleepingUntil(12_000) // not a full interval: the code expires first
      yield* TestClock.setTime(12_000)
      const expired = yield* Effect.flip(Fiber.join(first))
      assert.isTrue(TokenError.isExpiredToken(expired))
      assert.isFalse(expired.isTransient)
      assert.match(expired.message, /expired .* before the user approved it/)
      assert.deepStrictEqual(yield* outcomes(), { authorization_pending: 2 })

      // the server says so first
      const second = yield* Effect.fork(grant.request(Option.none()))
      yield* prompts.awaitPrompt(2)
      yield* AuthServer.inject(AuthServer.Fault.status(400, { error: "expired_token" }))
      yield* pollAt(17_000, 3)
      const refused = yield* Effect.flip(Fiber.join(second))
      assert.isTrue(TokenError.isExpiredToken(refused))
      assert.strictEqual(refused.status, 400)
    }).pipe(Effect.provide(liveWith({ deviceFlow: { lifetime: "12 seconds" } }))))
})

// -----------------------------------------------------------------------------
// with the token service: renewals by refresh token, re-authentication
// -----------------------------------------------------------------------------

/** With the token service: polls every 7 s, away from its store and lock timeouts (5 s, 30 s). */
const ServiceLive = liveWith({ deviceFlow: { interval: "7 seconds" } })

/** A `get` that runs a device flow approved in the prompt: the poll `at` ms brings the token. */
const getThroughDeviceFlow = (tokens: TokenService.Service, at: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(tokens.get)
    yield* sleepingUntil(at)
    yield* TestClock.setTime(at)
    return yield* Fiber.join(fiber)
  })

describe("Grant.deviceCode with the token service", () => {
  it.scoped("renews with the rotated refresh token, without asking the user again", () =>
    Effect.gen(function*() {
      const prompts = yield* makePrompts(true)
      const tokens = yield* serviceFor(yield* deviceGrant(prompts.prompt))
      const first = yield* getThroughDeviceFlow(tokens, 7_000)
      assert.strictEqual(yield* apiStatus(first), 200)

      yield* TestClock.adjust("9 minutes") // due
      const second = yield* tokens.get
      assert.isFalse(Token.sameAccessToken(first, second))
      assert.strictEqual(yield* apiStatus(second), 200)
      assert.strictEqual(prompts.seen.length, 1)
      assert.notStrictEqual(Redacted.value(second.refreshToken!), Redacted.value(first.refreshToken!))
      assert.deepStrictEqual((yield* AuthServer.refreshTokens).map((r) => r.spent), [true, false])
      assert.deepStrictEqual((yield* AuthServer.tokens).map((t) => t.grantType), [DEVICE_GRANT, "refresh_token"])
      assert.deepStrictEqual(yield* outcomes(), { issued: 2 })
    }).pipe(Effect.provide(ServiceLive)))

  it.scoped("when the refresh token is dead (revoked), the device flow runs again", () =>
    Effect.gen(function*() {
      const prompts = yield* makePrompts(true)
      const tokens = yield* serviceFor(yield* deviceGrant(prompts.prompt))
      const first = yield* getThroughDeviceFlow(tokens, 7_000)
      assert.isTrue(yield* AuthServer.revoke(first.refreshToken!))

      yield* TestClock.adjust("9 minutes") // due: the refresh token is refused, a new device flow starts
      const [second, logs] = yield* captureLogs(getThroughDeviceFlow(tokens, 7_000 + 9 * 60_000 + 7_000))
      assert.strictEqual(prompts.seen.length, 2)
      assert.strictEqual(yield* apiStatus(second), 200)
      assert.deepStrictEqual(yield* outcomes(), { issued: 2, invalid_grant: 1 })
      assert.deepStrictEqual((yield* AuthServer.tokens).map((t) => t.grantType), [DEVICE_GRANT, DEVICE_GRANT])
      assert.isTrue(logs.some((line) => line.includes("starting the device flow")))

      // and its refresh token is used for the next renewal
      yield* TestClock.adjust("9 minutes")
      const third = yield* tokens.get
      assert.strictEqual(yield* apiStatus(third), 200)
      assert.strictEqual(prompts.seen.length, 2)
    }).pipe(Effect.provide(ServiceLive)))

  it.scoped("a login that takes minutes is not cut short by the retry policy's attempt timeout", () =>
    Effect.gen(function*() {
      const prompts = yield* makePrompts()
      const tokens = yield* serviceFor(yield* deviceGrant(prompts.prompt))
      const fiber = yield* Effect.fork(tokens.get)
      const info = yield* prompts.awaitPrompt(1)
      for (let poll = 1; poll <= 20; poll++) yield* pollAt(poll * 7_000, poll) // over two minutes
      yield* AuthServer.approve(info.userCode)
      yield* pollAt(147_000, 21)
      assert.strictEqual(yield* apiStatus(yield* Fiber.join(fiber)), 200)
      assert.deepStrictEqual(yield* outcomes(), { authorization_pending: 20, issued: 1 })
      assert.strictEqual(prompts.seen.length, 1)
    }).pipe(Effect.provide(ServiceLive)))

  it.scoped("a restart goes on with the refresh token of the token file, without a prompt (seed 004)", () =>
    Effect.gen(function*() {
      const root = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "tokenlayer-device-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const store = TokenStore.layerFile({ directory: path.join(root, "tokens") })
      const prompts = yield* makePrompts(true)
      const before = yield* serviceFor(yield* deviceGrant(prompts.prompt), store)
      const first = yield* getThroughDeviceFlow(before, 7_000)

      // a new process: a new grant (it knows no refresh token) and service over the same directory
      yield* TestClock.adjust("11 minutes") // the stored token has expired
      const after = yield* serviceFor(yield* deviceGrant(prompts.prompt), store)
      const second = yield* after.get
      assert.isFalse(Token.sameAccessToken(first, second))
      assert.strictEqual(yield* apiStatus(second), 200)
      assert.strictEqual(prompts.seen.length, 1)
      assert.deepStrictEqual((yield* AuthServer.tokens).map((t) => t.grantType), [DEVICE_GRANT, "refresh_token"])
    }).pipe(Effect.provide(ServiceLive)))
})

describe("Grant.deviceCodeConfig", () => {
  it.effect("reads ISSUER, or TOKEN_URL and DEVICE_AUTHORIZATION_URL; CLIENT_ID; SCOPE, AUDIENCE", () =>
    Effect.gen(function*() {
      const byIssuer = yield* readConfig(Config.nested(Grant.deviceCodeOptionsConfig, "CLI"), {
        CLI_ISSUER: "https://auth.example.com",
        CLI_CLIENT_ID: "my-cli",
        CLI_SCOPE: "openid offline_access",
        CLI_AUDIENCE: "https://api.example.com"
      })
      assert.deepStrictEqual(byIssuer, {
        issuer: "https://auth.example.com",
        clientId: "my-cli",
        scope: "openid offline_access",
        audience: "https://api.example.com"
      })
      const byUrls = yield* readConfig(Grant.deviceCodeOptionsConfig, {
        TOKEN_URL: "https://auth.example.com/token",
        DEVICE_AUTHORIZATION_URL: "https://auth.example.com/device",
        CLIENT_ID: "my-cli",
        CLIENT_SECRET: "s3cret",
        CLIENT_AUTH: "post"
      })
      assert.strictEqual(byUrls.deviceAuthorizationUrl, "https://auth.example.com/device")
      assert.strictEqual(byUrls.clientAuth?.method, "client_secret_post")
      const missing = yield* Effect.flip(
        readConfig(Grant.deviceCodeOptionsConfig, { TOKEN_URL: "https://auth.example.com/token", CLIENT_ID: "my-cli" })
      )
      assert.include(String(missing), "ISSUER or DEVICE_AUTHORIZATION_URL")
    }))
})

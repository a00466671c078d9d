// The README's refresh token, device flow and discovery examples, kept here so that they compile and
// pass: each example's code is in a block below, and the test runs it against the embedded AuthServer.
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Fiber, TestClock } from "effect"
import { AuthServer } from "tokenlayer/testing"
import { pollUntil } from "./support/tokenEndpoint.js"

// -----------------------------------------------------------------------------
// README: "A command-line login: the device flow"
// -----------------------------------------------------------------------------

import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Grant, RefreshPolicy, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"

// The login of a command-line tool: approved once in a browser, kept in a token file
// (~/.local/state/tokenlayer), renewed with its refresh token, asked again only when that dies.
const DeviceLogin = (issuer: string, store = TokenStore.layerFile()) =>
  TokenService.layer().pipe(
    Layer.provide(Grant.deviceCode({
      issuer, // its metadata names the device authorization and token endpoints
      clientId: "my-cli", // a public client: no secret
      scope: "openid offline_access",
      prompt: Grant.consolePrompt // "To sign in, open https://... and enter the code BCDF-GHJK"
    })),
    Layer.provide([RefreshPolicy.fraction(0.1), store]),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const whoAmI = (url: string) =>
  Effect.gen(function*() {
    const api = yield* TokenHttpClient.authorize(yield* HttpClient.HttpClient)
    const response = yield* api.get(url)
    return yield* response.json
  })

// NodeRuntime.runMain(
//   whoAmI("https://api.example.com/me").pipe(
//     Effect.flatMap(Console.log),
//     Effect.provide([DeviceLogin("https://auth.example.com"), NodeHttpClient.layerUndici])
//   )
// )

// -----------------------------------------------------------------------------
// README: "Refresh tokens"
// -----------------------------------------------------------------------------

import { Redacted } from "effect"
import { TokenError } from "tokenlayer"

// A refresh token from an earlier login (another tool's token file, a setup step) keeps a service
// signed in. With rotation each renewal brings a new one, and the first is spent: keep the tokens in
// a file store, which the next run starts from.
const RefreshLogin = (tokenUrl: string, refreshToken: Redacted.Redacted<string>, store = TokenStore.layerFile()) =>
  TokenService.layer().pipe(
    Layer.provide(Grant.refreshToken({ tokenUrl, clientId: "my-app", refreshToken })),
    Layer.provide([RefreshPolicy.fixed("1 minute"), store]),
    Layer.provide(NodeHttpClient.layerUndici)
  )

// a dead refresh token (revoked, expired, replayed) is invalid_grant: typed, never retried
const accessToken = TokenService.get.pipe(
  Effect.catchIf(
    TokenError.isInvalidGrant,
    (error) =>
      Effect.zipRight(Console.error(`the login has ended (${error.message}): sign in again`), Effect.fail(error))
  )
)

// -----------------------------------------------------------------------------
// README: "Discovery: an issuer instead of endpoint URLs"
// -----------------------------------------------------------------------------

import { Context } from "effect"

// what a server offers (RFC 8414, then OpenID Connect discovery)
const endpoints = (issuer: string) =>
  Effect.gen(function*() {
    const metadata = yield* Grant.discover(issuer)
    return [metadata.tokenEndpoint, metadata.deviceAuthorizationEndpoint, metadata.grantTypesSupported] as const
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

// grants given an issuer find their endpoints themselves; one cached document (1 hour) for several grants
const TwoApis = (issuer: string) =>
  Layer.unwrapEffect(Effect.map(Grant.discovery(issuer, { ttl: "1 hour" }), (shared) => {
    const tokens = (grant: Layer.Layer<Grant.Grant, never, HttpClient.HttpClient>) =>
      Effect.provide(
        TokenService.make(),
        Layer.mergeAll(grant, RefreshPolicy.fixed("1 minute"))
      )
    return Layer.mergeAll(
      Layer.scoped(
        Orders,
        tokens(Grant.clientCredentials({ issuer: shared, clientId: "orders", clientSecret: Redacted.make("s1") }))
      ),
      Layer.scoped(
        Billing,
        tokens(Grant.clientCredentials({ issuer: shared, clientId: "billing", clientSecret: Redacted.make("s2") }))
      )
    )
  })).pipe(Layer.provide(NodeHttpClient.layerUndici))

// (each API's token service under a Tag of its own)
class Orders extends Context.Tag("app/Orders")<Orders, TokenService.Service>() {}
class Billing extends Context.Tag("app/Billing")<Billing, TokenService.Service>() {}

// -----------------------------------------------------------------------------
// the tests that run them
// -----------------------------------------------------------------------------

const clients: ReadonlyArray<AuthServer.ClientRegistration> = [
  { id: "my-cli", method: "none" },
  { id: "my-app", method: "none" },
  { id: "orders", secret: "s1" },
  { id: "billing", secret: "s2" }
]

// polls every 7 s: away from the token service's store and lock timeouts on the TestClock
/** What the examples print (`console.log` and `console.error`), for the test's scope. */
const captureConsole = Effect.acquireRelease(
  Effect.sync(() => {
    const printed: Array<string> = []
    const original = { log: console.log, error: console.error }
    console.log = (...args: Array<unknown>) => void printed.push(args.join(" "))
    console.error = console.log
    return { printed, original }
  }),
  ({ original }) =>
    Effect.sync(() => {
      console.log = original.log
      console.error = original.error
    })
).pipe(Effect.map(({ printed }) => printed))

const Server = AuthServer.layer({ clients, tokenLifetime: "10 minutes", deviceFlow: { interval: "7 seconds" } })

describe("README examples", () => {
  it.scoped("the device flow login", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const printed = yield* captureConsole
      const fiber = yield* whoAmI(server.apiUrl("me")).pipe(
        Effect.provide(Layer.merge(DeviceLogin(server.issuer, TokenStore.layerMemory), NodeHttpClient.layerUndici)),
        Effect.fork
      )
      yield* pollUntil("the prompt", Effect.sync(() => printed.length > 0))
      const [code] = yield* server.pendingUserCodes
      assert.include(printed[0], `enter the code ${code}`)
      yield* server.approve(code!)
      yield* pollUntil("the first poll", Effect.map(TestClock.sleeps(), Chunk.some((t) => t === 7_000)))
      yield* TestClock.setTime(7_000)
      const me = yield* Fiber.join(fiber)
      assert.deepStrictEqual(me, {
        ok: true,
        method: "GET",
        path: "/api/me",
        client_id: "my-cli",
        scope: "openid offline_access"
      })
    }).pipe(Effect.provide(Server)))

  it.scoped("the refresh token login, and its end", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const printed = yield* captureConsole
      const refreshToken = yield* server.issueRefreshToken("my-app")
      const login = RefreshLogin(server.tokenUrl, refreshToken, TokenStore.layerMemory)
      const token = yield* Effect.provide(accessToken, login)
      assert.isDefined(token.refreshToken)
      yield* server.revokeClient("my-app")
      const error = yield* Effect.flip(
        Effect.provide(accessToken, RefreshLogin(server.tokenUrl, token.refreshToken!, TokenStore.layerMemory))
      )
      assert.isTrue(error._tag === "HttpError" && TokenError.isInvalidGrant(error))
      assert.match(printed.join("\n"), /the login has ended \(.*invalid_grant.*\): sign in again/)
    }).pipe(Effect.provide(Server)))

  it.effect("discovery", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const [tokenEndpoint, deviceEndpoint, grantTypes] = yield* endpoints(server.issuer)
      assert.strictEqual(tokenEndpoint, server.tokenUrl)
      assert.strictEqual(deviceEndpoint, server.deviceAuthorizationUrl)
      assert.include(grantTypes ?? [], "client_credentials")

      yield* Effect.gen(function*() {
        yield* (yield* Orders).get
        yield* (yield* Billing).get
      }).pipe(Effect.provide(TwoApis(server.issuer)))
      const stats = yield* server.stats
      assert.deepStrictEqual(stats.tokenRequestsBy, { orders: { issued: 1 }, billing: { issued: 1 } })
      assert.strictEqual(stats.metadataRequests, 2) // one for `endpoints`, one shared by the two grants
    }).pipe(Effect.provide(Server)))
})

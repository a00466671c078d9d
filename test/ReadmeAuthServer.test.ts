// The README's AuthServer example, kept here so that it compiles and passes.
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, TestClock } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

// the program under test: calls the API with a token from the TokenService
const listOrders = (url: string) =>
  Effect.gen(function*() {
    const token = yield* TokenService.get
    const response = yield* HttpClient.get(url, { headers: { authorization: Token.authorizationHeader(token) } })
    return response.status
  })

const Server = AuthServer.layer({ clients: [{ id: "my-app", secret: "s3cret", tokenLifetime: "10 minutes" }] })

// the grant needs the server's URL, known once it listens
const Tokens = Layer.unwrapEffect(
  Effect.map(AuthServer.AuthServer, (server) =>
    TokenService.layer().pipe(
      Layer.provide(Grant.clientCredentials({
        tokenUrl: server.tokenUrl,
        clientId: "my-app",
        clientSecret: Redacted.make("s3cret")
      })),
      Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.none])
    ))
)

const TestLayer = Tokens.pipe(Layer.provideMerge(Server), Layer.provideMerge(NodeHttpClient.layerUndici))

describe("listOrders", () => {
  it.effect("renews the token a minute before it expires", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      assert.strictEqual(yield* listOrders(server.apiUrl("orders")), 200)
      yield* TestClock.adjust("8 minutes")
      assert.strictEqual(yield* listOrders(server.apiUrl("orders")), 200)
      yield* TestClock.adjust("1 minute") // due: renewed before the call
      assert.strictEqual(yield* listOrders(server.apiUrl("orders")), 200)
      const stats = yield* AuthServer.stats
      assert.deepStrictEqual(stats.tokenRequestsBy, { "my-app": { issued: 2 } })
      assert.deepStrictEqual(stats.apiByStatus, { 200: 3 })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("fails with a typed error while the token endpoint is down", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      yield* AuthServer.injectAlways(AuthServer.Fault.status(503))
      const error = yield* Effect.flip(listOrders(server.apiUrl("orders")))
      assert.strictEqual(error._tag, "HttpError")
      yield* AuthServer.injectAlways(undefined)
      yield* TestClock.adjust("1 second") // token requests are at least a second apart
      assert.strictEqual(yield* listOrders(server.apiUrl("orders")), 200)
    }).pipe(Effect.provide(TestLayer)))
})

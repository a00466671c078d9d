/**
 * TokenHttpClient against the embedded AuthServer, over real HTTP on 127.0.0.1: the Bearer header, the
 * 401 flow, every fault of the token endpoint as a program calling an API sees it, tokens expiring
 * mid-run, and a server whose tokens are born due. Each test builds the server and the client inside the
 * test, so TestClock is the clock of both.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted, Stream, TestClock } from "effect"
import type { Duration } from "effect"
import { inspect } from "node:util"
import { Grant, RefreshPolicy, RetryPolicy, TokenError, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { closedPortUrl, ioTurn } from "./support/tokenEndpoint.js"

const Fault = AuthServer.Fault
const CLIENT = "api-client"
const SECRET = "api-secret"

/** The server, a token service for CLIENT on it, and both clients: the plain one and the authorized one. */
const makeLayer = (options: {
  readonly lifetime?: Duration.DurationInput
  readonly secret?: string
  readonly retry?: Layer.Layer<RetryPolicy.RetryPolicy>
  readonly policy?: Layer.Layer<RefreshPolicy.RefreshPolicy>
} = {}) => {
  const tokens = Layer.unwrapEffect(
    Effect.map(AuthServer.AuthServer, (server) =>
      TokenService.layer().pipe(
        Layer.provide(Grant.clientCredentials({
          tokenUrl: server.tokenUrl,
          clientId: CLIENT,
          clientSecret: Redacted.make(options.secret ?? SECRET)
        })),
        Layer.provide([
          options.policy ?? RefreshPolicy.layerDefault,
          options.retry ?? RetryPolicy.layerDefault,
          TokenStore.layerMemory
        ])
      ))
  )
  return TokenHttpClient.layer.pipe(
    Layer.provideMerge(tokens),
    Layer.provideMerge(AuthServer.layer({
      clients: [{ id: CLIENT, secret: SECRET, tokenLifetime: options.lifetime ?? "1 hour" }]
    })),
    Layer.provideMerge(NodeHttpClient.layerUndici)
  )
}

/** One API call through the `HttpClient` in context (the authorized one): its status. */
const call = (path = "things", request?: (url: string) => HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const server = yield* AuthServer.AuthServer
    const http = yield* HttpClient.HttpClient
    const url = server.apiUrl(path)
    const response = yield* http.execute(request === undefined ? HttpClientRequest.get(url) : request(url))
    yield* response.text
    return response.status
  })

/**
 * Runs `effect` while stepping the TestClock by `step`, with turns of the event loop between steps so
 * that real sockets make progress. Gives up (a defect) after `maxSteps`.
 */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.DurationInput, maxSteps = 2_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < maxSteps; i++) {
      for (let turn = 0; turn < 20; turn++) {
        if (fiber.unsafePoll() !== null) return yield* Fiber.join(fiber)
        yield* ioTurn
      }
      yield* TestClock.adjust(step)
    }
    return yield* Effect.dieMessage(`still running after ${maxSteps} clock steps`)
  })

describe("TokenHttpClient", () => {
  describe("the Bearer header", () => {
    it.effect("every request carries the token; one token request serves them all", () =>
      Effect.gen(function*() {
        const statuses = yield* Effect.all(Array.from({ length: 50 }, () => call()), { concurrency: 10 })
        assert.isTrue(statuses.every((s) => s === 200))
        const stats = yield* AuthServer.stats
        assert.strictEqual(stats.tokenRequests, 1)
        assert.deepStrictEqual(stats.apiByStatus, { 200: 50 })
      }).pipe(Effect.provide(makeLayer())))

    it.effect("the grant's own requests use the plain client (its Basic credentials reach the server)", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* call(), 200)
        const stats = yield* AuthServer.stats
        assert.deepStrictEqual(stats.tokenRequestsBy, { [CLIENT]: { issued: 1 } })
      }).pipe(Effect.provide(makeLayer())))

    it.effect("authorize(client, tokens) wraps a client by hand, for a second API with its own tokens", () =>
      Effect.gen(function*() {
        const server = yield* AuthServer.AuthServer
        // the HttpClient in context is the authorized one: take a plain client of our own
        const plain = yield* HttpClient.HttpClient.pipe(Effect.provide(FetchHttpClient.layer))
        const tokens = yield* TokenService.TokenService
        const api = TokenHttpClient.authorize(plain, tokens)
        const response = yield* api.get(server.apiUrl("by-hand"))
        assert.strictEqual(response.status, 200)
        // without the wrapper, the same API refuses
        assert.strictEqual((yield* plain.get(server.apiUrl("by-hand"))).status, 401)
        const fromContext = yield* TokenHttpClient.authorize(plain)
        assert.strictEqual((yield* fromContext.get(server.apiUrl("from-context"))).status, 200)
      }).pipe(Effect.provide(makeLayer())))
  })

  describe("the 401 flow", () => {
    it.effect("a revoked token: one retry with a new token, and success", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* call(), 200)
        const [first] = yield* AuthServer.tokens
        yield* AuthServer.revoke(first!.accessToken)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* call(), 200)
        const stats = yield* AuthServer.stats
        assert.strictEqual(stats.tokenRequests, 2)
        assert.deepStrictEqual(stats.apiByStatus, { 200: 2, 401: 1 })
        assert.strictEqual(stats.unauthorizedBy.revoked, 1)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a server that always answers 401: exactly two attempts, and the 401 is returned", () =>
      Effect.gen(function*() {
        yield* AuthServer.setApiAlwaysUnauthorized(true)
        assert.strictEqual(yield* drive(call(), "100 millis"), 401)
        const stats = yield* AuthServer.stats
        assert.strictEqual(stats.apiRequests, 2)
        assert.strictEqual(stats.tokenRequests, 2)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("100 concurrent requests meeting a 401 cause one token request", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* call(), 200)
        const [first] = yield* AuthServer.tokens
        yield* AuthServer.revoke(first!.accessToken)
        yield* TestClock.adjust("1 second")
        const statuses = yield* Effect.all(Array.from({ length: 100 }, () => call()), { concurrency: "unbounded" })
        assert.isTrue(statuses.every((s) => s === 200))
        const stats = yield* AuthServer.stats
        assert.strictEqual(stats.tokenRequests, 2)
        assert.strictEqual(stats.unauthorizedBy.revoked, 100)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a request whose body is a stream is not retried: its 401 is returned, and its token dropped", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* call(), 200)
        const [first] = yield* AuthServer.tokens
        yield* AuthServer.revoke(first!.accessToken)
        const upload = (url: string) =>
          HttpClientRequest.post(url).pipe(
            HttpClientRequest.setBody(HttpBody.stream(Stream.make(new TextEncoder().encode("data"))))
          )
        const status = yield* call("upload", upload)
        assert.strictEqual(status, 401)
        const stats = yield* AuthServer.stats
        assert.strictEqual(stats.tokenRequests, 1)
        // the rejected token is not sent again: the next upload gets a new one at once
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* call("upload", upload), 200)
        assert.strictEqual((yield* AuthServer.stats).unauthorizedBy.revoked, 1)
        // a replayable body is retried
        yield* AuthServer.revoke((yield* AuthServer.tokens)[1]!.accessToken)
        yield* TestClock.adjust("1 second")
        const retried = yield* call(
          "upload",
          (url) => HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText("data"))
        )
        assert.strictEqual(retried, 200)
        assert.strictEqual((yield* AuthServer.stats).unauthorizedBy.revoked, 2)
      }).pipe(Effect.provide(makeLayer())))
  })

  describe("the token endpoint's faults, as an API caller sees them", () => {
    const transient = [
      ["500", Fault.status(500)],
      ["503", Fault.status(503)],
      ["429 with Retry-After", Fault.tooManyRequests(3)],
      ["a connection reset", Fault.reset],
      ["a hang (the attempt times out)", Fault.hang],
      ["added latency", Fault.latency("3 seconds")]
    ] as const
    for (const [name, fault] of transient) {
      it.effect(`${name}: recovered within the default RetryPolicy`, () =>
        Effect.gen(function*() {
          yield* AuthServer.inject(fault)
          assert.strictEqual(yield* drive(call(), "250 millis"), 200)
          const stats = yield* AuthServer.stats
          assert.strictEqual(stats.tokenRequests, fault._tag === "Latency" ? 1 : 2)
          assert.deepStrictEqual(stats.apiByStatus, { 200: 1 })
        }).pipe(Effect.provide(makeLayer())))
    }

    const fatal = [
      ["malformed JSON", Fault.malformedJson, "Decode"],
      ["an HTML page with status 200", Fault.html, "Decode"],
      ["expires_in as a word", Fault.expiresInString("soon"), "Decode"],
      ["400 invalid_client", Fault.status(400, { error: "invalid_client" }), "Status"]
    ] as const
    for (const [name, fault, reason] of fatal) {
      it.effect(`${name}: fails with reason ${reason}, is not retried, and nothing is cached`, () =>
        Effect.gen(function*() {
          yield* AuthServer.inject(fault)
          const tokens = yield* TokenService.TokenService
          const error = yield* Effect.flip(drive(call(), "250 millis"))
          assert.strictEqual(error._tag, "RequestError")
          const cause = TokenHttpClient.tokenError(error)
          assert.strictEqual(cause?.reason, reason)
          assert.strictEqual((yield* AuthServer.stats).tokenRequests, 1)
          assert.strictEqual((yield* Effect.flip(tokens.current))._tag, "NotCached")
          // the next call asks again (a second later: token requests are spaced), and works
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* call(), 200)
          assert.strictEqual((yield* AuthServer.stats).tokenRequests, 2)
        }).pipe(Effect.provide(makeLayer())))
    }

    it.effect("expires_in missing or a numeric string: the token is used", () =>
      Effect.gen(function*() {
        yield* AuthServer.inject(Fault.expiresInMissing)
        assert.strictEqual(yield* call(), 200)
        const tokens = yield* TokenService.TokenService
        yield* tokens.invalidate()
        yield* TestClock.adjust("1 second")
        yield* AuthServer.inject(Fault.expiresInString("3600"))
        assert.strictEqual(yield* call(), 200)
        assert.strictEqual((yield* tokens.get).expiresIn, 3600)
        assert.strictEqual((yield* AuthServer.stats).tokenRequests, 2)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a token endpoint that never answers: a Timeout error once the retries are spent", () =>
      Effect.gen(function*() {
        yield* AuthServer.injectAlways(Fault.hang)
        const error = yield* Effect.flip(drive(call(), "1 second"))
        assert.strictEqual(TokenHttpClient.tokenError(error)?.reason, "Timeout")
        assert.strictEqual((yield* AuthServer.stats).tokenRequests, 5)
        assert.deepStrictEqual((yield* AuthServer.stats).apiByStatus, {})
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a wrong secret: authorize() fails with the token service's HttpError (invalid_client)", () =>
      Effect.gen(function*() {
        const server = yield* AuthServer.AuthServer
        const api = yield* TokenHttpClient.authorize(yield* HttpClient.HttpClient)
        const error = yield* Effect.flip(api.get(server.apiUrl("things")))
        assert.instanceOf(error, TokenError.HttpError)
        if (!(error instanceof TokenError.HttpError)) return
        assert.strictEqual(error.status, 401)
        assert.strictEqual(error.error, "invalid_client")
        assert.deepStrictEqual((yield* AuthServer.stats).apiByStatus, {})
      }).pipe(Effect.provide(makeLayer({ secret: "wrong" }))))
  })

  describe("expiry", () => {
    it.effect("200 requests over four token lifetimes never send an expired token", () =>
      Effect.gen(function*() {
        for (let i = 0; i < 200; i++) {
          assert.strictEqual(yield* call(), 200)
          yield* TestClock.adjust("100 millis")
        }
        const stats = yield* AuthServer.stats
        assert.strictEqual(stats.unauthorizedBy.expired, 0)
        assert.deepStrictEqual(stats.apiByStatus, { 200: 200 })
        // 20 seconds of 5-second tokens, each renewed between a quarter and a half of its life ahead of
        // expiry (the default margin, capped at half the lifetime, and its jitter)
        assert.isAtLeast(stats.tokenRequests, 6)
        assert.isAtMost(stats.tokenRequests, 16)
      }).pipe(Effect.provide(makeLayer({ lifetime: "5 seconds" }))))

    it.effect("expires_in: 0 (dead on arrival): at most one token request a second, and calls still end", () =>
      Effect.gen(function*() {
        yield* AuthServer.injectAlways(Fault.expiresIn(0))
        const calls = Effect.gen(function*() {
          const statuses: Array<number> = []
          for (let i = 0; i < 20; i++) statuses.push(yield* call())
          return statuses
        })
        const statuses = yield* drive(calls, "100 millis")
        // the server refuses its own tokens: every call ends, with the 401 after one retry
        assert.isTrue(statuses.every((s) => s === 401))
        const issued = (yield* AuthServer.tokens).map((t) => t.issuedAt.epochMillis)
        for (let i = 1; i < issued.length; i++) assert.isAtLeast(issued[i]! - issued[i - 1]!, 1000)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("tokens due on arrival (2-second tokens, a 5-minute margin): bounded requests, every call works", () =>
      Effect.gen(function*() {
        yield* AuthServer.injectAlways(Fault.expiresIn(2))
        const calls = Effect.gen(function*() {
          const statuses: Array<number> = []
          for (let i = 0; i < 100; i++) {
            statuses.push(yield* call())
            yield* Effect.sleep("100 millis")
          }
          return statuses
        })
        const statuses = yield* drive(calls, "100 millis")
        assert.isTrue(statuses.every((s) => s === 200))
        // 10 seconds of calls: at most one token request a second
        const stats = yield* AuthServer.stats
        assert.isAtMost(stats.tokenRequests, 11)
        assert.strictEqual(stats.unauthorizedBy.expired, 0)
      }).pipe(Effect.provide(makeLayer({ policy: RefreshPolicy.fixed("5 minutes") }))))
  })

  it.effect("a token error through the layer is a RequestError whose cause is the HttpError, without the secret", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(call())
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual(TokenHttpClient.tokenError(error)?.error, "invalid_client")
      for (const text of [String(error), inspect(error), JSON.stringify(error), error.message]) {
        assert.notInclude(text, "wrong-secret")
      }
    }).pipe(Effect.provide(makeLayer({ secret: "wrong-secret" }))))

  it.effect("responses and errors never show the token the request carried", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const http = yield* HttpClient.HttpClient
      const ok = yield* http.get(server.apiUrl("things"))
      const [token] = yield* AuthServer.tokens
      const value = Redacted.value(token!.accessToken)
      // a body that is not what the caller expected (JSON read as form data, an HTML page read as JSON)
      const undecodable = yield* Effect.flip(ok.formData)
      assert.strictEqual(undecodable.reason, "Decode")
      const unreachable = yield* Effect.flip(http.get(yield* closedPortUrl))
      assert.strictEqual(unreachable._tag, "RequestError")
      yield* AuthServer.setApiAlwaysUnauthorized(true)
      yield* TestClock.adjust("1 second")
      const refused = yield* Effect.flip(HttpClient.filterStatusOk(http).get(server.apiUrl("things")))
      assert.strictEqual(refused._tag, "ResponseError")
      for (const shown of [ok, ok.request, unreachable, refused, undecodable, undecodable.response]) {
        for (const text of [String(shown), inspect(shown, { depth: 10 }), JSON.stringify(shown)]) {
          assert.notInclude(text, value)
        }
      }
      assert.strictEqual(ok.status, 200)
      assert.isUndefined(ok.request.headers.authorization)
    }).pipe(Effect.provide(makeLayer())))
})

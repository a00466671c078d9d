/**
 * The Promise bridge, as non-Effect code uses it: plain `async` tests against the embedded AuthServer over
 * real HTTP on 127.0.0.1, in real time (nothing here waits for a token to expire).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import axios, { isAxiosError } from "axios"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Redacted } from "effect"
import { inspect } from "node:util"
import { Grant, RefreshPolicy, RetryPolicy, TokenError, TokenManager, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { authorizeAxios } from "../scratchpad/readme/axios.js"

const CLIENT = "bridge-client"
const SECRET = "bridge-secret"

/** Its tokens are born expired (`expires_in: 0`). */
const DEAD_CLIENT = "dead-on-arrival"

const serverRuntime = ManagedRuntime.make(AuthServer.layer({
  clients: [{ id: CLIENT, secret: SECRET }, { id: DEAD_CLIENT, secret: SECRET, tokenLifetime: "0 seconds" }]
}))
let server: AuthServer.Service

beforeAll(async () => {
  server = await serverRuntime.runPromise(AuthServer.AuthServer)
})
afterAll(() => serverRuntime.dispose())

const run = <A>(effect: Effect.Effect<A>) => Effect.runPromise(effect)

const tokenLayer = (secret = SECRET) =>
  TokenService.layer().pipe(
    Layer.provide(Grant.clientCredentials({
      tokenUrl: server.tokenUrl,
      clientId: CLIENT,
      clientSecret: Redacted.make(secret)
    })),
    Layer.provide([RefreshPolicy.layerDefault, RetryPolicy.layerDefault, TokenStore.layerMemory]),
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** A manager for one test, disposed at its end. */
const withManager = async <A>(f: (tokens: TokenManager.TokenManager) => Promise<A>, secret?: string): Promise<A> => {
  await run(server.resetStats)
  await run(server.setApiAlwaysUnauthorized(false))
  const tokens = TokenManager.make(tokenLayer(secret))
  try {
    return await f(tokens)
  } finally {
    await tokens.dispose()
  }
}

/** Turns of the event loop, no timers, until `check` holds (sockets closing take a few). */
const eventually = async (check: () => boolean): Promise<boolean> => {
  for (let i = 0; i < 10_000 && !check(); i++) await new Promise((resolve) => setImmediate(resolve))
  return check()
}

describe("TokenManager", () => {
  it("concurrent getToken() calls share one token request", () =>
    withManager(async (tokens) => {
      const all = await Promise.all(Array.from({ length: 100 }, () => tokens.getToken()))
      assert.strictEqual(new Set(all).size, 1)
      assert.strictEqual((await run(server.stats)).tokenRequests, 1)
      // a valid token costs no request
      assert.strictEqual(await tokens.getToken(), all[0])
      assert.strictEqual((await run(server.stats)).tokenRequests, 1)
    }))

  it("authorizationHeader() is what the API accepts", () =>
    withManager(async (tokens) => {
      const header = await tokens.authorizationHeader()
      assert.match(header, /^Bearer \S+$/)
      const response = await fetch(server.apiUrl("by-hand"), { headers: { authorization: header } })
      assert.strictEqual(response.status, 200)
    }))

  it("fetch() adds the token, and after a 401 retries once with a new one", () =>
    withManager(async (tokens) => {
      const first = await tokens.fetch(server.apiUrl("things"))
      assert.strictEqual(first.status, 200)
      assert.strictEqual((await first.json() as { client_id: string }).client_id, CLIENT)
      await run(server.revoke(await tokens.getToken()))
      const retried = await tokens.fetch(server.apiUrl("things"), {
        method: "POST",
        body: JSON.stringify({ n: 1 }),
        headers: { "content-type": "application/json" }
      })
      assert.strictEqual(retried.status, 200)
      const stats = await run(server.stats)
      assert.strictEqual(stats.tokenRequests, 2)
      assert.deepStrictEqual(stats.apiByStatus, { 200: 2, 401: 1 })
    }))

  it("fetch() against an API that always answers 401: two attempts, and the 401 is returned", () =>
    withManager(async (tokens) => {
      await run(server.setApiAlwaysUnauthorized(true))
      const response = await tokens.fetch(server.apiUrl("things"))
      assert.strictEqual(response.status, 401)
      assert.strictEqual((await run(server.stats)).apiRequests, 2)
    }))

  it("fetch() with a stream body is not retried", () =>
    withManager(async (tokens) => {
      await tokens.getToken()
      await run(server.revoke(await tokens.getToken()))
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("data"))
          controller.close()
        }
      })
      const response = await tokens.fetch(server.apiUrl("upload"), {
        method: "POST",
        body,
        duplex: "half"
      } as RequestInit)
      assert.strictEqual(response.status, 401)
      assert.strictEqual((await run(server.stats)).apiRequests, 1)
      // but its token is dropped: the next request carries a new one
      assert.strictEqual((await tokens.fetch(server.apiUrl("things"))).status, 200)
      assert.deepStrictEqual((await run(server.stats)).apiByStatus, { 200: 1, 401: 1 })
    }))

  it("the README's axios interceptors: the token on every request, one retry after a 401", () =>
    withManager(async (tokens) => {
      const api = authorizeAxios(axios.create({ baseURL: server.url, validateStatus: () => true }), tokens)
      assert.strictEqual((await api.get("/api/contracts")).status, 200)
      await run(server.revoke(await tokens.getToken()))
      assert.strictEqual((await api.get("/api/contracts")).status, 200)
      let stats = await run(server.stats)
      assert.strictEqual(stats.tokenRequests, 2)
      assert.deepStrictEqual(stats.apiByStatus, { 200: 2, 401: 1 })
      // an API that refuses every token: two attempts, then the 401 reaches the caller
      await run(server.setApiAlwaysUnauthorized(true))
      const strict = authorizeAxios(axios.create({ baseURL: server.url }), tokens)
      const error: unknown = await strict.get("/api/contracts").then(() => undefined, (e: unknown) => e)
      assert.isTrue(isAxiosError(error) && error.response?.status === 401)
      stats = await run(server.stats)
      assert.strictEqual(stats.apiRequests, 5)
    }))

  it("invalidate(token) drops that token only", () =>
    withManager(async (tokens) => {
      const first = await tokens.getToken()
      await tokens.invalidate("some-other-token")
      assert.strictEqual(await tokens.getToken(), first)
      await tokens.invalidate(first)
      const second = await tokens.getToken()
      assert.notStrictEqual(second, first)
    }))

  it("a refused secret rejects with the token service's HttpError, which shows no secret", () =>
    withManager(async (tokens) => {
      const error: unknown = await tokens.getToken().then(() => undefined, (e: unknown) => e)
      assert.instanceOf(error, TokenError.HttpError)
      if (!(error instanceof TokenError.HttpError)) return
      assert.strictEqual(error.error, "invalid_client")
      assert.isFalse(error.isTransient)
      for (const text of [String(error), inspect(error), JSON.stringify(error)]) {
        assert.notInclude(text, "wrong-bridge-secret")
      }
    }, "wrong-bridge-secret"))

  it("dispose() closes what the manager opened", async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length
    const tokens = TokenManager.make(tokenLayer())
    await tokens.getToken()
    assert.isAbove(process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length, before)
    await tokens.dispose()
    assert.isTrue(
      await eventually(() => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length === before)
    )
    // and a disposed manager refuses politely: with an Error, as a Promise API should
    const error: unknown = await tokens.getToken().then(() => undefined, (e: unknown) => e)
    assert.instanceOf(error, Error)
    if (error instanceof Error) assert.include(error.message, "disposed")
  })

  it("a renewal runs in the manager's runtime: its logs reach the layer's logger", async () => {
    const lines: Array<string> = []
    const logger = Logger.make((options) => {
      lines.push(Logger.logfmtLogger.log(options))
    })
    // tokens due on arrival: every getToken() after the first renews, from the synchronous path
    const tokens = TokenManager.make(
      TokenService.layer({ minTokenLifetime: "0 millis" }).pipe(
        Layer.provide(Grant.clientCredentials({
          tokenUrl: server.tokenUrl,
          clientId: DEAD_CLIENT,
          clientSecret: Redacted.make(SECRET)
        })),
        Layer.provide([RefreshPolicy.layerDefault, RetryPolicy.layerDefault, TokenStore.layerMemory]),
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.provide(Logger.replace(Logger.defaultLogger, logger)),
        Layer.provide(Logger.minimumLogLevel(LogLevel.All))
      )
    )
    try {
      await tokens.getToken()
      await tokens.getToken()
      await tokens.getToken()
      assert.strictEqual(lines.filter((line) => line.includes("new token")).length, 3)
    } finally {
      await tokens.dispose()
    }
  })
})

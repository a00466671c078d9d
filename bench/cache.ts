/**
 * Section 9 of `npm run bench`: `TokenCache`, many tokens per client.
 *
 * - a hit on a warm key (`yield* cache.get({ scope })`) against a `TokenService` hit (`yield* tokens.get`),
 *   interleaved: target <= 2x;
 * - 10,000 concurrent gets over 100 cold keys against the real token endpoint: exactly 100 token
 *   requests, wall time <= 2x the one-key batch of 10,000 (a `TokenService` on a cold cache);
 * - the heap per 100,000 cached tokens (a grant that answers at once, no HTTP): target under 100 MB.
 */
import { NodeHttpClient } from "@effect/platform-node"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenCache, TokenService, TokenStore } from "tokenlayer"
import type { TokenServer } from "./server.js"
import { collectGarbage, fmt, median, now, ratios, roundRobin } from "./stats.js"

const HIT_N = 100_000
const HIT_REPS = 11
const CALLERS = 10_000
const KEYS = 100
const COLD_REPS = 5
const MEMORY_KEYS = 100_000
const TARGET_HIT_RATIO = 2
const TARGET_COLD_RATIO = 2
const TARGET_MEMORY_MB = 100

export interface Row {
  readonly measure: string
  readonly figure: string
  readonly target: string
  readonly status: "PASS" | "MISSED" | "info"
}

const deps = Layer.mergeAll(RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerMemory)

const grantLayer = (tokenUrl: string, clientId: string, clientSecret: string) =>
  Grant.clientCredentials({ tokenUrl, clientId, clientSecret: Redacted.make(clientSecret) }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** A grant that answers at once, for any request: the memory measure asks no server. */
const instantGrant: Grant.Service = (() => {
  let n = 0
  const make = (key: string): Grant.Service => ({
    key,
    request: () =>
      Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (ms) =>
        Token.make({
          accessToken: Redacted.make(`access-token-${++n}-${"x".repeat(800)}`),
          tokenType: "Bearer",
          expiresIn: 3600,
          issuedAt: DateTime.unsafeMake(ms)
        }))
  })
  const base = make("grant=bench")
  return { ...base, forRequest: (request) => make(Grant.requestKey(base.key, request)) }
})()

export const runCacheBench = async (options: {
  readonly log: (line: string) => void
  readonly server: TokenServer
  readonly clientId: string
  readonly clientSecret: string
}): Promise<{ readonly rows: ReadonlyArray<Row> }> => {
  const { log, server } = options
  const rows: Array<Row> = []
  const grant = grantLayer(server.url, options.clientId, options.clientSecret)

  // 9a. hit on a warm key vs a TokenService hit
  log(`\n9. TokenCache: warm hit vs TokenService hit (${HIT_N} x yield* in one Effect.gen)`)
  const scope = Effect.runSync(Scope.make())
  const build = <A, E>(layer: Layer.Layer<A, E>) => Effect.runPromise(Layer.buildWithScope(layer, scope))
  const serviceCtx = await build(TokenService.layer().pipe(Layer.provide(grant), Layer.provide(deps)))
  const cacheCtx = await build(TokenCache.layer().pipe(Layer.provide(grant), Layer.provide(deps)))
  const tokens = await Effect.runPromise(Effect.provide(TokenService.TokenService, serviceCtx))
  const cache = await Effect.runPromise(Effect.provide(TokenCache.TokenCache, cacheCtx))
  const request = { scope: "read" }
  await Effect.runPromise(tokens.get)
  await Effect.runPromise(cache.get(request))
  const loop = (one: () => Effect.Effect<unknown, unknown>) => () =>
    Effect.runPromise(Effect.gen(function*() {
      for (let i = 0; i < HIT_N; i++) yield* one()
    }))
  const timed = (thunk: () => Promise<void>) => async () => {
    collectGarbage()
    const start = now()
    await thunk()
    return now() - start
  }
  const t = await roundRobin(HIT_REPS, {
    service: timed(loop(() => tokens.get)),
    cache: timed(loop(() => cache.get({ scope: "read" })))
  }, { minReps: 5, budgetMs: 10_000 })
  const ratio = median(ratios(t.cache, t.service))
  const ns = (ms: number) => (ms * 1e6) / HIT_N
  log(
    `   TokenService hit ${fmt(ns(median(t.service)))} ns, TokenCache hit ${fmt(ns(median(t.cache)))} ns: ${
      fmt(ratio, 2)
    }x`
  )
  rows.push({
    measure: "9. TokenCache hit on a warm key",
    figure: `${fmt(ns(median(t.cache)))} ns/op`,
    target: "",
    status: "info"
  })
  rows.push({
    measure: "9. TokenCache hit / TokenService hit",
    figure: `${fmt(ratio, 2)}x`,
    target: `<= ${TARGET_HIT_RATIO}x`,
    status: ratio <= TARGET_HIT_RATIO ? "PASS" : "MISSED"
  })

  // 9b. 10,000 concurrent gets over 100 cold keys vs 10,000 over one cold key
  log(`   ${CALLERS} concurrent gets over ${KEYS} cold keys vs over one`)
  const requestsPerBatch: Array<number> = []
  const cold = await roundRobin(COLD_REPS, {
    many: async () => {
      const s = Effect.runSync(Scope.make())
      const ctx = await Effect.runPromise(
        Layer.buildWithScope(TokenCache.layer().pipe(Layer.provide(grant), Layer.provide(deps)), s)
      )
      const c = await Effect.runPromise(Effect.provide(TokenCache.TokenCache, ctx))
      const before = await server.requests()
      const start = now()
      await Effect.runPromise(
        Effect.forEach(
          Array.from({ length: CALLERS }, (_, i) => ({ scope: `scope-${i % KEYS}` })),
          (r) => c.get(r),
          { concurrency: "unbounded", discard: true }
        )
      )
      const ms = now() - start
      requestsPerBatch.push((await server.requests()) - before)
      await Effect.runPromise(Scope.close(s, Exit.void))
      return ms
    },
    one: async () => {
      const s = Effect.runSync(Scope.make())
      const ctx = await Effect.runPromise(
        Layer.buildWithScope(TokenService.layer().pipe(Layer.provide(grant), Layer.provide(deps)), s)
      )
      const one = await Effect.runPromise(Effect.provide(TokenService.TokenService, ctx))
      const start = now()
      await Effect.runPromise(
        Effect.forEach(Array.from({ length: CALLERS }), () => one.get, { concurrency: "unbounded", discard: true })
      )
      const ms = now() - start
      await Effect.runPromise(Scope.close(s, Exit.void))
      return ms
    }
  }, { minReps: 3, budgetMs: 20_000 })
  const coldRatio = median(ratios(cold.many, cold.one))
  const exact = requestsPerBatch.every((n) => n === KEYS)
  log(
    `   requests per batch ${requestsPerBatch.join(", ")}; ${fmt(median(cold.many), 1)} ms vs ${
      fmt(median(cold.one), 1)
    } ms: ${fmt(coldRatio, 2)}x`
  )
  rows.push({
    measure: `9. token requests per batch of ${CALLERS} over ${KEYS} cold keys`,
    figure: [...new Set(requestsPerBatch)].join(", "),
    target: `exactly ${KEYS}`,
    status: exact ? "PASS" : "MISSED"
  })
  rows.push({
    measure: `9. wall time: ${KEYS} cold keys / one cold key (${CALLERS} gets)`,
    figure: `${fmt(coldRatio, 2)}x (${fmt(median(cold.many), 1)} ms / ${fmt(median(cold.one), 1)} ms)`,
    target: `<= ${TARGET_COLD_RATIO}x`,
    status: coldRatio <= TARGET_COLD_RATIO ? "PASS" : "MISSED"
  })

  // 9c. heap per 100,000 cached tokens
  collectGarbage()
  const heapBefore = process.memoryUsage().heapUsed
  const memScope = Effect.runSync(Scope.make())
  const memCache = await Effect.runPromise(
    TokenCache.make({ maxEntries: MEMORY_KEYS }).pipe(
      Effect.provideService(Grant.Grant, instantGrant),
      Effect.provide(Layer.mergeAll(RefreshPolicy.fixed("5 minutes"), RetryPolicy.none)),
      Scope.extend(memScope)
    )
  )
  // filled with `set` (a token per user, as after their logins): 100,000 token requests would measure
  // the flights, not what stays in memory
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < MEMORY_KEYS; i++) {
      const token = yield* instantGrant.request(Option.none())
      yield* memCache.set({ subject: `user-${i}` }, token)
    }
    // and every one is a warm hit
    for (let i = 0; i < MEMORY_KEYS; i++) yield* memCache.get({ subject: `user-${i}` })
  }))
  collectGarbage()
  const mb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20
  const size = await Effect.runPromise(memCache.size)
  log(
    `   ${size} cached tokens (800-byte access tokens, in memory and in the cache's own memory store): ${
      fmt(mb, 1)
    } MB heap`
  )
  rows.push({
    measure: `9. heap for ${MEMORY_KEYS} cached tokens (800-byte access tokens)`,
    figure: `${fmt(mb, 1)} MB`,
    target: `< ${TARGET_MEMORY_MB} MB`,
    status: mb < TARGET_MEMORY_MB && size === MEMORY_KEYS ? "PASS" : "MISSED"
  })
  // what the tokens themselves take (their access token strings), and what the cache adds to each
  const tokenMb = (MEMORY_KEYS *
    (Redacted.value((await Effect.runPromise(instantGrant.request(Option.none()))).accessToken).length + 16)) /
    2 ** 20
  rows.push({
    measure: `9. cache overhead per token (heap minus the access token strings)`,
    figure: `${fmt(((mb - tokenMb) * 2 ** 20) / MEMORY_KEYS, 0)} bytes`,
    target: "",
    status: "info"
  })
  await Effect.runPromise(Scope.close(memScope, Exit.void))
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return { rows }
}

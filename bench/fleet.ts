/**
 * The Redis store's benchmark section: what sharing tokens through Redis saves a fleet, and what a
 * trip to Redis adds to a `get`.
 *
 * 1. **Token requests of a fleet.** 8 Node processes (the test fleet harness, `test/support/fleet.ts`),
 *    one token endpoint (`bench/token-server.mjs`), over 3 token lifetimes: all get at once, cold; then,
 *    twice, every process's Clock is moved past the refresh point and all get again. Once with every
 *    process on one Redis, once with each on its own memory store. Expected: 3 requests versus 24.
 * 2. **A miss that goes to Redis.** In this process: a token service with a cold memory whose store
 *    holds a valid token answers its first `get` from the store. Timed against the same over a memory
 *    store holding the token, interleaved, median of many; the difference is what Redis adds (a `GET`
 *    over loopback and the JSON decoding).
 *
 * Both start what they need (a `redis-server` on a free port, the token endpoint) and stop it after.
 * Called by `bench/run.ts`:
 *
 * ```ts
 * import { runFleetBench } from "./fleet.js"
 * const fleet = await runFleetBench({ log })
 * for (const r of fleet.rows) row(r.measure, r.figure, r.target, r.status)
 * // and append fleet.markdown (a "## ..." section) to BENCHMARKS.md
 * ```
 *
 * Or on its own: `npx tsx --conditions=source bench/fleet.ts`.
 */
import { NodeHttpClient } from "@effect/platform-node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
import * as RedisStore from "tokenlayer/TokenStore/Redis"
import * as Fleet from "../test/support/fleet.js"
import * as RedisServer from "../test/support/redisServer.js"
import { startTokenServer, type TokenServer } from "./server.js"
import { fmt, median, now, ratios, roundRobin } from "./stats.js"

const CLIENT_ID = "bench-client"
const CLIENT_SECRET = "bench-secret"

/** Processes in the fleet, and token lifetimes they run through. */
const FLEET = 8
const LIFETIMES = 3
/** The endpoint's tokens live 3600 s; the refresh buffer is 5 minutes: 3301 s later a token is due. */
const PAST_DUE_MILLIS = 3_301_000
/** Cold gets timed per store (interleaved), at most, and the time they may take. */
const MISS_REPS = 300
const MISS_MIN_REPS = 50
const MISS_BUDGET_MS = 15_000

/** A line of the bench's table. */
export interface FleetBenchRow {
  readonly measure: string
  readonly figure: string
  readonly target: string
  readonly status: "PASS" | "MISSED" | "info"
}

/** What `runFleetBench` measured. */
export interface FleetBenchResult {
  /** Rows for the bench's table (the fleet counts are targets; the latencies are information). */
  readonly rows: ReadonlyArray<FleetBenchRow>
  /** A Markdown section (`## ...`) for BENCHMARKS.md: figures and what was measured. */
  readonly markdown: string
}

// -----------------------------------------------------------------------------
// 1. token requests of a fleet
// -----------------------------------------------------------------------------

const fleetRequests = (server: TokenServer, store: Fleet.StoreSpec): Effect.Effect<number, never, Scope.Scope> =>
  Effect.gen(function*() {
    const before = yield* Effect.promise(() => server.requests())
    const fleet = yield* Fleet.start(FLEET, {
      tokenUrl: server.url,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      store,
      refreshBufferMillis: 300_000
    })
    for (let lifetime = 0; lifetime < LIFETIMES; lifetime++) {
      if (lifetime > 0) yield* fleet.broadcast({ cmd: "advance", millis: PAST_DUE_MILLIS })
      const answers = yield* fleet.broadcast({ cmd: "get" })
      const failed = answers.filter((answer) => !answer.ok)
      if (failed.length > 0) return yield* Effect.dieMessage(`${failed.length} gets failed: ${JSON.stringify(failed)}`)
    }
    return (yield* Effect.promise(() => server.requests())) - before
  })

// -----------------------------------------------------------------------------
// 2. a cold get answered from the store
// -----------------------------------------------------------------------------

const missLatency = (server: TokenServer, redisUrl: string, log: (line: string) => void) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const deps = yield* Layer.buildWithScope(
      Layer.mergeAll(
        Grant.clientCredentials({
          tokenUrl: server.url,
          clientId: CLIENT_ID,
          clientSecret: Redacted.make(CLIENT_SECRET)
        }).pipe(Layer.provide(NodeHttpClient.layerUndici)),
        RefreshPolicy.fixed("5 minutes"),
        RetryPolicy.layerDefault
      ),
      scope
    )
    const key = Context.get(deps, Grant.Grant).key
    const redis = yield* RedisStore.make({ url: redisUrl, prefix: "bench:" })
    const memory = yield* TokenStore.makeMemory

    // one valid token, in both stores
    const seed = yield* Effect.scoped(
      Effect.flatMap(
        TokenService.make().pipe(Effect.provide(Context.add(deps, TokenStore.TokenStore, memory))),
        (tokens) => tokens.get
      )
    )
    yield* redis.save(key, seed)
    yield* memory.save(key, seed)
    const requestsBefore = yield* Effect.promise(() => server.requests())

    /** Builds a service with a cold memory over `store` (not timed), then times its first `get`. */
    const coldGet = (store: TokenStore.Service) => async (): Promise<number> => {
      const serviceScope = Effect.runSync(Scope.make())
      try {
        const tokens = await Effect.runPromise(
          TokenService.make().pipe(
            Effect.provide(Context.add(deps, TokenStore.TokenStore, store)),
            Scope.extend(serviceScope)
          )
        )
        // no full collection before the sample (as `time` does): right after one, a socket read takes
        // milliseconds instead of tens of microseconds, which would bury what Redis adds
        const start = now()
        await Effect.runPromise(tokens.get)
        return now() - start
      } finally {
        await Effect.runPromise(Scope.close(serviceScope, Exit.void))
      }
    }
    // warm up both paths (JIT, the Redis connection)
    for (let i = 0; i < 20; i++) {
      yield* Effect.promise(coldGet(redis))
      yield* Effect.promise(coldGet(memory))
    }
    const t = yield* Effect.promise(() =>
      roundRobin(MISS_REPS, { redis: coldGet(redis), memory: coldGet(memory) }, {
        minReps: MISS_MIN_REPS,
        budgetMs: MISS_BUDGET_MS
      })
    )
    const extraRequests = (yield* Effect.promise(() => server.requests())) - requestsBefore
    if (extraRequests > 0) log(`   note: ${extraRequests} token requests during the timed gets (expected none)`)
    return {
      reps: t.redis.length,
      redis: median(t.redis) * 1000,
      memory: median(t.memory) * 1000,
      added: median(t.redis.map((r, i) => r - t.memory[i]!)) * 1000,
      ratio: median(ratios(t.redis, t.memory)),
      extraRequests
    }
  })

// -----------------------------------------------------------------------------
// the section
// -----------------------------------------------------------------------------

/**
 * Runs the Redis fleet benchmark: starts a `redis-server` and a token endpoint, measures, stops them.
 * Never throws for a missing `redis-server`: the result says it was skipped.
 */
export const runFleetBench = async (
  options: { readonly log?: ((line: string) => void) | undefined } = {}
): Promise<FleetBenchResult> => {
  const log = options.log ?? ((line: string) => console.log(line))
  log(`\n7. Redis store: token requests of a fleet of ${FLEET} processes over ${LIFETIMES} token lifetimes,`)
  log("   and the cost of a cold get answered from Redis")
  if (!RedisServer.availability.available) {
    const reason = RedisServer.availability.reason
    log(`   skipped: ${reason}`)
    return {
      rows: [{ measure: "7. Redis fleet", figure: "skipped", target: reason, status: "info" }],
      markdown: `## Redis store\n\nSkipped: ${reason}.\n`
    }
  }

  const server = await startTokenServer({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })
  try {
    return await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const redisServer = yield* RedisServer.start()
      const redis = yield* Effect.scoped(
        fleetRequests(server, { kind: "redis", url: redisServer.url, prefix: "fleet:" })
      )
      log(`   ${FLEET} processes sharing Redis:           ${redis} token requests`)
      const memory = yield* Effect.scoped(fleetRequests(server, { kind: "memory" }))
      log(`   ${FLEET} processes, each its memory store:  ${memory} token requests`)
      const miss = yield* missLatency(server, redisServer.url, log)
      log(`   cold get from Redis        ${fmt(miss.redis)} us (median of ${miss.reps})`)
      log(`   cold get from memory store ${fmt(miss.memory)} us`)
      log(`   added by Redis             ${fmt(miss.added)} us (median of the per-repetition differences)`)

      const expectedRedis = LIFETIMES
      const expectedMemory = LIFETIMES * FLEET
      const rows: Array<FleetBenchRow> = [
        {
          measure: `7. fleet of ${FLEET}, ${LIFETIMES} lifetimes: token requests sharing Redis`,
          figure: String(redis),
          target: `${expectedRedis}`,
          status: redis === expectedRedis ? "PASS" : "MISSED"
        },
        {
          measure: `7. fleet of ${FLEET}, ${LIFETIMES} lifetimes: token requests with memory stores`,
          figure: String(memory),
          target: `${expectedMemory} (expected, not a target)`,
          status: "info"
        },
        {
          measure: "7. cold get answered from Redis",
          figure: `${fmt(miss.redis)} us`,
          target: "",
          status: "info"
        },
        {
          measure: "7. cold get answered from a memory store",
          figure: `${fmt(miss.memory)} us`,
          target: "",
          status: "info"
        },
        {
          measure: "7. added by a miss that goes to Redis",
          figure: `${fmt(miss.added)} us (${fmt(miss.ratio, 2)}x)`,
          target: "",
          status: "info"
        }
      ]
      const markdown = [
        "## Redis store (`bench/fleet.ts`)",
        "",
        "| measure | figure |",
        "| --- | --- |",
        `| token requests, ${FLEET} processes sharing one Redis, ${LIFETIMES} token lifetimes | ${redis} (expected ${expectedRedis}) |`,
        `| token requests, ${FLEET} processes each with a memory store, ${LIFETIMES} token lifetimes | ${memory} (expected ${expectedMemory}) |`,
        `| first \`get\` of a cold service, answered from Redis | ${fmt(miss.redis)} us |`,
        `| first \`get\` of a cold service, answered from a memory store | ${fmt(miss.memory)} us |`,
        `| added by Redis (median of per-repetition differences) | ${fmt(miss.added)} us (${fmt(miss.ratio, 2)}x) |`,
        "",
        `1. **Fleet.** ${FLEET} Node processes (the test fleet harness, \`test/support/fleet.ts\`), each a`,
        "   `TokenService` with `RefreshPolicy.fixed(\"5 minutes\")`, ask the bench's token endpoint",
        "   (`expires_in: 3600`). All get at once, cold; then, twice, every process's Clock is moved 3301 s",
        "   on (past the refresh point) and all get again. Once on one `redis-server` (started on a free port,",
        "   no persistence), once each on its own memory store.",
        "2. **A miss that goes to Redis.** In the bench process: a token service with a cold memory, over a",
        "   store that holds a valid token, answers its first `get` from the store (one `GET` and the JSON",
        "   decoding for Redis; a map lookup for the memory store). The service is built untimed; the `get`",
        `   is timed. Interleaved, ${miss.reps} repetitions each; medians. A warm \`get\` never goes to the store.`,
        ...(miss.extraRequests > 0
          ? ["", `Note: ${miss.extraRequests} token requests happened during the timed gets (expected none).`]
          : [])
      ].join("\n")
      return { rows, markdown: `${markdown}\n` } satisfies FleetBenchResult
    })))
  } finally {
    await server.close()
  }
}

// run on its own: `npx tsx --conditions=source bench/fleet.ts`
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"))) {
  runFleetBench().then(
    (result) => {
      console.log(`\n${result.markdown}`)
      setTimeout(() => process.exit(0), 1_000).unref()
    },
    (error: unknown) => {
      console.error("fleet bench failed:", error)
      process.exit(1)
    }
  )
}

import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as RedisStore from "tokenlayer/TokenStore/Redis"
import { describeRedis } from "./support/describeRedis.js"
import * as Fleet from "./support/fleet.js"
import * as RedisServer from "./support/redisServer.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const issued = (index: number): string => `fleet-redis-token-${index}`
const prefix = "fleet:"

const rawClient = (url: string): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
    (redis) => Effect.sync(() => redis.disconnect())
  )

/** Retries `effect` (real time, 50 ms apart, 30 s at most) until it succeeds: waiting on processes. */
const eventually = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, never, R> =>
  Effect.retry(effect, { schedule: Schedule.spaced("50 millis"), times: 600 }).pipe(
    Effect.orDieWith(() => new Error(`gave up waiting for ${what}`))
  )

const hashes = (answers: ReadonlyArray<Fleet.Answer>): ReadonlyArray<string | false | undefined> =>
  answers.map((answer) => answer.ok && answer.tokenHash)

describeRedis("a fleet of 8 processes sharing Redis", () => {
  it.live("cold start: exactly 1 token request; once the token is due: exactly 1 more", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start()
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond((_, index) => TokenEndpoint.tokenReply({ access_token: issued(index), expires_in: 3600 }))
      const fleet = yield* Fleet.start(8, {
        tokenUrl: endpoint.url,
        store: { kind: "redis", url: server.url, prefix },
        refreshBufferMillis: 300_000
      })

      const first = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(hashes(first), Array(8).fill(Fleet.tokenHash(issued(0))))
      assert.strictEqual((yield* endpoint.requests).length, 1)

      yield* fleet.broadcast({ cmd: "advance", millis: 3_301_000 })
      const second = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(hashes(second), Array(8).fill(Fleet.tokenHash(issued(1))))
      assert.strictEqual((yield* endpoint.requests).length, 2)
    }).pipe(Effect.provide(TokenEndpoint.layer), Effect.scoped), 120_000)

  it.live(
    "the lease holder killed mid-fetch: the others get a token once its lease expires, with 1 more request",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start()
        const raw = yield* rawClient(server.url)
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        // the first request hangs (the holder is killed while it waits); the next ones are answered at once
        yield* endpoint.respond((_, index) => ({
          ...TokenEndpoint.tokenReply({ access_token: issued(index), expires_in: 3600 }),
          ...(index === 0 ? { delay: "60 seconds" } : {})
        }))
        const fleet = yield* Fleet.start(8, {
          tokenUrl: endpoint.url,
          // a short lease, so that the test is quick; the lock timeout is long, so that a waiter that got
          // a token can only have had it through the lease (falling back after the timeout would mean 8 requests)
          store: { kind: "redis", url: server.url, prefix, leaseMillis: 3_000 },
          lockTimeoutMillis: 60_000
        })

        const sent = yield* Effect.forEach(
          fleet.workers,
          (worker) => Effect.map(worker.send({ cmd: "get" }), (id) => [worker, id] as const)
        )
        yield* endpoint.awaitRequests(1)

        // the lease's value names its holder: host/pid/random
        const leases = yield* Effect.promise(() => raw.keys(RedisStore.lockKey("*", prefix)))
        assert.strictEqual(leases.length, 1)
        const owner = yield* Effect.promise(() => raw.get(leases[0]!))
        const holderPid = Number(owner?.split("/")[1])
        const holder = fleet.workers.find((worker) => worker.pid === holderPid)
        assert.isDefined(holder, `a worker holds the lease (${owner})`)
        yield* holder!.kill

        const answers = yield* Effect.forEach(
          sent.filter(([worker]) => worker !== holder),
          ([worker, id]) => worker.answer(id),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(hashes(answers), Array(7).fill(Fleet.tokenHash(issued(1))))
        assert.strictEqual((yield* endpoint.requests).length, 2)
      }).pipe(Effect.provide(TokenEndpoint.layer), Effect.scoped),
    120_000
  )

  it.live(
    "Redis killed mid-run: gets go on from memory, a cold one fetches alone; sharing resumes when it is back",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.start()
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        yield* endpoint.respond((_, index) =>
          TokenEndpoint.tokenReply({ access_token: issued(index), expires_in: 3600 })
        )
        const requests = Effect.map(endpoint.requests, (all) => all.length)
        const fleet = yield* Fleet.start(4, {
          tokenUrl: endpoint.url,
          store: { kind: "redis", url: server.url, prefix },
          storeTimeoutMillis: 5_000
        })
        const [w0, w1, w2] = fleet.workers as [Fleet.FleetWorker, Fleet.FleetWorker, Fleet.FleetWorker]
        assert.deepStrictEqual(
          hashes(yield* fleet.broadcast({ cmd: "get" })),
          Array(4).fill(Fleet.tokenHash(issued(0)))
        )
        assert.strictEqual(yield* requests, 1)

        yield* server.kill
        // from memory: no request, no failure
        assert.deepStrictEqual(
          hashes(yield* fleet.broadcast({ cmd: "get" })),
          Array(4).fill(Fleet.tokenHash(issued(0)))
        )
        assert.strictEqual(yield* requests, 1)
        // a get with nothing in memory fetches on its own, with a warning
        yield* w0.request({ cmd: "invalidate" })
        assert.deepStrictEqual(hashes([yield* w0.request({ cmd: "get" })]), [Fleet.tokenHash(issued(1))])
        assert.strictEqual(yield* requests, 2)
        const warnings = (yield* w0.logs).filter((line) => line.level === "WARN").map((line) => line.message)
        assert.isTrue(warnings.some((message) => message.includes("fetching on our own")), warnings.join("\n"))

        yield* server.restart // an empty Redis, on the same port
        for (const worker of [w1, w2]) {
          yield* eventually(
            `worker ${worker.index} to reconnect`,
            Effect.filterOrFail(
              worker.logs,
              (lines) => lines.some((line) => line.message.includes("connection restored"))
            )
          )
        }
        // w1 renews and saves; w2, its memory emptied, loads w1's token instead of asking for one
        assert.deepStrictEqual(hashes([yield* w1.request({ cmd: "refresh" })]), [Fleet.tokenHash(issued(2))])
        assert.strictEqual(yield* requests, 3)
        yield* w2.request({ cmd: "invalidate" })
        assert.deepStrictEqual(hashes([yield* w2.request({ cmd: "get" })]), [Fleet.tokenHash(issued(2))])
        assert.strictEqual(yield* requests, 3)
      }).pipe(Effect.provide(TokenEndpoint.layer), Effect.scoped),
    120_000
  )
})

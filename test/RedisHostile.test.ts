/**
 * Hostile content in Redis (issue 10): what someone else wrote at the store's keys (a value of 200 MB, a
 * hash, JSON nested 100,000 deep, garbage at the lock key) and a Redis that stops answering (SIGSTOP)
 * are typed errors, in bounded memory and without waits that add up.
 *
 * The Clock is a TestClock: nothing here sleeps. What happens in another process (the frozen server
 * answering again once continued) is waited for with `pollUntil` (real time, bounded).
 */
import { assert, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Exit, Fiber, Redacted, type Scope, TestClock } from "effect"
import { Redis } from "ioredis"
import { Token, type TokenError, TokenStore } from "tokenlayer"
import * as RedisStore from "tokenlayer/TokenStore/Redis"
import { describeRedis } from "./support/describeRedis.js"
import { captureLogs } from "./support/logs.js"
import * as RedisServer from "./support/redisServer.js"
import { ioTurn, pollUntil } from "./support/tokenEndpoint.js"

const key = "grant=client_credentials;token_url=https://auth.example.com/token;client_id=hostile"

let prefixes = 0
/** A prefix of its own for each test, so that tests sharing a server never see each other's keys. */
const freshPrefix = (): string => `hostile-${process.pid}-${++prefixes}:`

const call = <A>(f: () => Promise<A>): Effect.Effect<A> => Effect.promise(f)

/** A plain client for planting what the store must survive; closed with the scope. */
const rawClient = (url: string): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
    (redis) => Effect.sync(() => redis.disconnect())
  )

const fixture = (options: RedisStore.Options = {}) =>
  Effect.gen(function*() {
    const server = yield* RedisServer.RedisServer
    const prefix = freshPrefix()
    const store = yield* RedisStore.make({ url: server.url, prefix, ...options })
    const raw = yield* rawClient(server.url)
    return { store, raw, where: RedisStore.tokenKey(key, prefix), lease: RedisStore.lockKey(key, prefix) }
  })

const tokenFor = (accessToken: string, issuedAt: DateTime.Utc): Token.Token =>
  Token.make({
    accessToken: Redacted.make(accessToken),
    tokenType: "Bearer",
    expiresIn: 3600,
    issuedAt,
    expiresAt: DateTime.addDuration(issuedAt, Duration.seconds(3600))
  })

/** The typed failure of `exit`, else the test fails (a success, a defect: a RangeError must not be one). */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("succeeded")
  if (exit.cause._tag !== "Fail") return assert.fail(`not a typed failure: ${String(exit.cause).slice(0, 300)}`)
  return exit.cause.error
}

/** The Corrupted a load fails with. */
const corruptedLoad = (store: TokenStore.Service): Effect.Effect<TokenError.Corrupted> =>
  Effect.map(Effect.exit(store.load(key)), (exit) => {
    const error = failureOf(exit)
    if (error._tag !== "Corrupted") return assert.fail(`${error._tag}: ${error.message}`)
    return error
  })

/** Whether a load answers NotCached (the store answers again, and nothing was saved meanwhile). */
const notCached = (store: TokenStore.Service): Effect.Effect<boolean> =>
  Effect.map(
    Effect.exit(store.load(key)),
    (exit) => Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag === "NotCached"
  )

/** Runs `effect` in a fiber and waits (real time, bounded) until it has ended: it must not wait on the Clock. */
const endsWithoutTheClock = <A, E>(what: string, effect: Effect.Effect<A, E>, maxMillis = 10_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* pollUntil(what, Effect.sync(() => fiber.unsafePoll() !== null), maxMillis)
    return yield* Fiber.await(fiber)
  })

/** The pid of the redis-server behind `raw` (`INFO server`), so that a test can freeze it. */
const serverPid = (raw: Redis): Effect.Effect<number> =>
  Effect.map(call(() => raw.info("server")), (info) => Number(/process_id:(\d+)/.exec(info)?.[1]))

/** Freezes the server (SIGSTOP); it is continued when the scope closes, whatever the test did. */
const freeze = (pid: number): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => process.kill(pid, "SIGSTOP")),
      () => Effect.sync(() => process.kill(pid, "SIGCONT"))
    ),
    () => Effect.sync(() => process.kill(pid, "SIGCONT"))
  )

/** The memory of Redis's Lua scripts (INFO memory), where a script's GET copies what it read. */
const luaMemory = (raw: Redis): Effect.Effect<number> =>
  Effect.map(call(() => raw.info("memory")), (info) => Number(/used_memory_lua:(\d+)/.exec(info)?.[1]))

const storeErrorOf = <A, E>(exit: Exit.Exit<A, E>): TokenError.StoreError => {
  const error = failureOf(exit) as { readonly _tag?: unknown }
  if (error._tag !== "StoreError") return assert.fail(`not a StoreError: ${String(error._tag)}`)
  return error as TokenError.StoreError
}

describeRedis("RedisStore and hostile content", () => {
  it.layer(RedisServer.layer())((it) => {
    it.scoped("a 200 MB value at a token's key is Corrupted, and never read: memory stays flat", () =>
      Effect.gen(function*() {
        const { raw, store, where } = yield* fixture()
        // made by Redis itself (SETRANGE pads with zero bytes), so that this process never holds it
        const size = 200 * 1024 * 1024
        yield* call(() => raw.setrange(where, 0, "{\"access_token\":\"s3cr3t-value"))
        yield* call(() => raw.setrange(where, size - 2, "\"}"))
        assert.strictEqual(yield* call(() => raw.strlen(where)), size)

        const before = process.memoryUsage().rss
        const error = yield* corruptedLoad(store)
        const grown = process.memoryUsage().rss - before
        assert.isBelow(grown, 50 * 1024 * 1024, `rss grew by ${Math.round(grown / 1024 / 1024)} MB`)
        assert.include(error.reason, "larger than a token can be (1 MiB)")
        assert.strictEqual(error.key, key)
        assert.strictEqual(error.path, where)
        assert.notInclude(error.message, "s3cr3t")

        // 1 MiB is still read; one byte more is not
        yield* call(() => raw.set(where, `{"access_token":"at-${"x".repeat(1024 * 1024 - 22)}"}`))
        assert.strictEqual(yield* call(() => raw.strlen(where)), 1024 * 1024)
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken).length, 1024 * 1024 - 19)
        yield* call(() => raw.append(where, " "))
        assert.include((yield* corruptedLoad(store)).reason, "larger than a token can be")
      }))

    it.scoped("a hash, a list, a set at a token's key: Corrupted, naming the type; a save overwrites it", () =>
      Effect.gen(function*() {
        const { raw, store, where } = yield* fixture()
        const plant = {
          hash: () => raw.hset(where, "access_token", "s3cr3t-value"),
          list: () => raw.rpush(where, "s3cr3t-value"),
          set: () => raw.sadd(where, "s3cr3t-value")
        }
        for (const [kind, f] of Object.entries(plant)) {
          yield* call(() => raw.del(where))
          yield* call(f)
          const error = yield* corruptedLoad(store)
          assert.strictEqual(error.reason, `holds a ${kind}, not a string`)
          assert.notInclude(error.message, "s3cr3t")
        }
        yield* store.save(key, tokenFor("at-overwrite", yield* DateTime.now))
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-overwrite")
      }))

    it.scoped("JSON nested 100,000 deep (under 1 MiB) is Corrupted, not a stack overflow", () =>
      Effect.gen(function*() {
        const { raw, store, where } = yield* fixture()
        const depth = 100_000
        const arrays = `${"[".repeat(depth)}${"]".repeat(depth)}`
        const objects = `${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}`
        const values = [
          `{"access_token":${arrays}}`,
          `{"a":${arrays}}`,
          arrays,
          `{"access_token":${objects}}`,
          `{"access_token":"s3cr3t-value","scope":${arrays}}`,
          `{"access_token":"s3cr3t-value","expires_in":${objects}}`
        ]
        for (const value of values) {
          assert.isBelow(value.length, 1024 * 1024)
          yield* call(() => raw.set(where, value))
          const error = yield* corruptedLoad(store)
          assert.strictEqual(error.reason, "nested deeper than a token can be (64 levels)")
          assert.notInclude(error.message, "s3cr3t")
        }
        // brackets inside strings are text, not nesting
        const inString = JSON.stringify({ access_token: "at-brackets", scope: "[".repeat(depth) })
        yield* call(() => raw.set(where, inString))
        assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-brackets")
      }))

    it.scoped("the lock key: a hash, or a 200 MB value without expiry, is not a lease: a StoreError at once", () =>
      Effect.gen(function*() {
        const { raw, store, lease } = yield* fixture()
        let ran = 0
        const work = Effect.sync(() => void ran++)

        // without the check, withLock polls on the Clock (which does not move here) for as long as it lives
        yield* call(() => raw.hset(lease, "owner", "someone"))
        const hash = storeErrorOf(
          yield* endsWithoutTheClock("withLock over a hash", TokenStore.withLock(store, key, work))
        )
        assert.strictEqual(hash.operation, "lock")
        assert.strictEqual(hash.reason, `${lease} holds a hash, not a lease`)
        assert.strictEqual(yield* call(() => raw.type(lease)), "hash") // left as it was

        yield* call(() => raw.del(lease))
        yield* call(() => raw.setrange(lease, 200 * 1024 * 1024 - 1, "x"))
        const before = process.memoryUsage().rss
        const luaBefore = yield* luaMemory(raw)
        const huge = storeErrorOf(
          yield* endsWithoutTheClock("withLock over a huge value", TokenStore.withLock(store, key, work))
        )
        const grown = process.memoryUsage().rss - before
        assert.strictEqual(huge.reason, `${lease} holds a value without expiry, not a lease`)
        assert.isBelow(grown, 50 * 1024 * 1024, `rss grew by ${Math.round(grown / 1024 / 1024)} MB`)
        // the compare-and-delete run after a failed acquisition did not read it either (in Redis)
        const luaGrown = (yield* luaMemory(raw)) - luaBefore
        assert.isBelow(luaGrown, 50 * 1024 * 1024, `Lua memory grew by ${Math.round(luaGrown / 1024 / 1024)} MB`)
        assert.strictEqual(yield* call(() => raw.strlen(lease)), 200 * 1024 * 1024)
        assert.strictEqual(ran, 0)

        // with an expiry it is someone's lease: waited for, and taken once it is gone
        yield* call(() => raw.set(lease, "someone-else", "PX", 60_000))
        const waiter = yield* Effect.fork(TokenStore.withLock(store, key, work))
        yield* TestClock.adjust("1 second")
        assert.isNull(waiter.unsafePoll())
        yield* call(() => raw.del(lease))
        // each step wakes the waiter's next poll; the turns of the event loop let its round trip happen
        for (let step = 0; step < 1_000 && waiter.unsafePoll() === null; step++) {
          yield* TestClock.adjust("250 millis")
          yield* ioTurn
        }
        assert.isNotNull(waiter.unsafePoll(), "the lease was not taken once it was gone")
        yield* Fiber.join(waiter)
        assert.strictEqual(ran, 1)
      }))
  })

  it.layer(RedisServer.layer())((it) => {
    it.scoped("a lease replaced while held (a hash, a 200 MB value): the release leaves it and reads nothing", () =>
      Effect.gen(function*() {
        const { raw, store, lease } = yield* fixture()
        const [, lines] = yield* captureLogs(Effect.gen(function*() {
          yield* TokenStore.withLock(
            store,
            key,
            call(() => raw.del(lease).then(() => raw.hset(lease, "owner", "someone")))
          )
          assert.strictEqual(yield* call(() => raw.type(lease)), "hash")

          yield* call(() => raw.del(lease))
          const luaBefore = yield* luaMemory(raw)
          yield* TokenStore.withLock(
            store,
            key,
            call(() => raw.del(lease).then(() => raw.setrange(lease, 200 * 1024 * 1024 - 1, "x")))
          )
          const luaGrown = (yield* luaMemory(raw)) - luaBefore
          assert.isBelow(luaGrown, 50 * 1024 * 1024, `Lua memory grew by ${Math.round(luaGrown / 1024 / 1024)} MB`)
          assert.strictEqual(yield* call(() => raw.strlen(lease)), 200 * 1024 * 1024)
        }))
        // not ours any more: no failed release (a WRONGTYPE error) to warn about
        assert.isFalse(lines.some((line) => line.includes("could not release")), lines.join("\n"))
      }))
  })

  it.scoped("a frozen Redis (SIGSTOP): one command waits its timeout, the next ones fail at once; then it recovers", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start()
      const raw = yield* rawClient(server.url)
      const prefix = freshPrefix()
      const store = yield* RedisStore.make({ url: server.url, prefix, commandTimeout: "300 millis" })
      const lease = RedisStore.lockKey(key, prefix)
      yield* Effect.catchTag(store.load(key), "NotCached", () => Effect.void) // connected
      const thaw = yield* freeze(yield* serverPid(raw))

      // the SET of the lease times out (the timer of ioredis: real time, not the Clock)
      let ran = 0
      const timedOut = storeErrorOf(
        yield* endsWithoutTheClock(
          "withLock on a frozen Redis",
          TokenStore.withLock(store, key, Effect.sync(() => void ran++))
        )
      )
      assert.strictEqual(timedOut.reason, "Redis did not answer in time")
      assert.strictEqual(ran, 0)

      // the next commands of the visit do not wait again
      const load = storeErrorOf(yield* Effect.exit(store.load(key)))
      assert.include(load.reason, "Redis has not answered since a command timed out")
      const save = storeErrorOf(yield* Effect.exit(store.save(key, tokenFor("at-frozen", yield* DateTime.now))))
      assert.include(save.reason, "Redis has not answered since a command timed out")

      // continued: the store works again once Redis answered its PING
      yield* thaw
      yield* pollUntil("the store to answer again", notCached(store))
      // the SET that timed out took the lease once Redis ran it; the release sent after it (not waited
      // for) gave it back: nothing is left to keep the fleet waiting
      assert.strictEqual(yield* call(() => raw.exists(lease)), 0)
      assert.strictEqual(yield* call(() => raw.exists(RedisStore.tokenKey(key, prefix))), 0) // not saved late
      yield* store.save(key, tokenFor("at-after", yield* DateTime.now))
      assert.strictEqual(Redacted.value((yield* store.load(key)).accessToken), "at-after")
    }))

  it.scoped("a client passed in without commandTimeout: bounded on the Clock, then the same fast failures", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start()
      const raw = yield* rawClient(server.url)
      const client = yield* rawClient(server.url)
      const prefix = freshPrefix()
      const store = yield* RedisStore.make({ client, prefix, commandTimeout: "2 seconds" })
      yield* Effect.catchTag(store.load(key), "NotCached", () => Effect.void)
      const thaw = yield* freeze(yield* serverPid(raw))

      const first = yield* Effect.fork(Effect.exit(store.load(key)))
      yield* TestClock.adjust("2 seconds")
      const timedOut = storeErrorOf(yield* Fiber.join(first))
      assert.strictEqual(timedOut.reason, "Redis did not answer within 2s")
      const next = storeErrorOf(yield* endsWithoutTheClock("a load after the timeout", store.load(key)))
      assert.include(next.reason, "Redis has not answered since a command timed out")

      yield* thaw
      yield* pollUntil("the store to answer again", notCached(store))
      assert.strictEqual(client.status, "ready")
    }))
})

/**
 * Hostile content in Redis (issue 10): what someone else wrote at the store's keys (a value of 200 MB, a
 * hash, JSON nested 100,000 deep, garbage at the lock key) are typed errors, in bounded memory and
 * without waiting.
 *
 * The Clock is a TestClock: nothing here sleeps. What must end without the Clock is waited for with
 * `pollUntil` (real time, bounded).
 */
import { assert, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Exit, Fiber, Redacted, type Scope, TestClock } from "effect"
import { Redis } from "ioredis"
import { Token, type TokenError, type TokenStore } from "tokenlayer"
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

/** Runs `effect` in a fiber and waits (real time, bounded) until it has ended: it must not wait on the Clock. */
const endsWithoutTheClock = <A, E>(what: string, effect: Effect.Effect<A, E>, maxMillis = 10_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* pollUntil(what, Effect.sync(() => fiber.unsafePoll() !== null), maxMillis)
    return yield* Fiber.await(fiber)
  })

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
        const hash = storeErrorOf(yield* endsWithoutTheClock("withLock over a hash", store.withLock(key, work)))
        assert.strictEqual(hash.operation, "lock")
        assert.strictEqual(hash.reason, `${lease} holds a hash, not a lease`)
        assert.strictEqual(yield* call(() => raw.type(lease)), "hash") // left as it was

        yield* call(() => raw.del(lease))
        yield* call(() => raw.setrange(lease, 200 * 1024 * 1024 - 1, "x"))
        const before = process.memoryUsage().rss
        const luaBefore = yield* luaMemory(raw)
        const huge = storeErrorOf(yield* endsWithoutTheClock("withLock over a huge value", store.withLock(key, work)))
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
        const waiter = yield* Effect.fork(store.withLock(key, work))
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
          yield* store.withLock(key, call(() => raw.del(lease).then(() => raw.hset(lease, "owner", "someone"))))
          assert.strictEqual(yield* call(() => raw.type(lease)), "hash")

          yield* call(() => raw.del(lease))
          const luaBefore = yield* luaMemory(raw)
          yield* store.withLock(
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
})

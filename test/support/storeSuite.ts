/**
 * One suite for every token store, as `@effect/platform`'s KeyValueStore tests do with `testLayer`:
 * each backend's test file calls `storeSuite(name, layer, options)`.
 *
 * Every test builds `layer` afresh (`Effect.provide`), in the test's context: the Clock is a
 * `TestClock` set to a fixed instant, and a store that waits for its lock (polling) is driven by
 * `drive`, which steps the TestClock until the waiters are done. Nothing sleeps for real.
 *
 * Store-specific capabilities are options:
 * - `corrupt(key, content)` plants raw content where the store keeps `key` (the corrupted tests need
 *   it); it may use services the layer provides besides the store (`R`), such as the store's directory;
 * - `another` builds a second instance of the store over the same storage (a second file store on the
 *   same directory, a second Redis client): tokens and locks must be shared between the two;
 * - `expires`: the store drops a token once it has expired (a Redis key with a TTL); a store without
 *   it keeps expired tokens (the service checks expiry itself).
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Token, TokenStore } from "tokenlayer"

/** Options of `storeSuite`; see the module comment. */
export interface StoreSuiteOptions<R> {
  /** Plants `content` as the raw stored form of `key`, bypassing the store. Without it the corrupted tests are skipped. */
  readonly corrupt?: ((key: string, content: string) => Effect.Effect<void, unknown, R>) | undefined
  /** A second instance of the store over the same storage. Without it the cross-instance tests are skipped. */
  readonly another?: Effect.Effect<TokenStore.Service, unknown, R | Scope.Scope> | undefined
  /** Whether the store drops expired tokens by itself. Default: false. */
  readonly expires?: boolean | undefined
}

/** The instant the TestClock is set to at the start of every test: 2026-01-01T00:00:00Z. */
export const suiteStart: number = Date.UTC(2026, 0, 1)

/**
 * Keys that a store must keep apart: separators, dots, spaces, control characters, unicode, case, one
 * very long, the empty key, and keys that differ only in characters a file name cannot hold.
 */
export const oddKeys: ReadonlyArray<string> = [
  "grant=client_credentials;token_url=https://auth.example.com/oauth2/token;client_id=app",
  "a/b",
  "a_b",
  "a?b",
  "a\\b",
  "a:b",
  "../../etc/passwd",
  ".",
  "..",
  "",
  " spaced key ",
  "line\nbreak",
  "nul\u0000byte",
  "ключ/🔑",
  "Key",
  "key",
  "CON",
  "x".repeat(5000)
]

/** A token with every field set, times on whole milliseconds (the stored form keeps milliseconds). */
export const fullToken = (accessToken: string, issuedAt: number): Token.Token =>
  Token.make({
    accessToken: Redacted.make(accessToken),
    tokenType: "Bearer",
    expiresIn: 3600,
    refreshToken: Redacted.make(`refresh-${accessToken}`),
    scope: "read write admin:org",
    issuedAt: DateTime.unsafeMake(issuedAt),
    expiresAt: DateTime.unsafeMake(issuedAt + 3_600_000)
  })

/** A token with only the required fields. */
export const minimalToken = (accessToken: string, issuedAt: number): Token.Token =>
  Token.make({
    accessToken: Redacted.make(accessToken),
    tokenType: "DPoP",
    issuedAt: DateTime.unsafeMake(issuedAt)
  })

const access = (token: Token.Token): string => Redacted.value(token.accessToken)

/** Asserts that two tokens carry the same fields. */
export const assertSameToken = (actual: Token.Token, expected: Token.Token): void => {
  assert.isTrue(Token.isToken(actual), "a Token")
  assert.isTrue(Redacted.isRedacted(actual.accessToken), "access token stays Redacted")
  assert.strictEqual(access(actual), access(expected))
  assert.strictEqual(actual.tokenType, expected.tokenType)
  assert.strictEqual(actual.expiresIn, expected.expiresIn)
  if (expected.refreshToken === undefined) {
    assert.isUndefined(actual.refreshToken)
  } else {
    assert.isTrue(
      actual.refreshToken !== undefined && Redacted.isRedacted(actual.refreshToken),
      "refresh token Redacted"
    )
    assert.strictEqual(Redacted.value(actual.refreshToken!), Redacted.value(expected.refreshToken))
  }
  assert.strictEqual(actual.scope, expected.scope)
  assert.strictEqual(actual.issuedAt.epochMillis, expected.issuedAt.epochMillis)
  assert.strictEqual(actual.expiresAt?.epochMillis, expected.expiresAt?.epochMillis)
}

/**
 * Steps the TestClock (10 ms at a time, with real event-loop turns in between, so that I/O makes
 * progress) until `done` holds. Dies after `maxSteps` steps instead of hanging.
 */
export const drive = (what: string, done: Effect.Effect<boolean>, maxSteps = 3000): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let step = 0; step < maxSteps; step++) {
      if (yield* done) return
      yield* TestClock.adjust("10 millis")
    }
    return yield* Effect.dieMessage(`gave up waiting for ${what}`)
  })

/** Whether a fiber has ended. */
export const isDone = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<boolean> =>
  Effect.map(Fiber.poll(fiber), (exit) => exit._tag === "Some")

/** Steps the TestClock until the fiber ends, and returns its exit. */
export const driveJoin = <A, E>(what: string, fiber: Fiber.Fiber<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.zipRight(drive(what, isDone(fiber)), Fiber.await(fiber))

/** Lets the TestClock run a little (`steps` × 10 ms): fibers that can move, move. */
export const idle = (steps: number): Effect.Effect<void> => Effect.repeatN(TestClock.adjust("10 millis"), steps - 1)

/**
 * Forks `count` fibers at once, fiber i taking the lock for "shared" on `stores[i % stores.length]` and
 * staying inside for 50 ms; steps the TestClock until all have run, and answers how many were ever inside
 * at once.
 */
const mostInsideAtOnce = (
  what: string,
  stores: ReadonlyArray<TokenStore.Service>,
  count: number
): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    const inside = yield* Ref.make(0)
    const most = yield* Ref.make(0)
    const ran = yield* Ref.make(0)
    const critical = Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(inside, (x) => x + 1)
      yield* Ref.update(most, (m) => Math.max(m, n))
      yield* Effect.sleep("50 millis")
      yield* Ref.update(inside, (x) => x - 1)
      yield* Ref.update(ran, (x) => x + 1)
    })
    const fibers = yield* Effect.forEach(
      Array.from({ length: count }),
      (_, i) => Effect.fork(TokenStore.withLock(stores[i % stores.length]!, "shared", critical))
    )
    yield* drive(what, Effect.map(Ref.get(ran), (n) => n === count))
    yield* Fiber.joinAll(fibers)
    return yield* Ref.get(most)
  })

/** Forks a fiber that takes the lock for `key` and holds it until interrupted; returns once it holds it. */
const holdLock = (store: TokenStore.Service, key: string): Effect.Effect<Fiber.RuntimeFiber<never, unknown>> =>
  Effect.gen(function*() {
    const entered = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(
      TokenStore.withLock(store, key, Effect.zipRight(Deferred.succeed(entered, void 0), Effect.never))
    )
    yield* Deferred.await(entered)
    return holder
  })

/**
 * Registers the store suite under `describe(name)`. `layer` is built for every test.
 */
export const storeSuite = <E, R>(
  name: string,
  layer: Layer.Layer<TokenStore.TokenStore | R, E>,
  options: StoreSuiteOptions<R> = {}
): void => {
  const test = (
    title: string,
    body: (
      store: TokenStore.Service,
      now: number
    ) => Effect.Effect<void, unknown, R | TokenStore.TokenStore | Scope.Scope>
  ) =>
    it.scoped(title, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(suiteStart)
        const store = yield* TokenStore.TokenStore
        yield* body(store, suiteStart)
      }).pipe(Effect.provide(layer)))

  describe(name, () => {
    describe("tokens", () => {
      test(
        "a token with every field survives a round trip, secrets still Redacted",
        (store, now) =>
          Effect.gen(function*() {
            const token = fullToken("at-round-trip", now - 1234)
            yield* store.save("k", token)
            assertSameToken(yield* store.load("k"), token)
          })
      )

      test(
        "a token with only the required fields comes back without the others",
        (store, now) =>
          Effect.gen(function*() {
            const token = minimalToken("at-minimal", now)
            yield* store.save("k", token)
            const loaded = yield* store.load("k")
            assertSameToken(loaded, token)
            assert.isFalse("expiresIn" in loaded || "refreshToken" in loaded || "scope" in loaded)
            assert.isFalse("expiresAt" in loaded)
          })
      )

      test("a key never saved is NotCached, with the key", (store) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(store.load("never saved"))
          assert.strictEqual(error._tag, "NotCached")
          assert.strictEqual(error.key, "never saved")
        }))

      test("save replaces what was stored", (store, now) =>
        Effect.gen(function*() {
          yield* store.save("k", fullToken("at-first", now))
          yield* store.save("k", minimalToken("at-second", now + 1000))
          assertSameToken(yield* store.load("k"), minimalToken("at-second", now + 1000))
        }))

      test("remove forgets the token; removing nothing is fine", (store, now) =>
        Effect.gen(function*() {
          yield* store.save("k", fullToken("at-removed", now))
          yield* store.remove("k")
          assert.strictEqual((yield* Effect.flip(store.load("k")))._tag, "NotCached")
          yield* store.remove("k")
          yield* store.remove("never saved")
        }))

      test("keys are independent, whatever characters they hold", (store, now) =>
        Effect.gen(function*() {
          for (const [i, key] of oddKeys.entries()) yield* store.save(key, fullToken(`at-key-${i}`, now + i))
          for (const [i, key] of oddKeys.entries()) {
            assertSameToken(yield* store.load(key), fullToken(`at-key-${i}`, now + i))
          }
          yield* store.remove("a/b")
          yield* store.remove("Key")
          assert.strictEqual((yield* Effect.flip(store.load("a/b")))._tag, "NotCached")
          assert.strictEqual((yield* Effect.flip(store.load("Key")))._tag, "NotCached")
          for (const [i, key] of oddKeys.entries()) {
            if (key === "a/b" || key === "Key") {
              continue
            }
            assert.strictEqual(access(yield* store.load(key)), `at-key-${i}`, `key #${i}`)
          }
        }))

      if (options.expires === true) {
        test("an expired token is dropped by the store; a valid one is kept", (store, now) =>
          Effect.gen(function*() {
            yield* store.save("expired", fullToken("at-expired", now - 3_600_001))
            yield* store.save("valid", fullToken("at-valid", now))
            assert.strictEqual((yield* Effect.flip(store.load("expired")))._tag, "NotCached")
            assert.strictEqual(access(yield* store.load("valid")), "at-valid")
          }))
      } else {
        test("an expired token is kept (the service checks expiry)", (store, now) =>
          Effect.gen(function*() {
            const token = fullToken("at-expired", now - 7_200_000)
            yield* store.save("expired", token)
            assertSameToken(yield* store.load("expired"), token)
          }))
      }
    })

    const corrupt = options.corrupt
    if (corrupt !== undefined) {
      describe("corrupted entries", () => {
        const garbage: ReadonlyArray<readonly [string, string]> = [
          ["not JSON", "{\"access_token\": \"at-secret-marker\", "],
          ["empty", ""],
          ["an array", "[]"],
          ["no access_token", "{\"token_type\":\"Bearer\",\"expires_in\":3600}"],
          ["an access_token with spaces", "{\"access_token\":\"at secret-marker\"}"],
          ["a bad expires_at", "{\"access_token\":\"at-secret-marker\",\"expires_at\":\"tomorrow\"}"],
          ["a negative expires_in", "{\"access_token\":\"at-secret-marker\",\"expires_in\":-5}"]
        ]
        for (const [what, content] of garbage) {
          test(`${what}: Corrupted, with the key and without the content`, (store) =>
            Effect.gen(function*() {
              yield* corrupt("k", content)
              const error = yield* Effect.flip(store.load("k"))
              assert.strictEqual(error._tag, "Corrupted")
              assert.strictEqual(error.key, "k")
              const shown = `${error.message} ${String(error)} ${JSON.stringify(error)}`
              assert.notInclude(shown, "secret-marker")
            }))
        }

        test("saving over a corrupted entry repairs it", (store, now) =>
          Effect.gen(function*() {
            yield* corrupt("k", "{{{")
            yield* store.save("k", fullToken("at-repaired", now))
            assert.strictEqual(access(yield* store.load("k")), "at-repaired")
          }))
      })
    }

    describe("withLock", () => {
      test("runs the effect and returns its result; a failure passes through and frees the lock", (store) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* TokenStore.withLock(store, "k", Effect.succeed(42)), 42)
          const error = yield* Effect.flip(TokenStore.withLock(store, "k", Effect.fail("boom" as const)))
          assert.strictEqual(error, "boom")
          const fiber = yield* Effect.fork(TokenStore.withLock(store, "k", Effect.succeed("again")))
          assert.deepStrictEqual(yield* driveJoin("the lock after a failure", fiber), Exit.succeed("again"))
        }))

      test("fibers holding the same key never overlap", (store) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* mostInsideAtOnce("5 lock holders", [store], 5), 1)
        }))

      test("different keys do not block each other", (store) =>
        Effect.gen(function*() {
          const holder = yield* holdLock(store, "one")
          const other = yield* Effect.fork(TokenStore.withLock(store, "two", Effect.succeed("two")))
          assert.deepStrictEqual(yield* driveJoin("a lock on another key", other), Exit.succeed("two"))
          assert.isFalse(yield* isDone(holder))
          yield* Fiber.interrupt(holder)
        }))

      test("interrupting the holder releases the lock", (store) =>
        Effect.gen(function*() {
          const holder = yield* holdLock(store, "k")
          const waiter = yield* Effect.fork(TokenStore.withLock(store, "k", Effect.succeed("next")))
          yield* idle(5)
          assert.isFalse(yield* isDone(waiter), "waits while the lock is held")
          yield* Fiber.interrupt(holder)
          assert.deepStrictEqual(yield* driveJoin("the lock after an interrupted holder", waiter), Exit.succeed("next"))
        }))

      test("interrupting a waiter leaves the lock to the others", (store) =>
        Effect.gen(function*() {
          const holder = yield* holdLock(store, "k")
          const ranInterrupted = yield* Ref.make(false)
          const interrupted = yield* Effect.fork(TokenStore.withLock(store, "k", Ref.set(ranInterrupted, true)))
          yield* idle(5)
          yield* Fiber.interrupt(interrupted)
          const next = yield* Effect.fork(TokenStore.withLock(store, "k", Effect.succeed("next")))
          yield* idle(5)
          assert.isFalse(yield* isDone(next), "still held")
          yield* Fiber.interrupt(holder)
          assert.deepStrictEqual(yield* driveJoin("the lock after an interrupted waiter", next), Exit.succeed("next"))
          assert.isFalse(yield* Ref.get(ranInterrupted))
        }))
    })

    describe("lock", () => {
      test("a timeout around lock bounds the wait only: the waiter that gave up holds nothing", (store) =>
        Effect.gen(function*() {
          const holder = yield* holdLock(store, "k")
          const gaveUp = yield* Effect.fork(Effect.scoped(Effect.timeoutFail(store.lock("k"), {
            duration: "200 millis",
            onTimeout: () => "gave up" as const
          })))
          assert.deepStrictEqual(yield* driveJoin("a waiter that gives up", gaveUp), Exit.fail("gave up" as const))
          assert.isFalse(yield* isDone(holder), "the holder keeps the lock")
          yield* Fiber.interrupt(holder)
          const next = yield* Effect.fork(TokenStore.withLock(store, "k", Effect.succeed("next")))
          assert.deepStrictEqual(yield* driveJoin("the lock after a waiter gave up", next), Exit.succeed("next"))
        }))

      test("is held until its scope closes, then given to the next", (store) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          yield* Scope.extend(store.lock("k"), scope)
          const waiter = yield* Effect.fork(TokenStore.withLock(store, "k", Effect.succeed("next")))
          yield* idle(20)
          assert.isFalse(yield* isDone(waiter), "waits while the scope is open")
          yield* Scope.close(scope, Exit.void)
          assert.deepStrictEqual(yield* driveJoin("the lock after its scope closed", waiter), Exit.succeed("next"))
        }))
    })

    const another = options.another
    if (another !== undefined) {
      describe("two instances over the same storage", () => {
        test("share tokens", (store, now) =>
          Effect.gen(function*() {
            const second = yield* another
            yield* store.save("k", fullToken("at-shared", now))
            assertSameToken(yield* second.load("k"), fullToken("at-shared", now))
            yield* second.remove("k")
            assert.strictEqual((yield* Effect.flip(store.load("k")))._tag, "NotCached")
          }))

        test("share the lock: holders never overlap", (store) =>
          Effect.gen(function*() {
            const second = yield* another
            assert.strictEqual(yield* mostInsideAtOnce("6 lock holders on two instances", [store, second], 6), 1)
          }))

        test("a waiter on the other instance gets the lock once the holder is interrupted", (store) =>
          Effect.gen(function*() {
            const second = yield* another
            const holder = yield* holdLock(store, "k")
            const interruptedWaiter = yield* Effect.fork(TokenStore.withLock(second, "k", Effect.void))
            const waiter = yield* Effect.fork(TokenStore.withLock(second, "k", Effect.succeed("next")))
            yield* idle(10)
            assert.isFalse(yield* isDone(waiter), "waits while the other instance holds the lock")
            yield* Fiber.interrupt(interruptedWaiter)
            yield* Fiber.interrupt(holder)
            assert.deepStrictEqual(yield* driveJoin("the lock from the other instance", waiter), Exit.succeed("next"))
          }))
      })
    }
  })
}

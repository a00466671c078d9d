import { assert, describe, it } from "@effect/vitest"
import {
  Clock,
  DateTime,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Metric,
  Option,
  Random,
  Redacted,
  Ref,
  TestClock,
  Tracer
} from "effect"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenError, TokenService, TokenStore } from "tokenlayer"
import { TestGrant } from "tokenlayer/testing"
import { captureLogs } from "./support/logs.js"
import * as ManualClock from "./support/ManualClock.js"

const makeLayer = (options: {
  readonly grant?: TestGrant.Options
  readonly policy?: Layer.Layer<RefreshPolicy.RefreshPolicy>
  readonly retry?: Layer.Layer<RetryPolicy.RetryPolicy>
  readonly store?: Layer.Layer<TokenStore.TokenStore>
  readonly service?: TokenService.Options
} = {}) =>
  TokenService.layer(options.service).pipe(
    Layer.provideMerge(TestGrant.layer(options.grant ?? { lifetime: "1 hour" })),
    Layer.provide([options.policy ?? RefreshPolicy.fixed("5 minutes"), options.retry ?? RetryPolicy.none]),
    Layer.provideMerge(options.store ?? TokenStore.layerMemory)
  )

const accessToken = (token: Token.Token): string => Redacted.value(token.accessToken)
const seconds = (time: DateTime.Utc): number => time.epochMillis / 1000

/** Token requests are at least `minTokenLifetime` (1 s) apart: tests that ask again at once step past it. */
const aSecondLater = TestClock.adjust("1 second")

/** Lets forked fibers run up to their next wait on the TestClock. */
const settle = Effect.sleep(Duration.zero).pipe(Effect.zipRight(Effect.yieldNow()), Effect.repeatN(20))

/** A `get` in a fiber of its own, the TestClock moved `steps` times by `step` meanwhile: its token. */
const getStepping = (steps: number, step: Duration.DurationInput) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(TokenService.get)
    for (let i = 0; i < steps; i++) {
      yield* settle
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

describe("TokenService", () => {
  describe("one fetch at a time", () => {
    it.effect("10,000 concurrent gets on a cold cache make one request; again when the token is due", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const first = yield* Effect.all(Array.from({ length: 10_000 }, () => tokens.get), {
          concurrency: "unbounded"
        })
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.isTrue(first.every((t) => accessToken(t) === "test-access-token-1"))

        yield* TestClock.adjust("3300 seconds")
        const second = yield* Effect.all(Array.from({ length: 10_000 }, () => tokens.get), {
          concurrency: "unbounded"
        })
        assert.strictEqual(yield* TestGrant.requests, 2)
        assert.isTrue(second.every((t) => accessToken(t) === "test-access-token-2"))
      }).pipe(Effect.provide(makeLayer())))

    it.effect("10,000 concurrent gets waiting on a slow request share it", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const fibers = yield* Effect.all(Array.from({ length: 10_000 }, () => Effect.fork(tokens.get)))
        yield* settle
        yield* TestClock.adjust("2 seconds")
        const results = yield* Effect.all(fibers.map(Fiber.join))
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.isTrue(results.every((t) => accessToken(t) === "test-access-token-1"))
      }).pipe(Effect.provide(makeLayer({ grant: { lifetime: "1 hour", latency: "2 seconds" } }))))

    it.effect("a failed request is shared by its waiters, not cached: the next get asks again", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* TestGrant.failNext(1)
        const failures = yield* Effect.all(Array.from({ length: 100 }, () => Effect.flip(tokens.get)), {
          concurrency: "unbounded"
        })
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.isTrue(failures.every((e) => e._tag === "HttpError" && e.status === 503))

        // the next get asks again (a second after the failed request ended: requests are spaced), and
        // every get meanwhile joins that one request
        const next = yield* Effect.fork(Effect.all(Array.from({ length: 100 }, () => tokens.get), {
          concurrency: "unbounded"
        }))
        yield* settle
        assert.strictEqual(yield* TestGrant.requests, 1)
        yield* aSecondLater
        const tokensAfter = yield* Fiber.join(next)
        assert.isTrue(tokensAfter.every((t) => accessToken(t) === "test-access-token-1"))
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a caller that gives up does not cancel the fetch for the others", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const quitter = yield* Effect.fork(tokens.get)
        const waiter = yield* Effect.fork(tokens.get)
        yield* settle
        yield* Fiber.interrupt(quitter)
        yield* TestClock.adjust("5 seconds")
        const token = yield* Fiber.join(waiter)
        assert.strictEqual(accessToken(token), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 1)
        // and the token is cached
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 1)
      }).pipe(Effect.provide(makeLayer({ grant: { lifetime: "1 hour", latency: "5 seconds" } }))))
  })

  describe("defaults: a grant is enough", () => {
    it.effect("with only a Grant: renewed 5 minutes before expiry, transient failures retried, a store of its own", () =>
      Effect.gen(function*() {
        yield* Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          yield* TestGrant.failNext(1) // retried by the default retry policy
          const fiber = yield* Effect.fork(tokens.get)
          yield* settle
          yield* TestClock.adjust("1 second")
          yield* settle
          assert.strictEqual(accessToken(yield* Fiber.join(fiber)), "test-access-token-1")
          yield* TestClock.adjust("54 minutes") // 6 minutes left: not due
          assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
          yield* TestClock.adjust("1 minute") // 5 minutes left: due
          assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
        }).pipe(Effect.provide(TokenService.layer().pipe(Layer.provideMerge(TestGrant.layer({ lifetime: "1 hour" })))))
      }))

    it.effect("two services without a store do not share one (each has its own memory store)", () =>
      Effect.gen(function*() {
        const [grant, control] = yield* TestGrant.make({ lifetime: "1 hour" })
        yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* TokenService.make()
          const b = yield* TokenService.make()
          yield* a.get
          yield* b.get
        })).pipe(Effect.provideService(Grant.Grant, grant))
        assert.strictEqual(yield* control.requests, 2)
      }))

    it.effect("a policy provided around the composed layer overrides the default", () =>
      Effect.gen(function*() {
        const Live = TokenService.layer().pipe(Layer.provideMerge(TestGrant.layer({ lifetime: "1 hour" })))
        yield* Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          yield* tokens.get
          yield* TestClock.adjust("50 minutes") // 10 minutes left: due with a 15-minute buffer
          assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
        }).pipe(Effect.provide(Live.pipe(Layer.provide(RefreshPolicy.fixed("15 minutes")))))
      }))
  })

  describe("refresh timing", () => {
    it.effect("a token that lives no longer than the buffer is renewed half-way, not on arrival", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        // Keycloak's default 5-minute token with ICEYE's 5-minute buffer
        for (let s = 0; s < 600; s += 10) {
          yield* tokens.get
          yield* TestClock.adjust("10 seconds")
        }
        assert.deepStrictEqual((yield* TestGrant.requestTimes).map(seconds), [0, 150, 300, 450])
      }).pipe(Effect.provide(makeLayer({ grant: { lifetime: "5 minutes" } }))))

    it.effect("1-hour token, 5-minute buffer: nothing at 3299 s, a new token at 3300 s", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestClock.adjust("3299 seconds")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 1)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("the next token's own lifetime is used (a 15-minute token after a 1-hour one)", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestGrant.setLifetime("15 minutes")
        yield* TestClock.adjust("3300 seconds")
        yield* tokens.get // renewed at 3300 s, a 15-minute token: due at 3300 + 900 - 300 = 3900 s
        assert.strictEqual(yield* TestGrant.requests, 2)
        yield* TestClock.adjust("599 seconds")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 2)
        yield* TestClock.adjust("1 second")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 3)
        assert.deepStrictEqual((yield* TestGrant.requestTimes).map(seconds), [0, 3300, 3900])
      }).pipe(Effect.provide(makeLayer())))

    it.effect("fraction buffer: 10 % of a 1-hour token is due at 3240 s", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestClock.adjust("3239 seconds")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 1)
        yield* TestClock.adjust("1 second")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(Effect.provide(makeLayer({ policy: RefreshPolicy.fraction(0.1) }))))

    it.effect("max(5 minutes, 10 %): the fraction wins for a 1-hour token, the buffer for a 15-minute one", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get // 1 hour: max(300, 360) = 360 -> due at 3240
        yield* TestGrant.setLifetime("15 minutes")
        yield* TestClock.adjust("3239 seconds")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 1)
        yield* TestClock.adjust("1 second")
        yield* tokens.get // 15 minutes: max(300, 90) = 300 -> due at 3240 + 600 = 3840
        yield* TestClock.adjust("599 seconds")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 2)
        yield* TestClock.adjust("1 second")
        yield* tokens.get
        assert.deepStrictEqual((yield* TestGrant.requestTimes).map(seconds), [0, 3240, 3840])
      }).pipe(Effect.provide(makeLayer({ policy: RefreshPolicy.layer({ buffer: "5 minutes", fraction: 0.1 }) }))))

    it.effect("a token without expires_in lives the assumed lifetime, never forever", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const token = yield* tokens.get
        assert.isUndefined(token.expiresAt)
        yield* TestClock.adjust("119 seconds")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 1)
        yield* TestClock.adjust("1 second") // 3 minutes assumed - 1 minute buffer
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(
        Effect.provide(makeLayer({
          grant: { lifetime: null },
          policy: RefreshPolicy.layer({ buffer: "1 minute", assumedLifetime: "3 minutes" })
        }))
      ))

    it.effect("30 simulated days of a get every 5 minutes: one request per renewal, never an expired token", () => {
      const manual = ManualClock.make()
      return Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const steps = 30 * 24 * 12
        for (let i = 0; i <= steps; i++) {
          const token = yield* tokens.get
          const now = yield* DateTime.now
          assert.isTrue(DateTime.lessThan(now, token.expiresAt!))
          yield* manual.advance("5 minutes")
        }
        // renewed every 55 minutes: at 0, 3300, 6600, ... up to 30 days
        assert.strictEqual(yield* TestGrant.requests, Math.floor((30 * 24 * 3600) / 3300) + 1)
      }).pipe(Effect.provide(makeLayer()), Effect.withClock(manual.clock))
    })
  })

  describe("jitter", () => {
    const issuedAt = DateTime.unsafeMake(0)
    const hourToken = Token.make({
      accessToken: Redacted.make("x"),
      tokenType: "Bearer",
      expiresIn: 3600,
      issuedAt,
      expiresAt: DateTime.unsafeMake(3600_000)
    })
    const policy = RefreshPolicy.make({ buffer: "5 minutes", jitter: "1 minute" })
    const draw = (seed: number) =>
      Effect.forEach(Array.from({ length: 200 }), () => policy.schedule(hourToken)).pipe(
        Effect.withRandom(Random.make(seed)),
        Effect.map((schedules) => schedules.map((s) => s.dueAt))
      )

    it.effect("stays inside its window", () =>
      Effect.gen(function*() {
        const dues = yield* draw(42)
        assert.isTrue(dues.every((d) => d >= 3240_000 && d <= 3300_000))
        // and actually spreads over the window
        assert.isAbove(new Set(dues).size, 100)
      }))

    it.effect("is reproducible with a fixed seed", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* draw(7), yield* draw(7))
        assert.notDeepEqual(yield* draw(7), yield* draw(8))
      }))

    it.effect("still spreads tokens that live no longer than the buffer", () =>
      Effect.gen(function*() {
        const short = Token.make({
          accessToken: Redacted.make("x"),
          tokenType: "Bearer",
          expiresIn: 300,
          issuedAt,
          expiresAt: DateTime.unsafeMake(300_000)
        })
        const capped = RefreshPolicy.make({ buffer: "5 minutes", jitter: "30 seconds" })
        const dues = yield* Effect.forEach(Array.from({ length: 200 }), () => capped.schedule(short)).pipe(
          Effect.withRandom(Random.make(3)),
          Effect.map((schedules) => schedules.map((s) => s.dueAt))
        )
        // half-way (150 s) at the latest, up to 30 s earlier
        assert.isTrue(dues.every((d) => d >= 120_000 && d <= 150_000), `${Math.min(...dues)}..${Math.max(...dues)}`)
        assert.isAbove(new Set(dues).size, 100)
      }))

    it.effect("the service renews at the drawn instant", () =>
      Effect.gen(function*() {
        const expected = yield* policy.schedule(hourToken).pipe(Effect.withRandom(Random.make(1)))
        const renewedAt = yield* Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          yield* tokens.get
          yield* TestClock.adjust("3240 seconds")
          for (let s = 3240; s <= 3300; s++) {
            yield* tokens.get
            if ((yield* TestGrant.requests) === 2) return s
            yield* TestClock.adjust("1 second")
          }
          return -1
        }).pipe(
          Effect.provide(makeLayer({ policy: Layer.succeed(RefreshPolicy.RefreshPolicy, policy) })),
          Effect.withRandom(Random.make(1))
        )
        assert.strictEqual(renewedAt, Math.ceil(expected.dueAt / 1000))
      }))
  })

  describe("failures", () => {
    it.effect("due but unexpired token and the refresh fails: the old token is served until it expires", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestGrant.failNext(1000)
        yield* TestClock.adjust("3300 seconds")
        const [token, logs] = yield* captureLogs(tokens.get)
        assert.strictEqual(accessToken(token), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 2)
        assert.isTrue(logs.some((line) => line.includes("level=WARN") && line.includes("token renewal failed")))

        // no new attempt during the hold (10 s by default), then another, in the background
        yield* TestClock.adjust("9 seconds")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 2)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
        yield* settle
        assert.strictEqual(yield* TestGrant.requests, 3)

        // past expiry: never handed out
        yield* TestClock.adjust("290 seconds")
        const error = yield* Effect.flip(tokens.get)
        assert.strictEqual(error._tag, "HttpError")
        assert.strictEqual(error.status, 503)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("when the endpoint recovers, the due token is replaced", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestGrant.failNext(1)
        yield* TestClock.adjust("3300 seconds")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
        // after the hold, the valid token is served while it is renewed in the background
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
        yield* settle
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
        assert.strictEqual(yield* TestGrant.requests, 3)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("during an outage, callers that hold a valid token wait for the first renewal only", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestGrant.hangNext(1000)
        yield* TestClock.adjust("3300 seconds")
        // the first renewal: callers wait for it (5 attempts of 10 s each, with backoff), then get the valid token
        const first = yield* Effect.fork(tokens.get)
        for (let i = 0; i < 8; i++) {
          yield* settle
          yield* TestClock.adjust("10 seconds")
        }
        assert.strictEqual(accessToken(yield* Fiber.join(first)), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 6)
        // after the hold, a renewal runs in the background and nobody waits for it
        yield* TestClock.adjust("10 seconds")
        const later = yield* Effect.fork(Effect.all(Array.from({ length: 10 }, () => tokens.get)))
        yield* settle
        const done = yield* Fiber.poll(later)
        assert.isTrue(Option.isSome(done) && Exit.isSuccess(done.value), "callers did not wait")
        assert.strictEqual(yield* TestGrant.requests, 7)
      }).pipe(Effect.provide(makeLayer({ retry: RetryPolicy.layerDefault }))))

    it.effect("refreshAhead: a due token is served at once while one background fiber renews it", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const first = yield* Effect.fork(tokens.get) // a missing token: callers wait for it
        yield* settle
        yield* TestClock.adjust("1 second")
        assert.strictEqual(accessToken(yield* Fiber.join(first)), "test-access-token-1")
        yield* TestClock.adjust("3300 seconds")
        const served = yield* Effect.all(Array.from({ length: 100 }, () => tokens.get), { concurrency: "unbounded" })
        assert.isTrue(served.every((t) => accessToken(t) === "test-access-token-1"))
        yield* settle
        yield* TestClock.adjust("1 second") // the renewal's latency
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(
        Effect.provide(
          makeLayer({ grant: { lifetime: "1 hour", latency: "1 second" }, service: { refreshAhead: true } })
        )
      ))

    it.effect("a logger that throws cannot leave callers waiting", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const token = yield* tokens.get.pipe(
          Effect.provide(Logger.replace(
            Logger.defaultLogger,
            Logger.make(() => {
              throw new Error("logger on fire")
            })
          )),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        assert.strictEqual(accessToken(token), "test-access-token-1")
      }).pipe(Effect.provide(makeLayer())))

    it.effect("transient errors are retried with growing delays", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* TestGrant.failNext(3)
        const fiber = yield* Effect.fork(tokens.get)
        for (let i = 0; i < 40; i++) {
          yield* settle
          yield* TestClock.adjust("250 millis")
        }
        const token = yield* Fiber.join(fiber)
        assert.strictEqual(accessToken(token), "test-access-token-1")
        const times = (yield* TestGrant.requestTimes).map((t) => t.epochMillis)
        assert.strictEqual(times.length, 4)
        const gaps = times.slice(1).map((t, i) => t - times[i]!)
        // 500 ms, 1 s, 2 s, each jittered by ±20 %, seen in 250 ms steps; never less than a second
        // (`minTokenLifetime`): a token endpoint in trouble is asked at most once a second
        assert.isTrue(gaps[0]! >= 1000 && gaps[0]! <= 1250, `gaps ${gaps}`)
        assert.isTrue(gaps[1]! >= 1000 && gaps[1]! <= 1250, `gaps ${gaps}`)
        assert.isTrue(gaps[2]! >= 1600 && gaps[2]! <= 2500, `gaps ${gaps}`)
      }).pipe(Effect.provide(makeLayer({ retry: RetryPolicy.layerDefault }))))

    it.effect("Retry-After is honoured", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* TestGrant.failNext(
          1,
          new TokenError.HttpError({ reason: "Status", status: 429, retryAfter: Duration.seconds(30) })
        )
        const fiber = yield* Effect.fork(tokens.get)
        yield* settle
        yield* TestClock.adjust("29 seconds")
        yield* settle
        assert.strictEqual(yield* TestGrant.requests, 1)
        yield* TestClock.adjust("7 seconds") // 30 s, possibly less than the backoff's jitter
        assert.strictEqual(accessToken(yield* Fiber.join(fiber)), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(Effect.provide(makeLayer({ retry: RetryPolicy.layerDefault }))))

    it.effect("invalid_client is not retried", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* TestGrant.failNext(
          1,
          new TokenError.HttpError({ reason: "Status", status: 401, error: "invalid_client" })
        )
        const fiber = yield* Effect.fork(Effect.flip(tokens.get))
        yield* settle
        yield* TestClock.adjust("5 minutes")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error.error, "invalid_client")
        assert.isFalse(error.isTransient)
        assert.strictEqual(yield* TestGrant.requests, 1)
      }).pipe(Effect.provide(makeLayer({ retry: RetryPolicy.layerDefault }))))

    it.effect("retries stop after the policy's attempts", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* TestGrant.failNext(100)
        const fiber = yield* Effect.fork(Effect.flip(tokens.get))
        for (let i = 0; i < 10; i++) {
          yield* settle
          yield* TestClock.adjust("10 seconds")
        }
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error.status, 503)
        assert.strictEqual(yield* TestGrant.requests, 5)
      }).pipe(Effect.provide(makeLayer({ retry: RetryPolicy.layerDefault }))))

    it.effect("an attempt that hangs times out, and the retry succeeds", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* TestGrant.hangNext(1)
        const fiber = yield* Effect.fork(tokens.get)
        yield* settle
        yield* TestClock.adjust("10 seconds") // the attempt timeout
        yield* settle
        yield* TestClock.adjust("1 second") // the backoff
        assert.strictEqual(accessToken(yield* Fiber.join(fiber)), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(Effect.provide(makeLayer({ retry: RetryPolicy.layerDefault }))))

    it.effect("with a single attempt, a hang ends in a Timeout error", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* TestGrant.hangNext(1)
        const fiber = yield* Effect.fork(Effect.flip(tokens.get))
        yield* settle
        yield* TestClock.adjust("10 seconds")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error.reason, "Timeout")
        // not cached: the next get asks again
        yield* aSecondLater
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a server answering expires_in: 0 is asked at most once a second, and its tokens are used", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const seen = new Set<string>()
        for (let i = 0; i < 100; i++) {
          seen.add(accessToken(yield* tokens.get))
          yield* TestClock.adjust("50 millis")
        }
        // every token issued was handed out, none was skipped
        assert.strictEqual(seen.size, yield* TestGrant.requests)
        // 5 seconds of gets every 50 ms
        const requests = yield* TestGrant.requests
        assert.isAtMost(requests, 6)
        assert.isAtLeast(requests, 5)
      }).pipe(Effect.provide(makeLayer({ grant: { lifetime: 0 } }))))

    it.effect("a refused client under a busy caller: at most one token request a second", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const refused = new TokenError.HttpError({ reason: "Status", status: 401, error: "invalid_client" })
        yield* TestGrant.failNext(1_000_000, refused)
        // a caller asking every 10 ms for 5 seconds, each ask failing
        const caller = Effect.gen(function*() {
          const end = (yield* Clock.currentTimeMillis) + 5000
          let failures = 0
          while ((yield* Clock.currentTimeMillis) < end) {
            const error = yield* Effect.flip(tokens.get)
            if (error.error === "invalid_client") failures++
            yield* Effect.sleep("10 millis")
          }
          return failures
        })
        const fiber = yield* Effect.fork(caller)
        for (let i = 0; i < 60; i++) {
          yield* settle
          yield* TestClock.adjust("100 millis")
        }
        const failures = yield* Fiber.join(fiber)
        assert.isAtLeast(failures, 4)
        const times = (yield* TestGrant.requestTimes).map((t) => t.epochMillis)
        assert.isAtMost(times.length, 7)
        for (let i = 1; i < times.length; i++) assert.isAtLeast(times[i]! - times[i - 1]!, 1000)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("an API that rejects every token cannot make the service ask more than once a second", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        // what a 401 retry loop does: get, rejected, invalidate, get again, every 100 ms for 5 seconds
        const caller = Effect.gen(function*() {
          const end = (yield* Clock.currentTimeMillis) + 5000
          while ((yield* Clock.currentTimeMillis) < end) {
            yield* tokens.invalidate(yield* tokens.get)
            yield* Effect.sleep("100 millis")
          }
        })
        const fiber = yield* Effect.fork(caller)
        for (let i = 0; i < 50; i++) {
          yield* settle
          yield* TestClock.adjust("100 millis")
        }
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        const times = (yield* TestGrant.requestTimes).map((t) => t.epochMillis)
        assert.isAtMost(times.length, 7)
        for (let i = 1; i < times.length; i++) assert.isAtLeast(times[i]! - times[i - 1]!, 1000)
      }).pipe(Effect.provide(makeLayer())))
  })

  describe("invalidate and refresh", () => {
    it.effect("invalidate(oldToken) after a newer token was fetched keeps the newer one", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const old = yield* tokens.get
        yield* aSecondLater
        const newer = yield* tokens.refresh
        assert.strictEqual(accessToken(newer), "test-access-token-2")
        yield* tokens.invalidate(old)
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("invalidate(currentToken) drops it: the next get fetches a new one at once", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const rejected = yield* tokens.get
        yield* aSecondLater
        yield* tokens.invalidate(rejected)
        // many callers after a 401 storm: one request
        const next = yield* Effect.all(Array.from({ length: 100 }, () => tokens.get), { concurrency: "unbounded" })
        assert.isTrue(next.every((t) => accessToken(t) === "test-access-token-2"))
        assert.strictEqual(yield* TestGrant.requests, 2)
        // and the store holds the new one
        const store = yield* TokenStore.TokenStore
        const stored = yield* store.load((yield* TokenService.TokenService).key)
        assert.strictEqual(accessToken(stored), "test-access-token-2")
      }).pipe(Effect.provide(makeLayer())))

    it.effect("an invalidated token is never loaded back from the store, even when removing it failed", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const store = yield* TokenStore.TokenStore
        const rejected = yield* tokens.get
        yield* aSecondLater
        yield* tokens.invalidate(rejected)
        assert.strictEqual(accessToken(yield* store.load(tokens.key)), "test-access-token-1") // still there
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
        yield* aSecondLater
        yield* tokens.invalidate() // without a token: the same
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-3")
        assert.strictEqual(yield* TestGrant.requests, 3)
      }).pipe(Effect.provide(makeLayer({ store: storeThatCannotRemove }))))

    it.effect("invalidate() forgets whatever is cached", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* aSecondLater
        yield* tokens.invalidate()
        assert.strictEqual((yield* Effect.flip(tokens.current))._tag, "NotCached")
        yield* tokens.get
        assert.strictEqual(yield* TestGrant.requests, 2)
      }).pipe(Effect.provide(makeLayer())))

    it.effect("concurrent refreshes share one request; a failed refresh keeps the old token", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* aSecondLater
        const refreshed = yield* Effect.all(Array.from({ length: 10 }, () => tokens.refresh), {
          concurrency: "unbounded"
        })
        assert.isTrue(refreshed.every((t) => accessToken(t) === "test-access-token-2"))
        assert.strictEqual(yield* TestGrant.requests, 2)

        yield* aSecondLater
        yield* TestGrant.failNext(1)
        const error = yield* Effect.flip(tokens.refresh)
        assert.strictEqual(error._tag, "HttpError")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
      }).pipe(Effect.provide(makeLayer())))

    it.effect("the grant is given the last token even after it was invalidated or expired (its refresh token)", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const basis = Effect.flatMap(TestGrant.TestGrant, (t) => t.basis)
        const first = yield* tokens.get
        yield* aSecondLater
        yield* tokens.invalidate(first)
        yield* tokens.get
        assert.strictEqual(Option.map((yield* basis)[1]!, accessToken).pipe(Option.getOrNull), "test-access-token-1")
        yield* TestClock.adjust("2 hours") // expired
        yield* tokens.get
        assert.strictEqual(Option.map((yield* basis)[2]!, accessToken).pipe(Option.getOrNull), "test-access-token-2")
      }).pipe(Effect.provide(makeLayer())))

    it.effect("on a cold start, the grant is given the stored token, expired or not", () =>
      Effect.gen(function*() {
        const store = yield* TokenStore.TokenStore
        const tokens = yield* TokenService.TokenService
        const stale = Token.make({
          accessToken: Redacted.make("from-an-earlier-run"),
          tokenType: "Bearer",
          expiresIn: 60,
          refreshToken: Redacted.make("refresh-from-an-earlier-run"),
          issuedAt: DateTime.unsafeMake(-3_600_000)
        })
        yield* store.save(tokens.key, stale)
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
        const given = (yield* Effect.flatMap(TestGrant.TestGrant, (t) => t.basis))[0]!
        assert.strictEqual(
          Option.flatMap(given, (t) => Option.fromNullable(t.refreshToken)).pipe(
            Option.map(Redacted.value),
            Option.getOrNull
          ),
          "refresh-from-an-earlier-run"
        )
      }).pipe(Effect.provide(makeLayer())))

    it.effect("refresh passes the current token to the grant (for refresh tokens)", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* aSecondLater
        yield* tokens.refresh
        const basis = yield* Effect.flatMap(TestGrant.TestGrant, (t) => t.basis)
        assert.isTrue(Option.isNone(basis[0]!))
        assert.strictEqual(Option.map(basis[1]!, accessToken).pipe(Option.getOrNull), "test-access-token-1")
      }).pipe(Effect.provide(makeLayer())))
  })

  describe("hardening", () => {
    it.effect("a token rejected twice in a row stays rejected (a 401 burst spanning a renewal)", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const t1 = yield* tokens.get
        yield* aSecondLater
        const t2 = yield* tokens.refresh
        yield* aSecondLater
        yield* tokens.invalidate(t2)
        yield* tokens.invalidate(t1) // a late 401 for the old token
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-3")
        // and current does not bring it back either
        yield* tokens.invalidate()
        assert.strictEqual((yield* Effect.flip(tokens.current))._tag, "NotCached")
      }).pipe(Effect.provide(makeLayer({ store: storeThatCannotRemove }))))

    it.effect("a store that does not answer costs at most its timeout, then the service fetches on its own", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const [fiber, logs] = yield* captureLogs(Effect.gen(function*() {
          const fiber = yield* Effect.fork(tokens.get)
          for (let i = 0; i < 4; i++) {
            yield* settle
            yield* TestClock.adjust("5 seconds")
          }
          return fiber
        }))
        assert.strictEqual(accessToken(yield* Fiber.join(fiber)), "test-access-token-1")
        assert.isTrue(logs.some((l) => l.includes("token store load failed") && l.includes("no answer within 5s")))
      }).pipe(Effect.provide(makeLayer({ store: storeThatHangs }))))

    it.effect("a lock that is never granted costs at most the lock timeout", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const fiber = yield* Effect.fork(tokens.get)
        yield* settle
        yield* TestClock.adjust("29 seconds")
        yield* settle
        assert.strictEqual(yield* TestGrant.requests, 0)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(accessToken(yield* Fiber.join(fiber)), "test-access-token-1")
      }).pipe(Effect.provide(makeLayer({ store: storeWithLock(() => Effect.never) }))))

    it.effect("a lock whose release never ends costs at most the store timeout, and the token is kept", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const [fiber, logs] = yield* captureLogs(Effect.gen(function*() {
          const fiber = yield* Effect.fork(tokens.get)
          yield* settle
          yield* TestClock.adjust("4 seconds")
          yield* settle
          assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "waits for the release a while")
          yield* TestClock.adjust("1 second")
          return fiber
        }))
        assert.strictEqual(accessToken(yield* Fiber.join(fiber)), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.isTrue(
          logs.some((l) => l.includes("level=WARN") && l.includes("not released within 5s")),
          logs.join("\n")
        )
        // the token is cached: no lock, no wait
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
      }).pipe(
        Effect.provide(makeLayer({
          // a release that hangs, as one on a file system that stopped answering would, uninterruptibly
          store: storeWithLock((effect) => Effect.zipLeft(effect, Effect.uninterruptible(Effect.never)))
        }))
      ))

    it.effect("a lock (of the withLock contract) that fails after the token request keeps its token: no second request", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const [token, logs] = yield* captureLogs(Effect.gen(function*() {
          const fiber = yield* Effect.fork(tokens.get)
          yield* settle
          yield* aSecondLater // what a second request would wait for
          return yield* Fiber.join(fiber)
        }))
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.strictEqual(accessToken(token), "test-access-token-1")
        assert.isTrue(
          logs.some((l) => l.includes("level=WARN") && l.includes("lock failed") && l.includes("giving the lock back")),
          logs.join("\n")
        )
      }).pipe(
        Effect.provide(makeLayer({
          // a full disk: nothing saved, and the lock file cannot be removed
          store: Layer.effect(
            TokenStore.TokenStore,
            Effect.map(TokenStore.makeMemory, (memory) =>
              TokenStore.fromWithLock({
                ...memory,
                save: (key) => Effect.fail(storeError(key, "save")),
                withLock: (key, effect) => Effect.zipLeft(effect, Effect.fail(storeError(key, "lock")))
              }))
          )
        }))
      ))

    it.effect("a lock that dies (a store bug) is worked around", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
      }).pipe(Effect.provide(makeLayer({ store: storeWithLock(() => Effect.dieMessage("lock bug")) }))))

    it.effect("a long Retry-After never holds the renewal past half of what is left of the token's life", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* TestGrant.failNext(
          1,
          new TokenError.HttpError({ reason: "Status", status: 429, retryAfter: Duration.hours(1) })
        )
        yield* TestClock.adjust("3300 seconds")
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-1")
        yield* TestClock.adjust("149 seconds") // 300 s were left: the next attempt is due at +150 s
        yield* tokens.get
        yield* settle
        assert.strictEqual(yield* TestGrant.requests, 2)
        yield* TestClock.adjust("1 second")
        yield* tokens.get
        yield* settle
        assert.strictEqual(yield* TestGrant.requests, 3)
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a failed refresh of a token that is not due changes nothing for later renewals", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        yield* tokens.get
        yield* aSecondLater
        yield* TestGrant.failNext(1)
        yield* Effect.flip(tokens.refresh)
        yield* TestClock.adjust("3300 seconds")
        // the due token's callers wait for its renewal, as by default
        assert.strictEqual(accessToken(yield* tokens.get), "test-access-token-2")
      }).pipe(Effect.provide(makeLayer())))

    it.effect("a grant that dies during a renewal: the valid token is served, and the next attempt waits", () =>
      Effect.gen(function*() {
        let calls = 0
        const dyingGrant = Layer.effect(
          Grant.Grant,
          Effect.map(TestGrant.make(), ([grant]) => ({
            key: "dying",
            request: (current: Option.Option<Token.Token>) =>
              ++calls === 1 ? grant.request(current) : Effect.dieMessage("grant bug")
          }))
        )
        const [token, logs] = yield* captureLogs(
          Effect.gen(function*() {
            const tokens = yield* TokenService.TokenService
            yield* tokens.get
            yield* TestClock.adjust("3300 seconds")
            const token = yield* tokens.get
            yield* TestClock.adjust("1 second")
            yield* tokens.get
            return token
          }).pipe(
            Effect.provide(
              TokenService.layer().pipe(
                Layer.provide([dyingGrant, RefreshPolicy.fixed("5 minutes"), RetryPolicy.none, TokenStore.layerMemory])
              )
            )
          )
        )
        assert.strictEqual(accessToken(token), "test-access-token-1")
        assert.strictEqual(calls, 2)
        assert.isTrue(logs.some((l) => l.includes("token renewal failed: unexpected error")))
        assert.isFalse(logs.some((l) => l.includes("grant bug")))
      }))

    it("a refresh policy with an infinite duration is refused when it is built", () => {
      assert.throws(() => RefreshPolicy.make({ assumedLifetime: Duration.infinity }), RangeError)
      assert.throws(() => RefreshPolicy.make({ jitter: Duration.infinity }), RangeError)
      assert.throws(() => RefreshPolicy.make({ fraction: 2 }), RangeError)
    })
  })

  describe("observability", () => {
    it.effect("each token request is a span and counts in the metric by outcome", () =>
      Effect.gen(function*() {
        const native = yield* Effect.tracer
        const spans: Array<Tracer.Span> = []
        const recording = Tracer.make({
          span: (...args) => {
            const span = native.span(...args)
            spans.push(span)
            return span
          },
          context: (f, fiber) => native.context(f, fiber)
        })
        const success = Metric.tagged(TokenService.tokenRequests, "outcome", "success")
        const status = Metric.tagged(TokenService.tokenRequests, "outcome", "status")
        const successBefore = (yield* Metric.value(success)).count
        const statusBefore = (yield* Metric.value(status)).count

        yield* Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          yield* TestGrant.failNext(1)
          yield* Effect.flip(tokens.get)
          yield* aSecondLater
          yield* tokens.get
        }).pipe(Effect.withTracer(recording))

        assert.strictEqual((yield* Metric.value(success)).count - successBefore, 1)
        assert.strictEqual((yield* Metric.value(status)).count - statusBefore, 1)
        const requests = spans.filter((span) => span.name === TokenService.tokenRequestSpan)
        assert.strictEqual(requests.length, 2)
        assert.isTrue(requests.every((span) => span.attributes.get("tokenlayer.key") === "test"))
        const exits = requests.map((span) => span.status._tag === "Ended" ? span.status.exit : undefined)
        assert.isTrue(exits[0] !== undefined && Exit.isFailure(exits[0]))
        assert.isTrue(exits[1] !== undefined && Exit.isSuccess(exits[1]))
      }).pipe(Effect.provide(makeLayer())))

    it.effect("each retry is logged at debug level with its status and its wait, never a token or a secret", () =>
      Effect.gen(function*() {
        const [token, logs] = yield* captureLogs(
          Effect.zipRight(TestGrant.failNext(2), getStepping(20, "250 millis"))
        )
        assert.strictEqual(accessToken(token), "test-access-token-1")
        const retries = logs.filter((l) => l.includes("retrying in"))
        assert.strictEqual(retries.length, 2, logs.join("\n"))
        for (const line of retries) {
          assert.include(line, "level=DEBUG")
          assert.include(line, "token request failed (Status 503)")
          assert.include(line, "tokenlayer.status=503")
          assert.match(line, /tokenlayer\.retryInMillis=\d+\b/)
          assert.notInclude(line, "test-access-token")
          assert.notInclude(line, "secret")
        }
      }).pipe(Effect.provide(makeLayer({ retry: RetryPolicy.layerDefault }))))

    it.effect("a slow token request with a memory store and one caller logs no warning about the lock", () =>
      Effect.gen(function*() {
        // a first request of more than the store timeout (5 s): the lock is given back at once after it
        const [token, logs] = yield* captureLogs(getStepping(8, "1 second"))
        assert.strictEqual(accessToken(token), "test-access-token-1")
        assert.isFalse(logs.some((l) => l.includes("level=WARN")), logs.join("\n"))
        assert.isFalse(logs.some((l) => l.includes("not released")), logs.join("\n"))
      }).pipe(Effect.provide(makeLayer({ grant: { lifetime: "1 hour", latency: "6 seconds" } }))))

    it.effect("a new token is logged at debug level with its lifetime, never its value", () =>
      Effect.gen(function*() {
        const [, logs] = yield* captureLogs(TokenService.get)
        const line = logs.find((l) => l.includes("new token"))
        assert.isDefined(line)
        assert.include(line, "level=DEBUG")
        assert.include(line, "tokenlayer.lifetime=3600s")
        assert.notInclude(line, "test-access-token")
      }).pipe(Effect.provide(makeLayer())))
  })

  describe("current", () => {
    it.effect("NotCached, then the token, then Expired; never a request", () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const missing = yield* Effect.flip(tokens.current)
        assert.strictEqual(missing._tag, "NotCached")
        assert.strictEqual(yield* TestGrant.requests, 0)
        yield* tokens.get
        assert.strictEqual(accessToken(yield* tokens.current), "test-access-token-1")
        yield* TestClock.adjust("1 hour")
        const expired = yield* Effect.flip(tokens.current)
        assert.strictEqual(expired._tag, "Expired")
        assert.strictEqual(yield* TestGrant.requests, 1)
      }).pipe(Effect.provide(makeLayer())))
  })

  describe("stores", () => {
    it.effect("a fresh stored token is used without a request", () =>
      Effect.gen(function*() {
        const store = yield* TokenStore.TokenStore
        const now = yield* DateTime.now
        yield* store.save(
          "test",
          Token.make({
            accessToken: Redacted.make("stored-token"),
            tokenType: "Bearer",
            expiresIn: 3600,
            issuedAt: now,
            expiresAt: DateTime.addDuration(now, "1 hour")
          })
        )
        const token = yield* Effect.scoped(Effect.gen(function*() {
          const tokens = yield* TokenService.make()
          return yield* tokens.get
        })).pipe(
          Effect.provide(TestGrant.layer()),
          Effect.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.none])
        )
        assert.strictEqual(accessToken(token), "stored-token")
      }).pipe(Effect.provide(TokenStore.layerMemory)))

    it.effect("two services sharing a store make one request between them", () =>
      Effect.gen(function*() {
        const [grant, control] = yield* TestGrant.make({ latency: "1 second" })
        const deps = Layer.mergeAll(
          Layer.succeed(Grant.Grant, grant),
          RefreshPolicy.fixed("5 minutes"),
          RetryPolicy.none
        )
        const results = yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* TokenService.make()
          const b = yield* TokenService.make()
          const fibers = yield* Effect.all([
            Effect.fork(Effect.all(Array.from({ length: 50 }, () => a.get), { concurrency: "unbounded" })),
            Effect.fork(Effect.all(Array.from({ length: 50 }, () => b.get), { concurrency: "unbounded" }))
          ])
          yield* settle
          yield* TestClock.adjust("1 second")
          yield* settle
          yield* TestClock.adjust("1 second")
          return (yield* Effect.all(fibers.map(Fiber.join))).flat()
        })).pipe(Effect.provide(deps))
        assert.strictEqual(yield* control.requests, 1)
        assert.isTrue(results.every((t) => accessToken(t) === "test-access-token-1"))
      }).pipe(Effect.provide(TokenStore.layerMemory)))

    it.effect("the grant is given the newest token of memory and store (another process renewed since)", () =>
      Effect.gen(function*() {
        const [grant, control] = yield* TestGrant.make({ lifetime: "1 hour" })
        const deps = Layer.mergeAll(
          Layer.succeed(Grant.Grant, grant),
          RefreshPolicy.fixed("5 minutes"),
          RetryPolicy.none
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* TokenService.make()
          const b = yield* TokenService.make()
          yield* a.get // token 1, which b loads from the store
          assert.strictEqual(accessToken(yield* b.get), "test-access-token-1")
          yield* TestClock.adjust("30 minutes")
          yield* a.refresh // token 2, stored; b still holds token 1
          yield* TestClock.adjust("1 hour") // token 2 due too
          assert.strictEqual(accessToken(yield* b.get), "test-access-token-3")
        })).pipe(Effect.provide(deps))
        // b's renewal traded token 2 (its refresh token), not the token 1 it held
        const basis = yield* control.basis
        assert.strictEqual(Option.map(basis[2]!, accessToken).pipe(Option.getOrNull), "test-access-token-2")
      }).pipe(Effect.provide(TokenStore.layerMemory)))

    it.effect("a failing store never fails get: it is logged and the service fetches on its own", () =>
      Effect.gen(function*() {
        const [token, logs] = yield* captureLogs(Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          const token = yield* tokens.get
          yield* tokens.get
          return token
        }))
        assert.strictEqual(accessToken(token), "test-access-token-1")
        assert.strictEqual(yield* TestGrant.requests, 1)
        assert.isTrue(logs.some((l) => l.includes("token store load failed")))
        // a store that refuses at once is still asked to save (a save replaces what a load refused)
        assert.isTrue(logs.some((l) => l.includes("token store lock failed")))
        assert.isTrue(logs.some((l) => l.includes("token store save failed")))
      }).pipe(Effect.provide(makeLayer({ store: brokenStore }))))

    it.effect("a slow answer that is not a failure (NotCached after 2 s) keeps the store in use: it is saved to", () =>
      Effect.gen(function*() {
        const saves = yield* Ref.make(0)
        const slowEmpty = Layer.effect(
          TokenStore.TokenStore,
          Effect.map(TokenStore.makeMemory, (memory) => ({
            ...memory,
            load: (key: string) =>
              Effect.zipRight(Effect.sleep("2 seconds"), Effect.fail(new TokenError.NotCached({ key }))),
            save: (key: string, token: Token.Token) =>
              Effect.zipRight(Ref.update(saves, (n) => n + 1), memory.save(key, token))
          }))
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          const fiber = yield* Effect.fork(tokens.get)
          for (let i = 0; i < 4; i++) {
            yield* settle
            yield* TestClock.adjust("2 seconds")
          }
          yield* Fiber.join(fiber)
        })).pipe(Effect.provide(makeLayer({ store: slowEmpty })))
        assert.strictEqual(yield* Ref.get(saves), 1)
      }))

    it.effect("a store timeout under a second still marks the store down for the renewal", () =>
      coldGetVisitsOnce(() => Effect.never, "500 millis", { storeTimeout: "500 millis" }))

    it.effect("a store that fails slowly (a command timeout of its own) is asked nothing more in that renewal", () =>
      coldGetVisitsOnce(
        (key, operation) => Effect.zipRight(Effect.sleep("2 seconds"), Effect.fail(storeError(key, operation))),
        "2 seconds"
      ))

    it.effect("a store that does not answer costs a renewal one store timeout, not one per operation", () =>
      // the default store timeout (5 s): the first load gives up, and nothing else is asked
      coldGetVisitsOnce(() => Effect.never, "5 seconds"))

    it.effect("a lock that fails does not stop the renewal from saving (a broken lock file beside a good token file)", () =>
      Effect.gen(function*() {
        const saves = yield* Ref.make(0)
        const lockless = Layer.effect(
          TokenStore.TokenStore,
          Effect.map(TokenStore.makeMemory, (memory) => ({
            ...memory,
            save: (key: string, token: Token.Token) =>
              Effect.zipRight(Ref.update(saves, (n) => n + 1), memory.save(key, token)),
            lock: (key: string) => Effect.fail(storeError(key, "lock"))
          }))
        )
        const [, logs] = yield* captureLogs(TokenService.get).pipe(Effect.provide(makeLayer({ store: lockless })))
        assert.isTrue(logs.some((l) => l.includes("token store lock failed")))
        assert.strictEqual(yield* Ref.get(saves), 1)
      }))

    it.effect("a corrupted stored token is logged, treated as a miss, and overwritten", () =>
      Effect.gen(function*() {
        const [token, logs] = yield* captureLogs(TokenService.get)
        assert.strictEqual(accessToken(token), "test-access-token-1")
        assert.isTrue(logs.some((l) => l.includes("corrupted") && l.includes("/tmp/token.json")))
        assert.isTrue(saved.some((t) => accessToken(t) === "test-access-token-1"))
      }).pipe(Effect.provide(makeLayer({ store: corruptedStore }))))
  })
})

const storeError = (key: string, operation: "load" | "save" | "remove" | "lock") =>
  new TokenError.StoreError({ key, operation, reason: "disk on fire" })

/** A cold `get` against a store whose every operation counts a visit, then does `operation`: once the
 * TestClock has moved by `step`, the `get` is answered, and the store was visited once. */
const coldGetVisitsOnce = (
  operation: (key: string, name: TokenError.StoreError["operation"]) => Effect.Effect<never, TokenError.StoreError>,
  step: Duration.DurationInput,
  service?: TokenService.Options
) =>
  Effect.gen(function*() {
    const visits = yield* Ref.make(0)
    const visit = (name: TokenError.StoreError["operation"]) => (key: string) =>
      Effect.zipRight(Ref.update(visits, (n) => n + 1), operation(key, name))
    const store = Layer.succeed(TokenStore.TokenStore, {
      load: visit("load"),
      save: visit("save"),
      remove: visit("remove"),
      lock: visit("lock")
    })
    yield* Effect.scoped(Effect.gen(function*() {
      const tokens = yield* TokenService.TokenService
      const fiber = yield* Effect.fork(tokens.get)
      yield* settle
      yield* TestClock.adjust(step)
      yield* settle
      assert.isTrue(Option.isSome(yield* Fiber.poll(fiber)), "get still waits after one store visit")
      assert.strictEqual(accessToken(yield* Fiber.join(fiber)), "test-access-token-1")
    })).pipe(Effect.provide(makeLayer({ store, ...(service === undefined ? {} : { service }) })))
    assert.strictEqual(yield* Ref.get(visits), 1)
  })

const brokenStore: Layer.Layer<TokenStore.TokenStore> = Layer.succeed(TokenStore.TokenStore, {
  load: (key) => Effect.fail(storeError(key, "load")),
  save: (key) => Effect.fail(storeError(key, "save")),
  remove: (key) => Effect.fail(storeError(key, "remove")),
  lock: (key) => Effect.fail(storeError(key, "lock"))
})

const storeThatCannotRemove: Layer.Layer<TokenStore.TokenStore> = Layer.effect(
  TokenStore.TokenStore,
  Effect.map(
    TokenStore.makeMemory,
    (memory) => ({ ...memory, remove: (key) => Effect.fail(storeError(key, "remove")) })
  )
)

const storeThatHangs: Layer.Layer<TokenStore.TokenStore> = Layer.effect(
  TokenStore.TokenStore,
  Effect.map(TokenStore.makeMemory, (memory) => ({ ...memory, load: () => Effect.never }))
)

const storeWithLock = (
  lock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | TokenError.StoreError, R>
): Layer.Layer<TokenStore.TokenStore> =>
  Layer.effect(
    TokenStore.TokenStore,
    Effect.map(
      TokenStore.makeMemory,
      (memory) => TokenStore.fromWithLock({ ...memory, withLock: (_key, effect) => lock(effect) })
    )
  )

const saved: Array<Token.Token> = []
const corruptedStore: Layer.Layer<TokenStore.TokenStore> = Layer.succeed(TokenStore.TokenStore, {
  load: (key) => Effect.fail(new TokenError.Corrupted({ key, path: "/tmp/token.json", reason: "not JSON" })),
  save: (_key, token) => Effect.sync(() => void saved.push(token)),
  remove: () => Effect.void,
  lock: () => Effect.void
})

import { NodeHttpClient } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import type { Scope } from "effect"
import {
  ConfigProvider,
  Context,
  DateTime,
  Duration,
  Effect,
  Layer,
  Logger,
  LogLevel,
  Redacted,
  Schedule,
  TestClock,
  TestServices
} from "effect"
import { Redis } from "ioredis"
import { inspect } from "node:util"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import * as RedisStore from "tokenlayer/TokenStore/Redis"
import { describeRedis } from "./support/describeRedis.js"
import { captureLogs } from "./support/logs.js"
import * as RedisServer from "./support/redisServer.js"
import { storeSuite } from "./support/storeSuite.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const key = "grant=client_credentials;token_url=https://auth.example.com/token;client_id=fleet"

let prefixes = 0
/** A prefix of its own for each test, so that tests sharing a server never see each other's keys. */
const freshPrefix = (): string => `test-${process.pid}-${++prefixes}:`

const tokenFor = (accessToken: string, issuedAt: DateTime.Utc, expiresIn: number | undefined): Token.Token =>
  Token.make({
    accessToken: Redacted.make(accessToken),
    tokenType: "Bearer",
    expiresIn,
    issuedAt,
    expiresAt: expiresIn === undefined ? undefined : DateTime.addDuration(issuedAt, Duration.seconds(expiresIn))
  })

/** A plain client for looking at what the store wrote; closed with the scope. */
const rawClient = (url: string): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
    (redis) => Effect.sync(() => redis.disconnect())
  )

/** A plain client on the suite's server. */
class RawRedis extends Context.Tag("test/RawRedis")<RawRedis, Redis>() {}

const call = <A>(f: () => Promise<A>): Effect.Effect<A> => Effect.promise(f)

/** Retries `effect` (real time, 50 ms apart) until it succeeds: for waiting on a process or a reconnection. */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, { schedule: Schedule.spaced("50 millis"), times: 200 })

const accessToken = (token: Token.Token): string => Redacted.value(token.accessToken)

/** Runs a test on the real clock: Redis's TTLs and leases run in real time. */
const live = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => TestServices.provideLive(self)

/**
 * A store on the suite's server under a fresh prefix (with `options`), a raw client on that server, and
 * the Redis keys of `key`'s token and lease under that prefix.
 */
const fixture = (options: RedisStore.Options = {}) =>
  Effect.gen(function*() {
    const server = yield* RedisServer.RedisServer
    const prefix = freshPrefix()
    const store = yield* RedisStore.make({ url: server.url, prefix, ...options })
    const raw = yield* rawClient(server.url)
    return { prefix, store, raw, where: RedisStore.tokenKey(key, prefix), lease: RedisStore.lockKey(key, prefix) }
  })

describeRedis("RedisStore", () => {
  // the suite every store passes: a fresh redis-server for each test, a raw client to plant garbage with
  const SuiteLive = Layer.unwrapEffect(Effect.map(RedisServer.RedisServer, (server) =>
    Layer.merge(
      RedisStore.layer({ url: server.url }),
      Layer.scoped(RawRedis, rawClient(server.url))
    ))).pipe(Layer.provideMerge(RedisServer.layer()))

  storeSuite("the store suite", SuiteLive, {
    corrupt: (key, content) =>
      Effect.flatMap(RawRedis, (raw) => Effect.asVoid(call(() => raw.set(RedisStore.tokenKey(key), content)))),
    another: Effect.flatMap(RedisServer.RedisServer, (server) => RedisStore.make({ url: server.url })),
    expires: true
  })

  it.layer(RedisServer.layer())((it) => {
    it.scoped("saves the stored JSON form under <prefix>token:<key> and loads it back", () =>
      live(Effect.gen(function*() {
        const { prefix, store, raw } = yield* fixture()
        const token = tokenFor("at-roundtrip", yield* DateTime.now, 3600)

        assert.strictEqual((yield* Effect.flip(store.load(key)))._tag, "NotCached")
        yield* store.save(key, token)
        const loaded = yield* store.load(key)
        assert.strictEqual(accessToken(loaded), "at-roundtrip")
        assert.strictEqual(loaded.expiresAt?.epochMillis, token.expiresAt?.epochMillis)

        const stored = yield* call(() => raw.get(`${prefix}token:${key}`))
        assert.strictEqual(stored, Token.toJson(token))
        assert.deepStrictEqual(RedisStore.tokenKey(key, prefix), `${prefix}token:${key}`)
        assert.deepStrictEqual(RedisStore.lockKey(key), `tokenlayer:lock:${key}`)

        yield* store.remove(key)
        assert.strictEqual((yield* Effect.flip(store.load(key)))._tag, "NotCached")
        yield* store.remove(key) // nothing stored is not an error
      })))

    it.scoped("sets the TTL to the token's remaining life (PTTL)", () =>
      live(Effect.gen(function*() {
        const { prefix, store, raw } = yield* fixture({ ttlWithoutExpiry: "20 minutes" })
        const now = yield* DateTime.now

        yield* store.save(key, tokenFor("at-fresh", now, 3600))
        const fresh = yield* call(() => raw.pttl(RedisStore.tokenKey(key, prefix)))
        assert.isTrue(fresh > 3_590_000 && fresh <= 3_600_000, `PTTL ${fresh}`)

        // issued 50 minutes ago: 10 minutes left
        yield* store.save(key, tokenFor("at-older", DateTime.subtract(now, { minutes: 50 }), 3600))
        const older = yield* call(() => raw.pttl(RedisStore.tokenKey(key, prefix)))
        assert.isTrue(older > 590_000 && older <= 600_000, `PTTL ${older}`)

        // no expires_in: kept for ttlWithoutExpiry
        yield* store.save(key, tokenFor("at-no-expiry", now, undefined))
        const noExpiry = yield* call(() => raw.pttl(RedisStore.tokenKey(key, prefix)))
        assert.isTrue(noExpiry > 1_190_000 && noExpiry <= 1_200_000, `PTTL ${noExpiry}`)
        assert.strictEqual(accessToken(yield* store.load(key)), "at-no-expiry")

        // already expired: not stored, and what was there is gone
        yield* store.save(key, tokenFor("at-expired", DateTime.subtract(now, { hours: 2 }), 3600))
        assert.strictEqual(yield* call(() => raw.exists(RedisStore.tokenKey(key, prefix))), 0)
        assert.strictEqual((yield* Effect.flip(store.load(key)))._tag, "NotCached")
      })))

    it.scoped("takes the TTL from Effect's Clock", () =>
      Effect.gen(function*() {
        const { prefix, store, raw } = yield* fixture()
        // the TestClock says 1970: by Date.now this token expired long ago, by the Clock it has a minute left
        const token = tokenFor("at-clock", DateTime.subtract(yield* DateTime.now, { minutes: 59 }), 3600)
        yield* store.save(key, token)
        const ttl = yield* call(() => raw.pttl(RedisStore.tokenKey(key, prefix)))
        assert.isTrue(ttl > 50_000 && ttl <= 60_000, `PTTL ${ttl}`)
      }))

    it.scoped("a value that is not a token is Corrupted, with the key, without its content", () =>
      live(Effect.gen(function*() {
        const { store, raw, where } = yield* fixture()

        for (const value of ["not json at all: s3cr3t-value", JSON.stringify({ token: "s3cr3t-value" }), "[]"]) {
          yield* call(() => raw.set(where, value))
          const error = yield* Effect.flip(store.load(key))
          assert.strictEqual(error._tag, "Corrupted")
          if (error._tag !== "Corrupted") return
          assert.strictEqual(error.key, key)
          assert.strictEqual(error.path, where)
          assert.notInclude(error.message, "s3cr3t-value")
        }

        yield* call(() => raw.del(where))
        yield* call(() => raw.hset(where, "access_token", "s3cr3t-value"))
        const wrongType = yield* Effect.flip(store.load(key))
        assert.strictEqual(wrongType._tag, "Corrupted")
        // and a save overwrites it
        yield* store.save(key, tokenFor("at-overwrite", yield* DateTime.now, 3600))
        assert.strictEqual(accessToken(yield* store.load(key)), "at-overwrite")
      })))

    it.scoped("withLock holds a lease <prefix>lock:<key>, PX lease, and releases it", () =>
      live(Effect.gen(function*() {
        const { store, raw, lease } = yield* fixture({ lease: "7 seconds" })

        const [owner, ttl] = yield* TokenStore.withLock(
          store,
          key,
          Effect.zip(call(() => raw.get(lease)), call(() => raw.pttl(lease)))
        )
        assert.isString(owner)
        assert.isTrue(ttl > 0 && ttl <= 7_000, `PTTL ${ttl}`)
        assert.strictEqual(yield* call(() => raw.exists(lease)), 0)

        // released also when the effect fails
        const failed = yield* Effect.flip(TokenStore.withLock(store, key, Effect.fail("boom" as const)))
        assert.strictEqual(failed, "boom")
        assert.strictEqual(yield* call(() => raw.exists(lease)), 0)
      })))

    it.scoped("a lease is released only by its owner", () =>
      live(Effect.gen(function*() {
        const { store, raw, lease } = yield* fixture()

        // our lease expired while we worked and someone else took it: our release must leave theirs alone
        yield* TokenStore.withLock(store, key, call(() => raw.set(lease, "someone-else", "PX", 30_000)))
        assert.strictEqual(yield* call(() => raw.get(lease)), "someone-else")
      })))

    it.scoped("the lease of a crashed holder expires, and the next one takes it", () =>
      live(Effect.gen(function*() {
        const { store, raw, lease } = yield* fixture()

        // what a process killed while holding the lease leaves behind: a lease nobody renews
        yield* call(() => raw.set(lease, "crashed-holder", "PX", 300))
        const ownerInside = yield* TokenStore.withLock(store, key, call(() => raw.get(lease)))
        assert.isString(ownerInside)
        assert.notStrictEqual(ownerInside, "crashed-holder")
      })))

    it.scoped("waiters take the lease one at a time", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const prefix = freshPrefix()
        const stores = yield* Effect.all(
          Array.from({ length: 4 }, () => RedisStore.make({ url: server.url, prefix }))
        )
        let inside = 0
        let most = 0
        yield* Effect.forEach(
          stores,
          (store) =>
            TokenStore.withLock(
              store,
              key,
              Effect.gen(function*() {
                inside++
                most = Math.max(most, inside)
                yield* Effect.sleep("20 millis")
                inside--
              })
            ),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(most, 1)
      })))

    it.scoped("a held lease is renewed every lease/3; a lost one is logged", () =>
      Effect.gen(function*() {
        const { store, raw, lease } = yield* fixture({ lease: "60 seconds" })
        const lines: Array<string> = []
        const logger = Logger.make((options) => void lines.push(Logger.logfmtLogger.log(options)))
        // waits in real time for what the renewal fiber does once the TestClock moved
        const until = (what: Effect.Effect<boolean>) => live(eventually(Effect.filterOrFail(what, (done) => done)))
        yield* TokenStore.withLock(
          store,
          key,
          Effect.gen(function*() {
            // as if most of the lease had passed
            yield* call(() => raw.pexpire(lease, 5_000))
            yield* TestClock.adjust("20 seconds")
            yield* until(Effect.map(call(() => raw.pttl(lease)), (ttl) => ttl > 5_000))
            // taken away: the next renewal finds someone else's lease, says so, and stops
            yield* call(() => raw.set(lease, "someone-else", "PX", 60_000))
            yield* TestClock.adjust("20 seconds")
            yield* until(Effect.sync(() => lines.some((line) => line.includes("the lease expired while its holder"))))
          })
        ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.All))
        assert.strictEqual(yield* call(() => raw.get(lease)), "someone-else")
      }))

    it.scoped("prefixes keep stores apart", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const a = yield* RedisStore.make({ url: server.url, prefix: `${freshPrefix()}a:` })
        const b = yield* RedisStore.make({ url: server.url, prefix: `${freshPrefix()}b:` })
        yield* a.save(key, tokenFor("at-a", yield* DateTime.now, 3600))
        assert.strictEqual((yield* Effect.flip(b.load(key)))._tag, "NotCached")
        // a's lease does not hold b up
        const inner = yield* TokenStore.withLock(a, key, TokenStore.withLock(b, key, Effect.succeed("b ran")))
        assert.strictEqual(inner, "b ran")
      })))

    it.scoped("uses a client passed in, and leaves it open", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const prefix = freshPrefix()
        const client = yield* rawClient(server.url)
        yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* RedisStore.make({ client, prefix })
          yield* store.save(key, tokenFor("at-client", yield* DateTime.now, 3600))
        }))
        assert.strictEqual(client.status, "ready")
        assert.isString(yield* call(() => client.get(RedisStore.tokenKey(key, prefix))))
      })))

    it.scoped("closes the connection it made when its scope closes", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const raw = yield* rawClient(server.url)
        const name = `tokenlayer-close-${process.pid}`
        yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* RedisStore.make({ url: server.url, redisOptions: { connectionName: name } })
          yield* store.remove(key)
          assert.include(String(yield* call(() => raw.client("LIST"))), name)
        }))
        yield* eventually(
          Effect.filterOrFail(call(() => raw.client("LIST")), (list) => !String(list).includes(name))
        )
      })))

    it.scoped("layerConfig reads TOKENLAYER_REDIS_URL and TOKENLAYER_REDIS_PREFIX", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const prefix = freshPrefix()
        const raw = yield* rawClient(server.url)
        const provider = ConfigProvider.fromMap(
          new Map([["TOKENLAYER_REDIS_URL", server.url], ["TOKENLAYER_REDIS_PREFIX", prefix], [
            "TOKENLAYER_REDIS_LEASE",
            "5 seconds"
          ]]),
          { pathDelim: "_" }
        )
        const built = yield* Layer.build(
          RedisStore.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(provider)))
        )
        const store = Context.get(built, TokenStore.TokenStore)
        yield* store.save(key, tokenFor("at-config", yield* DateTime.now, 3600))
        assert.strictEqual(yield* call(() => raw.exists(RedisStore.tokenKey(key, prefix))), 1)

        const missing = yield* Effect.flip(
          Layer.build(RedisStore.layerConfig()).pipe(
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map(), { pathDelim: "_" }))
          )
        )
        assert.include(missing.toString(), "REDIS_URL")

        const wrong = yield* Effect.flip(
          Layer.build(RedisStore.layerConfig()).pipe(
            Effect.withConfigProvider(
              ConfigProvider.fromMap(new Map([["TOKENLAYER_REDIS_URL", "http://user:hunter2-pw@redis.internal"]]), {
                pathDelim: "_"
              })
            )
          )
        )
        assert.include(wrong.toString(), "redis://")
        assert.notInclude(wrong.toString(), "hunter2-pw")

        for (const bad of ["redis://:hunter2-pw@redis.internal:99999", "redis://:hunter2%zz@redis.internal"]) {
          const error = yield* Effect.flip(
            Layer.build(RedisStore.layerConfig()).pipe(
              Effect.withConfigProvider(
                ConfigProvider.fromMap(new Map([["TOKENLAYER_REDIS_URL", bad]]), { pathDelim: "_" })
              )
            )
          )
          assert.notInclude(error.toString(), "hunter2")
        }
      })))
  })

  it.layer(RedisServer.layer({ password: "the-right-one" }))((it) => {
    it.scoped("a password in the URL is never in an error or a log", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const secret = "wr0ng-S3cret-pw"
        const closed = yield* Effect.promise(RedisServer.freePort)
        const [errors, logs] = yield* captureLogs(Effect.scoped(Effect.gen(function*() {
          const wrongPassword = yield* RedisStore.make({ url: `redis://user:${secret}@127.0.0.1:${server.port}` })
          const nobodyThere = yield* RedisStore.make({ url: Redacted.make(`redis://:${secret}@127.0.0.1:${closed}`) })
          const viaOptions = yield* RedisStore.make({
            redisOptions: { host: "127.0.0.1", port: server.port, password: secret }
          })
          const errors: Array<unknown> = []
          for (const store of [wrongPassword, nobodyThere, viaOptions]) {
            errors.push(yield* Effect.flip(store.load(key)))
            errors.push(yield* Effect.flip(store.save(key, tokenFor("at-x", yield* DateTime.now, 60))))
            errors.push(yield* Effect.flip(TokenStore.withLock(store, key, Effect.void)))
          }
          return errors
        })))
        for (const error of errors) {
          assert.strictEqual((error as { _tag: string })._tag, "StoreError")
          for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
            assert.notInclude(text, secret)
            assert.notInclude(text, "at-x")
          }
        }
        assert.isTrue(logs.length > 0)
        for (const line of logs) assert.notInclude(line, secret)

        // the right password works
        const store = yield* RedisStore.make({ url: server.url })
        yield* store.remove(key)
      })))
  })

  it.scoped("a URL ioredis cannot take: the layer builds, every operation is a StoreError, no secret shown", () =>
    live(Effect.gen(function*() {
      for (const url of ["redis://:hunter2-pw@127.0.0.1:99999", "redis://:hunter2%zz@127.0.0.1:6379"]) {
        const [errors, logs] = yield* captureLogs(Effect.scoped(Effect.gen(function*() {
          const store = yield* RedisStore.make({ url: Redacted.make(url) })
          return [
            yield* Effect.flip(store.load(key)),
            yield* Effect.flip(store.save(key, tokenFor("at-x", yield* DateTime.now, 60))),
            yield* Effect.flip(store.remove(key)),
            yield* Effect.flip(TokenStore.withLock(store, key, Effect.void))
          ]
        })))
        for (const error of errors) {
          assert.strictEqual(error._tag, "StoreError")
          assert.include(error.message, "invalid Redis URL")
          assert.notInclude(`${error.message} ${JSON.stringify(error)} ${inspect(error)}`, "hunter2")
        }
        assert.isTrue(logs.some((line) => line.includes("invalid Redis URL")))
        for (const line of logs) assert.notInclude(line, "hunter2")
      }
    })))

  it.scoped("building the layer neither fails nor waits when Redis is down; the store works once it is up", () =>
    live(Effect.gen(function*() {
      const port = yield* Effect.promise(RedisServer.freePort)
      const [store, logs] = yield* captureLogs(RedisStore.make({ url: `redis://127.0.0.1:${port}` }))
      const error = yield* Effect.flip(store.load(key))
      assert.strictEqual(error._tag, "StoreError")
      assert.strictEqual((yield* Effect.flip(TokenStore.withLock(store, key, Effect.void)))._tag, "StoreError")
      assert.isTrue(logs.some((line) => line.includes("level=WARN") && line.includes("Redis token store")))

      yield* RedisServer.start({ port })
      const loaded = yield* eventually(Effect.catchTag(store.load(key), "NotCached", () => Effect.succeed("none")))
      assert.strictEqual(loaded, "none")
    })))

  it.layer(RedisServer.layer())((it) => {
    it.scoped("a Redis that goes away fails fast, and the store recovers when it is back", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const prefix = freshPrefix()
        const store = yield* RedisStore.make({ url: server.url, prefix })
        yield* store.save(key, tokenFor("at-before", yield* DateTime.now, 3600))

        yield* server.kill
        const failed = yield* eventually(Effect.flip(store.load(key)))
        assert.strictEqual(failed._tag, "StoreError")
        assert.strictEqual((yield* Effect.flip(TokenStore.withLock(store, key, Effect.void)))._tag, "StoreError")

        yield* server.restart // empty: no persistence
        yield* eventually(store.save(key, tokenFor("at-after", yield* DateTime.now, 3600)))
        assert.strictEqual(accessToken(yield* store.load(key)), "at-after")
      })))
  })

  // ---------------------------------------------------------------------------
  // token services sharing Redis, in one process
  // ---------------------------------------------------------------------------

  it.layer(Layer.merge(RedisServer.layer(), TokenEndpoint.layer))((it) => {
    /** A token service with a cold memory and a Redis connection of its own, as a new process would have. */
    const member = (url: string, prefix: string) =>
      Effect.gen(function*() {
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        const store = yield* RedisStore.make({ url, prefix })
        const deps = yield* Layer.buildWithScope(
          Layer.mergeAll(
            Grant.clientCredentials({
              tokenUrl: endpoint.url,
              clientId: "fleet",
              clientSecret: Redacted.make("fleet-secret")
            }).pipe(Layer.provide(NodeHttpClient.layerUndici)),
            RefreshPolicy.fixed("5 minutes"),
            RetryPolicy.none,
            Layer.succeed(TokenStore.TokenStore, store)
          ),
          yield* Effect.scope
        )
        const tokens = yield* TokenService.make({ storeTimeout: "3 seconds" }).pipe(Effect.provide(deps))
        return { store, tokens }
      })

    /** Until the store answers again (its connection reconnects in the background). */
    const reconnected = (store: TokenStore.Service) =>
      eventually(Effect.catchTags(Effect.asVoid(store.load(key)), { NotCached: () => Effect.void }))

    it.scoped("Redis killed mid-run: get goes on from memory and fetches alone; sharing resumes after", () =>
      live(Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        const prefix = freshPrefix()
        let issued = 0
        yield* endpoint.respond(() => TokenEndpoint.tokenReply({ access_token: `at-shared-${++issued}` }))
        const requests = Effect.map(endpoint.requests, (all) => all.length)

        const a = yield* member(server.url, prefix)
        const b = yield* member(server.url, prefix)
        assert.strictEqual(accessToken(yield* a.tokens.get), "at-shared-1")
        assert.strictEqual(accessToken(yield* b.tokens.get), "at-shared-1") // loaded from Redis
        assert.strictEqual(yield* requests, 1)

        yield* server.kill
        const [[fromMemory, alone], logs] = yield* captureLogs(Effect.gen(function*() {
          const fromMemory = yield* a.tokens.get
          const c = yield* member(server.url, prefix)
          const alone = yield* c.tokens.get.pipe(Effect.timeout("20 seconds"))
          return [fromMemory, alone] as const
        }))
        assert.strictEqual(accessToken(fromMemory), "at-shared-1") // from memory, no request
        assert.strictEqual(accessToken(alone), "at-shared-2") // fetched on its own
        assert.strictEqual(yield* requests, 2)
        assert.isTrue(logs.some((line) => line.includes("level=WARN") && line.includes("fetching")))

        yield* server.restart // empty: no persistence
        yield* reconnected(a.store)
        yield* reconnected(b.store)
        const renewed = yield* a.tokens.refresh // saved in Redis again
        assert.strictEqual(yield* requests, 3)
        yield* b.tokens.invalidate()
        const shared = yield* b.tokens.get
        assert.strictEqual(accessToken(shared), accessToken(renewed)) // loaded from Redis
        assert.strictEqual(yield* requests, 3)
      })))
  })
})

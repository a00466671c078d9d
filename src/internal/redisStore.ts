/**
 * The Redis token store: values, TTLs, the lease, the connection and its failures.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type * as TokenStore from "../TokenStore.js"
import type * as RedisStore from "../TokenStore/Redis.js"
import { nestsDeeperThan } from "./json.js"

/** @internal */
export type Options = RedisStore.Options

/** @internal */
export const defaultPrefix = "tokenlayer:"

/** @internal */
export const tokenKey = (key: string, prefix: string = defaultPrefix): string => `${prefix}token:${key}`

/** @internal */
export const lockKey = (key: string, prefix: string = defaultPrefix): string => `${prefix}lock:${key}`

/** The longest pause between two reconnection attempts. */
const maxReconnectDelayMillis = 1_000

/** How often a warning about the connection is logged at most, while it stays down. */
const warnEveryMillis = 60_000

/**
 * The most a token's value may hold: 1 MiB (a token is a few KiB at most). A larger value is `Corrupted`
 * and never crosses the wire: `loadScript` asks its size first, in Redis.
 */
const maxValueBytes = 1024 * 1024

/** The deepest nesting of arrays and objects in a token's value (a token nests 1 deep). */
const maxNesting = 64

/**
 * A token's value, read only if it is a string of at most `ARGV[1]` bytes, in one step (no other
 * command in between): nil when there is none, `[type]` when it is not a string (a hash, a list...),
 * its size (an integer) when it is larger, else the string.
 */
const loadScript = `local kind = redis.call("TYPE", KEYS[1])["ok"]
if kind == "none" then
  return false
end
if kind ~= "string" then
  return { kind }
end
local size = redis.call("STRLEN", KEYS[1])
if size > tonumber(ARGV[1]) then
  return size
end
return redis.call("GET", KEYS[1])`

/**
 * Takes the lease (`SET NX PX`): 1 when taken, 0 when it is someone else's, or why what is there is not a
 * lease at all (a value of another type, or one without expiry, which would never go away by itself).
 */
const acquireScript = `if redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then
  return 1
end
local kind = redis.call("TYPE", KEYS[1])["ok"]
if kind ~= "string" then
  return "holds a " .. kind .. ", not a lease"
end
if redis.call("PTTL", KEYS[1]) == -1 then
  return "holds a value without expiry, not a lease"
end
return 0`

/**
 * Whether the lease is `owner`'s, in Lua: only a string of `owner`'s length is read (a GET of what
 * someone else put there, 200 MB say, would copy it into the script's memory and hold Redis up for as
 * long, half a second for 200 MB; a value of another type would fail the script).
 */
const isOwned = `local function owned(key, owner)
  return redis.call("TYPE", key)["ok"] == "string" and redis.call("STRLEN", key) == #owner and
    redis.call("GET", key) == owner
end
`

/** Deletes the lease only if it is still `owner`'s. */
const releaseScript = `${isOwned}if owned(KEYS[1], ARGV[1]) then
  return redis.call("DEL", KEYS[1])
end
return 0`

/** Extends the lease only if it is still `owner`'s. */
const renewScript = `${isOwned}if owned(KEYS[1], ARGV[1]) then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`

/**
 * Waiting for a lease held by someone else: 10 ms, growing by half each time, at most 250 ms (`union`
 * takes the shorter delay of the two), each delay jittered (80 % to 120 %) so that waiters spread out.
 */
const leaseWait = Schedule.exponential("10 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("250 millis")),
  Schedule.jittered
)

/** The longest duration the store uses: what a Node timer can hold (about 24.8 days). */
const maxMillis = 2_147_483_647

/** Whole milliseconds from `minimum` to `maxMillis` (a negative, infinite or NaN duration is clamped). */
const toMillis = (input: Duration.DurationInput, minimum: number): number => {
  const millis = Math.ceil(Duration.toMillis(Duration.decode(input)))
  return Number.isNaN(millis) ? minimum : Math.min(maxMillis, Math.max(minimum, millis))
}

/** ioredis's message for a command that got no answer within its `commandTimeout`. */
const commandTimedOut = "Command timed out"

/** The password in a Redis URL (as written and decoded) or in the options, to scrub from any message. */
const secretsOf = (url: string | undefined, options: RedisOptions | undefined): ReadonlyArray<string> => {
  const secrets: Array<string> = []
  if (options?.password) secrets.push(options.password)
  if (url !== undefined) {
    try {
      const parsed = new URL(url)
      if (parsed.password !== "") {
        secrets.push(parsed.password, decodeURIComponent(parsed.password))
      }
    } catch {
      // not a URL: ioredis takes it as a socket path, which carries no password
    }
  }
  return secrets.filter((s) => s.length > 0)
}

/**
 * Says what went wrong in a few words: never the error object itself (an ioredis `ReplyError` carries
 * the command's arguments, a token among them), never a URL's credentials, never a known secret.
 */
const describeWith = (secrets: ReadonlyArray<string>) => (error: unknown): string => {
  if (!(error instanceof Error)) return "unexpected error"
  const code = (error as { readonly code?: unknown }).code
  if (error.message === "Stream isn't writeable and enableOfflineQueue options is false") {
    return "not connected to Redis"
  }
  if (error.message === commandTimedOut) return "Redis did not answer in time"
  if (error.message === "Connection is closed.") return "connection to Redis closed"
  let text = (error.message.split("\n")[0] ?? "").replace(/\/\/[^/@\s]*@/g, "//")
  for (const secret of secrets) text = text.split(secret).join("<redacted>")
  if (text.length > 200) text = `${text.slice(0, 200)}...`
  if (text === "" && typeof code === "string") return code
  return text === "" ? error.name : text
}

/** @internal */
export const make = (options: Options): Effect.Effect<TokenStore.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? defaultPrefix
    const leaseMillis = toMillis(options.lease ?? "10 seconds", 1)
    const commandTimeout = Duration.millis(toMillis(options.commandTimeout ?? "2 seconds", 1))
    const commandTimeoutMillis = Duration.toMillis(commandTimeout)
    const ttlWithoutExpiryMillis = toMillis(options.ttlWithoutExpiry ?? "1 hour", 1)
    /** A lease's value: host/pid/random, so that whoever looks at Redis sees which process holds it. */
    const ownerPrefix = `${hostname()}/${process.pid}/`
    const renewEvery = Duration.millis(Math.max(1, Math.floor(leaseMillis / 3)))
    const url = options.url === undefined
      ? undefined
      : Redacted.isRedacted(options.url)
      ? Redacted.value(options.url)
      : options.url
    const describe = describeWith(secretsOf(url, options.redisOptions))
    const runtime = yield* Effect.runtime<never>()
    const clock = yield* Effect.clock
    const log = (effect: Effect.Effect<void>): void => {
      Runtime.runFork(runtime)(Effect.catchAllCause(effect, () => Effect.void))
    }

    // -------------------------------------------------------------------------
    // the connection
    // -------------------------------------------------------------------------

    /**
     * Completes when the first connection attempt of a client we created has an outcome (ready, or
     * failed): until then an operation waits (bounded), so that a program that starts and asks at once
     * does not miss the store just because the connection was still being made. After it, an operation
     * on a disconnected client fails at once (`enableOfflineQueue: false`).
     */
    const firstAttempt = yield* Deferred.make<void>()
    /** Set when the scope closes: the connection closing then is no news. */
    let closing = false

    /** Logs the connection's failures (at most one warning a minute) and recoveries; never throws. */
    const watch = (client: Redis): void => {
      let ready = false
      let down = false
      let lastWarning = Number.NEGATIVE_INFINITY
      let suppressed = 0
      const settle = () => {
        Deferred.unsafeDone(firstAttempt, Exit.void)
      }
      const report = (reason: string) => {
        if (closing) return
        const now = clock.unsafeCurrentTimeMillis()
        if (!down || now - lastWarning >= warnEveryMillis) {
          const repeated = suppressed === 0 ? "" : ` (${suppressed} more connection errors since the last warning)`
          down = true
          suppressed = 0
          lastWarning = now
          log(Effect.logWarning(
            `Redis token store: ${reason}${repeated}; token services fetch on their own until it is back (reconnecting in the background)`
          ))
        } else {
          suppressed++
          log(Effect.logDebug(`Redis token store: ${reason}`))
        }
      }
      client.on("ready", () => {
        settle()
        ready = true
        if (down) {
          down = false
          suppressed = 0
          log(Effect.logInfo("Redis token store: connection restored"))
        }
      })
      client.on("error", (error: unknown) => {
        settle()
        report(describe(error))
      })
      client.on("close", () => {
        settle()
        if (ready && !down) report("connection to Redis lost")
        ready = false
      })
      client.on("end", settle)
    }

    /** The client, or why there is none: options ioredis refused (a malformed URL). */
    type Connection = { readonly client: Redis } | { readonly invalid: string }
    const connection: Connection = options.client !== undefined
      ? { client: options.client }
      : yield* Effect.acquireRelease(
        Effect.sync((): Connection => {
          const redisOptions: RedisOptions = {
            lazyConnect: true,
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            commandTimeout: commandTimeoutMillis,
            connectTimeout: Math.max(5_000, commandTimeoutMillis),
            retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 10), maxReconnectDelayMillis),
            connectionName: "tokenlayer",
            ...options.redisOptions
          }
          let client: Redis
          try {
            client = url === undefined ? new Redis(redisOptions) : new Redis(url, redisOptions)
          } catch (error) {
            // never the error itself: Node's invalid-URL error carries the URL, password included
            return { invalid: `invalid Redis URL or options (${error instanceof Error ? error.name : "unknown"})` }
          }
          watch(client)
          client.connect().catch(() => {
            // reported through the "error" event; ioredis goes on reconnecting in the background
          })
          return { client }
        }),
        (connection) =>
          "client" in connection
            ? Effect.promise(async () => {
              closing = true
              if (connection.client.status === "ready") {
                // bounded by ioredis's commandTimeout
                await connection.client.quit().catch(() => undefined)
              }
              connection.client.disconnect()
            })
            : Effect.void
      )
    if ("invalid" in connection) {
      yield* Effect.logWarning(
        `Redis token store: ${connection.invalid}; every store operation fails, token services fetch on their own`
      )
    }
    const redis: Redis | undefined = "client" in connection ? connection.client : undefined
    const invalidReason = "invalid" in connection ? connection.invalid : ""
    if (options.client !== undefined) yield* Deferred.done(firstAttempt, Exit.void)

    // once the first attempt is over, an operation does not wait for it (a plain check: no fiber, no timer)
    let firstAttemptOver = redis === undefined || options.client !== undefined
    const awaitFirstAttempt = Effect.suspend(() =>
      firstAttemptOver ? Effect.void : Deferred.await(firstAttempt).pipe(
        Effect.timeout(commandTimeout),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => {
          firstAttemptOver = true
        }))
      )
    )

    // -------------------------------------------------------------------------
    // a Redis that stopped answering
    // -------------------------------------------------------------------------

    /**
     * Set when a command timed out, cleared once Redis answers again. While it is set, a command fails at
     * once instead of waiting for its own timeout: otherwise each command of a store visit (a cold `get`
     * loads, locks, loads twice more, saves, and a failed lock sends its release too) waits the whole
     * `commandTimeout` in turn against a Redis that is frozen or overloaded, 12 s with the default 2 s.
     * Whether Redis answers again is asked by a PING in the background, sent again each time it times out:
     * Redis answers the commands of a connection in order, so its answer means that every command sent
     * before it was answered too. Any other outcome also clears it: a reply error is an answer, and a
     * connection that closed fails its commands at once by itself (its next one is a fresh connection).
     */
    let unanswered = false
    /** Whether the PING of `probe` is under way (one at a time). */
    let probing = false
    const storeScope = yield* Effect.scope

    const probe = (client: Redis): Effect.Effect<void> =>
      Effect.tryPromise({ try: () => client.ping(), catch: (error) => error }).pipe(
        Effect.retry({ while: (error) => error instanceof Error && error.message === commandTimedOut }),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => {
          unanswered = false
          probing = false
        }))
      )

    const markUnanswered = (client: Redis): Effect.Effect<void> =>
      Effect.suspend(() => {
        unanswered = true
        if (probing) return Effect.void
        probing = true
        return Effect.asVoid(Effect.forkIn(probe(client), storeScope))
      })

    const unansweredReason = "Redis has not answered since a command timed out (not waiting for it again until it does)"

    /**
     * A client with a `commandTimeout` (ours always has one) fails a command that takes longer itself:
     * no fiber and no timer of ours per call. Without one (a client passed in may have none), calls are
     * bounded here, on the Clock, by the store's `commandTimeout`.
     */
    const clientTimesOut = redis !== undefined && typeof redis.options.commandTimeout === "number" &&
      redis.options.commandTimeout > 0
    /** What a call bounded here fails with when the Clock ran out: one object, told apart by identity. */
    const clockTimeout = { timedOut: true } as const
    const timeoutReason = `Redis did not answer within ${Duration.format(commandTimeout)}`

    /**
     * One Redis call: waits for the first connection attempt (bounded), bounded by the command timeout;
     * errors mapped. While Redis has not answered since a command timed out, it fails at once: without
     * sending the command, or (`whileUnanswered: "send"`, for a release, which must reach Redis if it
     * ever answers again, after the `SET` it undoes) sending it without waiting for its answer.
     */
    const call = <A>(
      key: string,
      operation: TokenError.StoreError["operation"],
      f: (redis: Redis) => Promise<A>,
      whileUnanswered: "fail" | "send" = "fail"
    ): Effect.Effect<A, TokenError.StoreError> =>
      Effect.zipRight(
        awaitFirstAttempt,
        Effect.suspend(() => {
          const failWith = (reason: string) => Effect.fail(new TokenError.StoreError({ key, operation, reason }))
          if (redis === undefined) return failWith(invalidReason)
          if (unanswered) {
            if (whileUnanswered === "fail") return failWith(unansweredReason)
            f(redis).catch(() => undefined)
            return failWith(`${unansweredReason}; sent without waiting for its answer`)
          }
          const sent = Effect.tryPromise({ try: () => f(redis), catch: (error): unknown => error })
          const answered = clientTimesOut
            ? sent
            : Effect.timeoutFail(sent, { duration: commandTimeout, onTimeout: (): unknown => clockTimeout })
          return Effect.catchAll(answered, (error) => {
            if (error === clockTimeout) return Effect.zipRight(markUnanswered(redis), failWith(timeoutReason))
            const failure = failWith(describe(error))
            return error instanceof Error && error.message === commandTimedOut
              ? Effect.zipRight(markUnanswered(redis), failure)
              : failure
          })
        })
      )

    // -------------------------------------------------------------------------
    // tokens
    // -------------------------------------------------------------------------

    const load = (
      key: string
    ): Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Corrupted | TokenError.StoreError> => {
      const where = tokenKey(key, prefix)
      const corrupted = (reason: string) => Effect.fail(new TokenError.Corrupted({ key, path: where, reason }))
      return Effect.flatMap(
        call(key, "load", (r) => r.eval(loadScript, 1, where, maxValueBytes)),
        (reply): Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Corrupted | TokenError.StoreError> => {
          if (reply === null) return Effect.fail(new TokenError.NotCached({ key }))
          if (typeof reply === "number") {
            return corrupted(`${reply} bytes, larger than a token can be (${maxValueBytes / 1024 / 1024} MiB)`)
          }
          if (Array.isArray(reply)) return corrupted(`holds a ${String(reply[0]).slice(0, 32)}, not a string`)
          if (typeof reply !== "string") {
            return Effect.fail(
              new TokenError.StoreError({ key, operation: "load", reason: "unexpected reply from Redis" })
            )
          }
          if (nestsDeeperThan(reply, maxNesting)) {
            return corrupted(`nested deeper than a token can be (${maxNesting} levels)`)
          }
          return Effect.mapError(
            Token.fromJson(reply),
            (error) => new TokenError.Corrupted({ key, path: where, reason: Token.describeParseError(error) })
          )
        }
      )
    }

    const save = (key: string, token: Token.Token): Effect.Effect<void, TokenError.StoreError> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const where = tokenKey(key, prefix)
        const ttl = token.expiresAt === undefined
          ? ttlWithoutExpiryMillis
          : Math.ceil(token.expiresAt.epochMillis - now)
        // a token that has expired is of no use to anyone: it replaces what was stored by nothing
        if (ttl <= 0) return Effect.asVoid(call(key, "save", (r) => r.del(where)))
        const json = Token.toJson(token)
        // what the store would not load back (it would be `Corrupted`) is not stored
        if (Buffer.byteLength(json, "utf8") > maxValueBytes) {
          return Effect.fail(
            new TokenError.StoreError({
              key,
              operation: "save",
              reason: "the token is larger than the store keeps (1 MiB)"
            })
          )
        }
        return Effect.asVoid(call(key, "save", (r) => r.set(where, json, "PX", ttl)))
      })

    const remove = (key: string): Effect.Effect<void, TokenError.StoreError> =>
      Effect.asVoid(call(key, "remove", (r) => r.del(tokenKey(key, prefix))))

    // -------------------------------------------------------------------------
    // the lease
    // -------------------------------------------------------------------------

    /**
     * Takes the lease (`SET NX PX`), polling with backoff while someone else holds it. What is not a
     * lease (a value of another type, or without expiry: it would never go away by itself) fails at once,
     * rather than keeping every waiter waiting until it gives up.
     */
    const acquireLease = (key: string, lease: string, owner: string): Effect.Effect<void, TokenError.StoreError> =>
      call(key, "lock", (r) => r.eval(acquireScript, 1, lease, owner, leaseMillis)).pipe(
        Effect.flatMap((reply) =>
          typeof reply === "string"
            ? Effect.fail(new TokenError.StoreError({ key, operation: "lock", reason: `${lease} ${reply}` }))
            : Effect.succeed(reply === 1)
        ),
        Effect.repeat({ schedule: leaseWait, until: (taken) => taken }),
        Effect.asVoid
      )

    /** Deletes the lease if it is still ours; says whether it was. Sent even to a Redis that stopped answering. */
    const releaseLease = (key: string, lease: string, owner: string): Effect.Effect<boolean, TokenError.StoreError> =>
      Effect.map(call(key, "lock", (r) => r.eval(releaseScript, 1, lease, owner), "send"), (n) => n === 1)

    /** Extends the lease every lease/3 while `effect` runs; stops when the lease is no longer ours. */
    const renewLease = (key: string, lease: string, owner: string): Effect.Effect<void> =>
      Effect.sleep(renewEvery).pipe(
        Effect.zipRight(call(key, "lock", (r) => r.eval(renewScript, 1, lease, owner, leaseMillis))),
        Effect.map((n) => n === 1),
        Effect.catchAll((error) =>
          // Redis unreachable: the lease may still be ours; it expires by itself if we never get through
          Effect.as(Effect.logDebug(`Redis token store: could not renew the lease (${error.reason})`), true)
        ),
        Effect.repeat({ until: (held) => !held }),
        Effect.zipRight(
          Effect.logWarning(
            "Redis token store: the lease expired while its holder was still working (another process may fetch too)"
          )
        ),
        Effect.annotateLogs({ "tokenlayer.key": key })
      )

    /** Takes the lease, renewed while held, released (if still ours) when the scope closes. */
    const lock = (key: string): Effect.Effect<void, TokenError.StoreError, Scope.Scope> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const lease = lockKey(key, prefix)
          const owner = `${ownerPrefix}${randomUUID()}`
          // not taken (failed, interrupted): a SET that was sent may still have taken it, so delete it if ours
          yield* restore(acquireLease(key, lease, owner)).pipe(
            Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.ignore(releaseLease(key, lease, owner)))
          )
          yield* Effect.addFinalizer(() =>
            releaseLease(key, lease, owner).pipe(
              Effect.flatMap((released) =>
                released ? Effect.void : Effect.logDebug("Redis token store: the lease had expired before its release")
              ),
              Effect.catchAll((error) =>
                Effect.logWarning(
                  `Redis token store: could not release the lease (${error.reason}); it expires within ${
                    Duration.format(Duration.millis(leaseMillis))
                  }`
                )
              ),
              Effect.annotateLogs({ "tokenlayer.key": key })
            )
          )
          // interrupted (before the release above) when the scope closes
          yield* Effect.forkScoped(Effect.interruptible(renewLease(key, lease, owner)))
        })
      )

    return { load, save, remove, lock }
  })

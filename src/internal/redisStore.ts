/**
 * The Redis token store: values, TTLs, the lease (the connection and its failures: `redisConnection.ts`).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type * as TokenStore from "../TokenStore.js"
import type * as RedisStore from "../TokenStore/Redis.js"
import { nestsDeeperThan } from "./json.js"
import * as Connection from "./redisConnection.js"
import { toMillis } from "./redisConnection.js"

/** @internal */
export type Options = RedisStore.Options

/** @internal */
export const defaultPrefix = "tokenlayer:"

/** @internal */
export const tokenKey = (key: string, prefix: string = defaultPrefix): string => `${prefix}token:${key}`

/** @internal */
export const lockKey = (key: string, prefix: string = defaultPrefix): string => `${prefix}lock:${key}`

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

/** @internal */
export const make = (options: Options): Effect.Effect<TokenStore.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? defaultPrefix
    const leaseMillis = toMillis(options.lease ?? "10 seconds", 1)
    const commandTimeout = Duration.millis(toMillis(options.commandTimeout ?? "2 seconds", 1))
    const ttlWithoutExpiryMillis = toMillis(options.ttlWithoutExpiry ?? "1 hour", 1)
    /** A lease's value: host/pid/random, so that whoever looks at Redis sees which process holds it. */
    const ownerPrefix = `${hostname()}/${process.pid}/`
    const renewEvery = Duration.millis(Math.max(1, Math.floor(leaseMillis / 3)))
    const call = yield* Connection.make(options, commandTimeout)

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

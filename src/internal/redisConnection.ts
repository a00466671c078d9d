/**
 * The Redis store's connection: the client (made, watched and closed, or the user's own), and `call`,
 * one Redis command bounded by the command timeout, its errors told in a few words that never carry a
 * URL's password nor a token, and failing at once while Redis has not answered since a command timed
 * out.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import { Redis } from "ioredis"
import * as TokenError from "../TokenError.js"
import type * as RedisStore from "../TokenStore/Redis.js"

/** The longest pause between two reconnection attempts. */
const maxReconnectDelayMillis = 1_000

/** How often a warning about the connection is logged at most, while it stays down. */
const warnEveryMillis = 60_000

/** The longest duration the store uses: what a Node timer can hold (about 24.8 days). */
const maxMillis = 2_147_483_647

/** Whole milliseconds from `minimum` to `maxMillis` (a negative, infinite or NaN duration is clamped). */
export const toMillis = (input: Duration.DurationInput, minimum: number): number => {
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

/**
 * One Redis call: waits for the first connection attempt (bounded), bounded by the command timeout;
 * errors mapped. While Redis has not answered since a command timed out, it fails at once: without
 * sending the command, or (`whileUnanswered: "send"`, for a release, which must reach Redis if it ever
 * answers again, after the `SET` it undoes) sending it without waiting for its answer.
 *
 * @internal
 */
export type Call = <A>(
  key: string,
  operation: TokenError.StoreError["operation"],
  f: (redis: Redis) => Promise<A>,
  whileUnanswered?: "fail" | "send"
) => Effect.Effect<A, TokenError.StoreError>

/** @internal */
export const make = (
  options: RedisStore.Options,
  commandTimeout: Duration.Duration
): Effect.Effect<Call, never, Scope.Scope> =>
  Effect.gen(function*() {
    const commandTimeoutMillis = Duration.toMillis(commandTimeout)
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

    return call
  })

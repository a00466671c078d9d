/**
 * The token cache: single flight over Grant + RefreshPolicy + RetryPolicy + TokenStore.
 *
 * State lives in one `Ref`, mirrored in a variable for synchronous reads. A hit is a read of the mirror
 * and of the Clock, and returns an `Exit` made once per token: no lock, no allocation. Everything else
 * (missing, due, expired, forced) goes through a *flight*: one fiber, forked into the layer's scope, that
 * loads from the store, takes the store's lock, asks the grant (retried), saves, and completes the
 * deferreds that every caller waiting for a token awaits. A caller that is interrupted stops waiting;
 * the flight goes on for the others.
 *
 * A token fresh from the endpoint is used for at least `minTokenLifetime` (1 s by default), whatever
 * the server says, and the next token request waits until that long after the last one (an API
 * rejecting every token, a server answering `expires_in: 0`): the endpoint is asked at most once a
 * second, never in a loop.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { identity } from "effect/Function"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { SingleShotGen, YieldWrap } from "effect/Utils"
import * as Grant from "../Grant.js"
import * as RefreshPolicy from "../RefreshPolicy.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type { Options, Service } from "../TokenService.js"
import * as TokenStore from "../TokenStore.js"

/** A cached token with its due and expiry instants, in epoch milliseconds. */
interface Entry {
  readonly token: Token.Token
  readonly dueAt: number
  readonly expiresAt: number
  /** `Exit.succeed(token)`, made once: what a hit returns, without allocating. */
  readonly exit: Exit.Exit<Token.Token>
}

interface Flight {
  /** Started by `refresh`: skips the store. */
  readonly forced: boolean
  /** The flight's own outcome: what `refresh` waits for. */
  readonly outcome: Deferred.Deferred<Token.Token, TokenError.HttpError>
  /** What a `get` waiting on it gets: the new token, or if the flight failed the current token while it is valid. */
  readonly forGet: Deferred.Deferred<Token.Token, TokenError.HttpError>
  /** `Deferred.await` of each, made once and shared by every waiter. */
  readonly awaitOutcome: Effect.Effect<Token.Token, TokenError.HttpError>
  readonly awaitForGet: Effect.Effect<Token.Token, TokenError.HttpError>
}

interface State {
  readonly entry: Entry | undefined
  readonly flight: Flight | undefined
  /**
   * Not 0 when a renewal of the current (still valid) token failed: the token stays in use, and is
   * renewed in the background, not before this instant.
   */
  readonly holdUntil: number
  /** The access tokens invalidated lately, newest first: never loaded back from the store. */
  readonly rejected: ReadonlyArray<Redacted.Redacted<string>>
  /**
   * The newest token obtained, kept when it is invalidated or expires: what the grant gets as `current`
   * (its refresh token stays good when its access token was rejected).
   */
  readonly basis: Token.Token | undefined
}

const initialState: State = { entry: undefined, flight: undefined, holdUntil: 0, rejected: [], basis: undefined }

/** How many invalidated tokens are remembered. */
const rememberRejected = 8

const isRejected = (s: State, token: Token.Token): boolean =>
  s.rejected.some((r) => Redacted.value(r) === Redacted.value(token.accessToken))

/**
 * Token requests by outcome: `success`, `status`, `transport`, `timeout`, `decode`.
 *
 * @internal
 */
export const tokenRequests = Metric.counter("tokenlayer_token_requests", {
  description: "token endpoint requests (each attempt), by outcome",
  incremental: true
})

/** @internal */
export const tokenRequestSpan = "tokenlayer.token_request"

const countRequest = (outcome: string) => Metric.increment(Metric.tagged(tokenRequests, "outcome", outcome))

const seconds = (millis: number): string => `${Math.round(millis / 1000)}s`

/** What kind of defect it was, without its message (which could quote anything). */
const describeDefect = (defect: unknown): string => defect instanceof Error ? defect.name : typeof defect

/**
 * The store as one flight sees it. Once a load or a save has failed slowly in a flight (no answer
 * within `storeTimeout`, or a failure that took a second or more), or died, the flight asks the store
 * nothing more (no lock, no other load, no save): a store that does not answer costs a renewal one
 * wait, not one per operation. A store that refuses at once stays in use (a planted token file is
 * refused, and the save replaces it), and a lock that fails never counts (a broken lock file beside a
 * good token file).
 */
interface Visit {
  down: boolean
}

/** A store operation that took this long to fail means a store that does not answer. */
const slowStoreMillis = 1_000

/** What `get` does in a state: answer with an effect, or start a flight and wait, or start one in the background. */
type Decision = Effect.Effect<Token.Token, TokenError.HttpError> | "start" | "background"

/** @internal */
export const make = (
  options: Options = {}
): Effect.Effect<
  Service,
  never,
  Scope.Scope | Grant.Grant
> =>
  Effect.gen(function*() {
    const grant = yield* Grant.Grant
    const policy = yield* RefreshPolicy.RefreshPolicy
    const retry = yield* RetryPolicy.RetryPolicy
    // no store provided: a memory store of this service's own
    const store = yield* Effect.flatMap(
      Effect.serviceOption(TokenStore.TokenStore),
      Option.match({ onNone: () => TokenStore.makeMemory, onSome: Effect.succeed })
    )
    const scope = yield* Effect.scope
    const key = grant.key
    const holdMillis = Duration.toMillis(Duration.decode(options.retryFailedRefreshAfter ?? "10 seconds"))
    const minLifetimeMillis = Duration.toMillis(Duration.decode(options.minTokenLifetime ?? "1 second"))
    const refreshAhead = options.refreshAhead ?? false
    const storeTimeout = Duration.decode(options.storeTimeout ?? "5 seconds")
    const storeTimeoutMillis = Duration.toMillis(storeTimeout)
    const lockTimeout = Duration.decode(options.lockTimeout ?? "30 seconds")
    const annotate = Effect.annotateLogs({ "tokenlayer.key": key })
    // the bound on the answers of the token endpoint, as set where the service is built (a flight runs
    // in the context of whichever caller started it)
    const maxResponseSize = yield* Grant.MaxResponseSize

    // Every change goes through `modify`, which keeps `mirror` equal to the Ref's value, so that `get` can
    // read the state synchronously (JavaScript runs one fiber at a time: a synchronous read is atomic).
    const state = yield* Ref.make(initialState)
    let mirror: State = initialState
    const modify = <A>(f: (s: State) => readonly [A, State]): Effect.Effect<A> =>
      Ref.modify(state, (s) => {
        const [a, next] = f(s)
        mirror = next
        return [a, next]
      })

    // Time is the Clock of the context the service is built in (a TestClock in tests): read synchronously
    // by `get`, and given to every flight.
    const clock = yield* Effect.clock
    const currentTime = Effect.sync(() => clock.unsafeCurrentTimeMillis())
    /**
     * When the last token request ended, with a token or a failure: token requests are at least
     * `minTokenLifetime` apart.
     */
    let lastRequestAt = Number.NEGATIVE_INFINITY

    // -------------------------------------------------------------------------
    // token requests: each attempt with its timeout, a span and a count; retried
    // -------------------------------------------------------------------------

    // the retries of one request are `minTokenLifetime` apart too, whatever the schedule says: a token
    // endpoint in trouble is asked at most once a second by this service
    const retrySchedule = Schedule.modifyDelay(
      retry.schedule,
      (_, delay) => Duration.max(delay, Duration.millis(minLifetimeMillis))
    )

    /** A token the grant returned that could not be sent in a header is a failed request: never cached. */
    const checked = (token: Token.Token): Effect.Effect<Token.Token, TokenError.HttpError> => {
      const problem = Token.headerProblem(token)
      return problem === undefined
        ? Effect.succeed(token)
        : Effect.fail(
          new TokenError.HttpError({ reason: "Decode", detail: `the grant returned an unusable token: ${problem}` })
        )
    }

    const requestToken = (current: Option.Option<Token.Token>): Effect.Effect<Token.Token, TokenError.HttpError> =>
      Effect.retry(
        grant.request(current).pipe(
          Effect.flatMap(checked),
          // a grant that waits for a person (the device flow) bounds its own HTTP exchanges
          grant.interactive === true ? identity : RetryPolicy.withAttemptTimeout(retry),
          Effect.tapBoth({
            onSuccess: () => countRequest("success"),
            onFailure: (error) => countRequest(error.reason.toLowerCase())
          }),
          Effect.withSpan(tokenRequestSpan, { attributes: { "tokenlayer.key": key }, kind: "client" })
        ),
        retrySchedule
      )

    /**
     * A cache entry for a token. A token fresh from the endpoint is due and expires no sooner than
     * `minTokenLifetime` from now.
     */
    const toEntry = (token: Token.Token, fresh: boolean): Effect.Effect<Entry> =>
      Effect.map(policy.schedule(token), (s) => {
        const floor = fresh ? clock.unsafeCurrentTimeMillis() + minLifetimeMillis : 0
        return {
          token,
          dueAt: Math.max(s.dueAt, floor),
          expiresAt: Math.max(s.expiresAt, floor),
          exit: Exit.succeed(token)
        }
      })

    // -------------------------------------------------------------------------
    // the store: never fails the service
    // -------------------------------------------------------------------------

    /** A store that dies (a bug in it) is treated like one that fails: logged, and worked around. */
    const survive = <A>(operation: string, fallback: A, visit: Visit) => (effect: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.catchAllDefect(
        effect,
        (defect) =>
          Effect.as(
            Effect.logWarning(
              `token store ${operation} failed unexpectedly (${describeDefect(defect)}); going on without it`
            ).pipe(Effect.ensuring(Effect.sync(() => {
              visit.down = true
            }))),
            fallback
          )
      )

    /** A visit of its own, for an operation outside a flight (`current`, `invalidate`). */
    const newVisit = (): Visit => ({ down: false })

    /**
     * A store that does not answer within `storeTimeout` fails; so, for the rest of the visit, does a
     * store that took a second or more to fail (a store with timeouts of its own, Redis's command
     * timeout). A store that refuses at once (a planted token file, a broken lock) is still asked to
     * save: the save replaces what it refused.
     */
    const bounded = <A, E>(
      visit: Visit,
      operation: TokenError.StoreError["operation"],
      effect: Effect.Effect<A, E>
    ): Effect.Effect<A, E | TokenError.StoreError> =>
      Effect.suspend(() => {
        const started = clock.unsafeCurrentTimeMillis()
        return Effect.timeoutFail(effect, {
          duration: storeTimeout,
          onTimeout: () => {
            visit.down = true
            return new TokenError.StoreError({
              key,
              operation,
              reason: `no answer within ${Duration.format(storeTimeout)}`
            })
          }
        }).pipe(Effect.tapError((error) =>
          Effect.sync(() => {
            // a slow failure, not a slow answer: a NotCached or Corrupted that took long is an answer
            const slow = clock.unsafeCurrentTimeMillis() - started >= Math.min(slowStoreMillis, storeTimeoutMillis)
            if (slow && (error as { readonly _tag?: unknown })._tag === "StoreError") visit.down = true
          })
        ))
      })

    const loadStored = (visit: Visit): Effect.Effect<Option.Option<Token.Token>> =>
      visit.down ? Effect.succeedNone : bounded(visit, "load", store.load(key)).pipe(
        Effect.map(Option.some),
        Effect.catchTags({
          NotCached: () => Effect.succeedNone,
          Corrupted: (error) =>
            Effect.as(Effect.logWarning(`${error.message}; fetching a new token to overwrite it`), Option.none()),
          StoreError: (error) => Effect.as(Effect.logWarning(`${error.message}; fetching on our own`), Option.none())
        }),
        survive("load", Option.none(), visit)
      )

    /**
     * A stored token that is not due, was not invalidated, and is not the token we hold already (which
     * we found due: drawing its jitter again would only put off its renewal).
     */
    const loadFresh = (visit: Visit): Effect.Effect<Option.Option<Entry>> =>
      Effect.gen(function*() {
        const stored = yield* loadStored(visit)
        if (Option.isNone(stored)) return Option.none()
        const s = yield* Ref.get(state)
        if (isRejected(s, stored.value)) return Option.none()
        if (s.entry !== undefined && Token.sameAccessToken(s.entry.token, stored.value)) return Option.none()
        const entry = yield* toEntry(stored.value, false)
        const now = yield* currentTime
        return now < entry.dueAt ? Option.some(entry) : Option.none()
      })

    const save = (visit: Visit, token: Token.Token): Effect.Effect<void> =>
      visit.down
        ? Effect.logDebug("the token store failed during this renewal: the token is kept in memory only")
        : bounded(visit, "save", store.save(key, token)).pipe(
          Effect.catchAll((error) => Effect.logWarning(`${error.message}; the token is kept in memory only`)),
          survive<void>("save", undefined, visit)
        )

    /** Removes the stored token if it is still `token` (another process may have stored a newer one). */
    const removeStored = (token: Token.Token): Effect.Effect<void> => {
      const visit = newVisit()
      return Effect.flatMap(loadStored(visit), (stored) =>
        Option.isSome(stored) && Token.sameAccessToken(stored.value, token)
          ? bounded(visit, "remove", store.remove(key)).pipe(
            Effect.catchAll((error) =>
              Effect.logWarning(error.message)
            ),
            survive<void>("remove", undefined, visit)
          )
          : Effect.void)
    }

    // -------------------------------------------------------------------------
    // flights
    // -------------------------------------------------------------------------

    /**
     * What the grant is given as the current token: the newest of the cached one (else the newest this
     * service had, invalidated or expired) and whatever the store holds, due or not (a token saved by
     * another process, or by an earlier run).
     */
    const currentBasis = (visit: Visit): Effect.Effect<Option.Option<Token.Token>> =>
      Effect.flatMap(Ref.get(state), (s) => {
        const known = s.entry?.token ?? s.basis
        // read under the lock: another process may have renewed since (its token due by now too), and a
        // rotated refresh token must never be sent again (a server that detects reuse revokes the login)
        return Effect.map(loadStored(visit), (stored) =>
          Option.isSome(stored) &&
            (known === undefined || stored.value.issuedAt.epochMillis > known.issuedAt.epochMillis)
            ? stored
            : Option.fromNullable(known))
      })

    /** Obtains a token: from the store if someone else just got one, else from the grant, under the lock. */
    const acquire = (forced: boolean): Effect.Effect<Entry, TokenError.HttpError> => {
      const visit = newVisit()
      const fetchAndSave = Effect.gen(function*() {
        if (!forced) {
          const fresh = yield* loadFresh(visit)
          if (Option.isSome(fresh)) return fresh.value
        }
        // a token invalidated (an API's 401) or refreshed right after it was fetched, or asked for again right
        // after a request failed (a refused client under a busy caller): the next request waits for
        // `minTokenLifetime` since the last ended, so that nothing can make the service ask in a loop; the
        // callers that come meanwhile join this flight
        const wait = lastRequestAt + minLifetimeMillis - clock.unsafeCurrentTimeMillis()
        if (wait > 0) {
          yield* Effect.logDebug(
            `a token request ended ${seconds(minLifetimeMillis - wait)} ago: waiting before the next`
          )
          yield* Effect.sleep(Duration.millis(wait))
        }
        const token = yield* Effect.flatMap(currentBasis(visit), requestToken).pipe(
          Effect.ensuring(Effect.sync(() => {
            lastRequestAt = clock.unsafeCurrentTimeMillis()
          }))
        )
        yield* save(visit, token)
        return yield* toEntry(token, true)
      })
      return Effect.gen(function*() {
        if (!forced) {
          const fresh = yield* loadFresh(visit)
          if (Option.isSome(fresh)) return fresh.value
        }
        return yield* visit.down ? fetchAndSave : underLock(fetchAndSave)
      })
    }

    /**
     * Runs `effect` under the store's lock. A lock that cannot be taken (it fails, dies, or is not
     * acquired within `lockTimeout`) is logged, and `effect` runs without it: the store never fails `get`.
     * Once `effect` has ended, its result is not lost to the store: a lock that is not given back within
     * `storeTimeout` (a release that hangs) is left behind, and one that fails after `effect` ran does
     * not make it run again (a second token request would trade a refresh token the first one spent).
     */
    const underLock = (
      effect: Effect.Effect<Entry, TokenError.HttpError>
    ): Effect.Effect<Entry, TokenError.HttpError> =>
      Effect.suspend(() => {
        let entered = false
        /** The exit of `effect`, once it has ended under the lock (the store may still be releasing it). */
        const ended = Deferred.unsafeMake<Exit.Exit<Entry, TokenError.HttpError>>(FiberId.none)
        const locked = store.withLock(
          key,
          Effect.suspend(() => {
            entered = true
            return Effect.onExit(effect, (exit) => Deferred.succeed(ended, exit))
          })
        )
        const notAcquired = Effect.sleep(lockTimeout).pipe(
          Effect.zipRight(Effect.suspend(() =>
            entered ? Effect.never : Effect.fail(
              new TokenError.StoreError({
                key,
                operation: "lock",
                reason: `not acquired within ${Duration.format(lockTimeout)}`
              })
            )
          ))
        )
        const notReleased = Deferred.await(ended).pipe(
          Effect.delay(storeTimeout),
          Effect.tap(() =>
            Effect.logWarning(
              `token store lock not released within ${Duration.format(storeTimeout)}; going on without waiting for it`
            )
          ),
          Effect.flatten
        )
        const withoutLock = (reason: string) =>
          Effect.zipRight(Effect.logWarning(`${reason}; fetching without the store's lock`), effect)
        const afterEffect = (reason: string) =>
          Effect.flatMap(Deferred.poll(ended), (exit) =>
            Option.isSome(exit)
              ? Effect.zipRight(
                Effect.logWarning(`${reason} (after the token request, whose result is kept)`),
                Effect.flatten(exit.value)
              )
              : withoutLock(reason))
        return Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            // the lock in a fiber of its own, not a child of this one (a fiber waits for its children),
            // so that a release that hangs can be left behind; every other way out waits for it below
            // (it ends with the lock's exit as its value: its failures are this fiber's to report)
            const holder = yield* Effect.forkDaemon(Effect.exit(restore(locked)))
            const exit = yield* Effect.exit(restore(Effect.raceFirst(
              Effect.flatten(Fiber.join(holder)),
              Effect.raceFirst(notAcquired, notReleased)
            )))
            if (holder.unsafePoll() === null) {
              // not released: leave it; not acquired, or interrupted: wait until the store let go
              yield* Deferred.isDone(ended).pipe(
                Effect.flatMap((done) => done ? Fiber.interruptFork(holder) : Fiber.interrupt(holder))
              )
            }
            return yield* exit
          })
        ).pipe(
          Effect.catchAllCause((cause) => {
            if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
            const failure = Cause.failureOption(cause)
            if (Option.isSome(failure)) {
              const error = failure.value
              if (error._tag === "HttpError") return Effect.fail(error)
              return afterEffect(error.message)
            }
            if (entered) return Effect.failCause(cause as Cause.Cause<never>)
            return withoutLock(`token store lock failed unexpectedly (${describeDefect(Cause.squash(cause))})`)
          })
        )
      })

    /**
     * Ends a flight: the state, then its waiters, then the logs (so that nothing can leave a waiter
     * waiting). When a renewal fails, the current token stays in use while it is valid: the `get`s that
     * waited get it, and later ones too, until the next attempt (`holdUntil`).
     */
    const complete = (flight: Flight, exit: Exit.Exit<Entry, TokenError.HttpError>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = clock.unsafeCurrentTimeMillis()
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        const retryAfter = Option.match(error, {
          onNone: () => 0,
          onSome: (e) => e.retryAfter === undefined ? 0 : Duration.toMillis(e.retryAfter)
        })
        const interrupted = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
        const [held, nextAttempt] = yield* modify((s): [readonly [Entry | undefined, number], State] => {
          if (Exit.isSuccess(exit)) {
            return [[undefined, 0], {
              ...s,
              entry: exit.value,
              flight: undefined,
              holdUntil: 0,
              basis: exit.value.token
            }]
          }
          const entry = s.entry
          if (interrupted || entry === undefined || now >= entry.expiresAt) {
            return [[undefined, 0], { ...s, flight: undefined, holdUntil: 0 }]
          }
          if (now < entry.dueAt) {
            // a failed `refresh` of a token that is not due: it stays, and nothing else changes
            return [[entry, 0], { ...s, flight: undefined }]
          }
          // a failed renewal: keep the valid token; try again after the hold (or the server's
          // Retry-After), but no later than half-way through what is left of its life
          const holdUntil = Math.min(now + Math.max(holdMillis, retryAfter), now + (entry.expiresAt - now) / 2)
          return [[entry, holdUntil], { ...s, flight: undefined, holdUntil }]
        })
        const outcome = Exit.map(exit, (entry) => entry.token)
        yield* Deferred.done(flight.outcome, outcome)
        yield* Deferred.done(flight.forGet, held === undefined ? outcome : held.exit)

        if (Exit.isSuccess(exit)) {
          const entry = exit.value
          yield* Effect.logDebug("new token").pipe(
            Effect.annotateLogs({
              "tokenlayer.lifetime": seconds(entry.expiresAt - entry.token.issuedAt.epochMillis),
              "tokenlayer.dueIn": seconds(entry.dueAt - now),
              "tokenlayer.expiresAt": DateTime.unsafeMake(entry.expiresAt).toJSON()
            })
          )
        } else if (held !== undefined && nextAttempt !== 0 && Exit.isFailure(exit)) {
          const reason = Option.isSome(error)
            ? error.value.message
            : `unexpected error (${describeDefect(Cause.squash(exit.cause))})`
          yield* Effect.logWarning(
            `token renewal failed: ${reason}; the current token stays in use until it expires`
          ).pipe(
            Effect.annotateLogs({
              "tokenlayer.expiresIn": seconds(held.expiresAt - now),
              "tokenlayer.nextAttemptIn": seconds(nextAttempt - now)
            })
          )
        }
      }).pipe(Effect.catchAllCause(() => Effect.void), annotate)

    const newFlight = (forced: boolean): Flight => {
      const outcome = Deferred.unsafeMake<Token.Token, TokenError.HttpError>(FiberId.none)
      const forGet = Deferred.unsafeMake<Token.Token, TokenError.HttpError>(FiberId.none)
      return { forced, outcome, forGet, awaitOutcome: Deferred.await(outcome), awaitForGet: Deferred.await(forGet) }
    }

    /**
     * Runs a flight in a fiber of the layer's scope, on the service's Clock. Called uninterruptibly, right
     * after the flight is registered, so a registered flight always runs and completes.
     */
    const launch = (flight: Flight): Effect.Effect<void> =>
      acquire(flight.forced).pipe(
        Effect.interruptible,
        Effect.onExit((exit) => complete(flight, exit)),
        // its outcome went to the waiters: the fiber itself ends quietly (Effect would otherwise log an
        // unobserved failure at debug level, with whatever a broken grant put in it)
        Effect.exit,
        annotate,
        Effect.withClock(clock),
        Effect.provideService(Grant.MaxResponseSize, maxResponseSize),
        Effect.forkIn(scope),
        Effect.asVoid
      )

    /**
     * Registers a flight and forks it with no interruption point between the two. `decide` sees the state
     * as it is at that moment: it may answer at once (a racing fiber got there first).
     */
    const startFlight = (
      forced: boolean,
      decide: (s: State) => Decision
    ): Effect.Effect<Token.Token, TokenError.HttpError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatten(modify((s): [Effect.Effect<Token.Token, TokenError.HttpError>, State] => {
          const decision = decide(s)
          if (typeof decision !== "string") return [restore(decision), s]
          const flight = newFlight(forced)
          const answer = decision === "background" && s.entry !== undefined
            ? s.entry.exit
            : restore(forced ? flight.awaitOutcome : flight.awaitForGet)
          return [Effect.zipRight(launch(flight), answer), { ...s, flight }]
        }))
      )

    // -------------------------------------------------------------------------
    // the service
    // -------------------------------------------------------------------------

    /** What a `get` does in state `s` at `now`. */
    const decideGet = (s: State, now: number): Decision => {
      const entry = s.entry
      if (entry !== undefined && now < entry.dueAt) return entry.exit
      if (entry !== undefined && now < entry.expiresAt && (refreshAhead || s.holdUntil !== 0)) {
        // due but valid: serve it; renew it in the background (after the hold, if a renewal failed)
        return s.flight === undefined && now >= s.holdUntil ? "background" : entry.exit
      }
      if (s.flight !== undefined) return s.flight.awaitForGet
      return "start"
    }

    const startForGet = startFlight(false, (s) => decideGet(s, clock.unsafeCurrentTimeMillis()))

    /** A hit is the cached token's `Exit`; a waiter awaits the flight under way; else a flight starts. */
    const step = (): Effect.Effect<Token.Token, TokenError.HttpError> => {
      const decision = decideGet(mirror, clock.unsafeCurrentTimeMillis())
      return typeof decision === "string" ? startForGet : decision
    }

    // One step for a hit. In `Effect.gen`, `yield* get` yields the cached `Exit` itself, which the runtime
    // takes without entering its run loop (as it does for `Effect.succeed`).
    const get: Effect.Effect<Token.Token, TokenError.HttpError> = Effect.suspend(step)
    Object.defineProperty(get, Symbol.iterator, {
      value: () => new SingleShotGen(new YieldWrap(step()))
    })

    // joins a flight under way: it was started because the token was missing, due or invalidated, so it
    // brings a token newer than the one held when it started
    const refresh: Effect.Effect<Token.Token, TokenError.HttpError> = startFlight(
      true,
      (s) => s.flight === undefined ? "start" : s.flight.awaitOutcome
    )

    const current: Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired> = Effect.gen(function*() {
      const s = yield* Ref.get(state)
      let entry = s.entry
      if (entry === undefined) {
        const stored = yield* loadStored(newVisit())
        if (Option.isNone(stored) || isRejected(s, stored.value)) {
          return yield* Effect.fail(new TokenError.NotCached({ key }))
        }
        entry = yield* toEntry(stored.value, false)
      }
      const now = yield* currentTime
      if (now >= entry.expiresAt) {
        return yield* Effect.fail(new TokenError.Expired({ key, expiredAt: DateTime.unsafeMake(entry.expiresAt) }))
      }
      return entry.token
    })

    const invalidate = (rejected?: Token.Token): Effect.Effect<void> =>
      Effect.flatMap(
        modify((s): [Token.Token | undefined, State] => {
          const entry = s.entry
          const dropped = rejected === undefined
            ? entry?.token
            : entry !== undefined && Token.sameAccessToken(entry.token, rejected)
            ? entry.token
            : undefined
          const remembered = rejected ?? dropped
          return [dropped, {
            ...s,
            ...(dropped === undefined ? {} : { entry: undefined, holdUntil: 0 }),
            rejected: remembered === undefined || isRejected(s, remembered)
              ? s.rejected
              : [remembered.accessToken, ...s.rejected].slice(0, rememberRejected)
          }]
        }),
        (dropped) =>
          dropped === undefined ? Effect.void : Effect.zipRight(
            removeStored(dropped),
            Effect.logDebug(rejected === undefined ? "token invalidated" : "rejected token dropped")
          ).pipe(annotate)
      )

    // the cached token when it is not due, read without entering the runtime: `TokenManager.getToken`
    const peek = (): Token.Token | undefined => {
      const entry = mirror.entry
      return entry !== undefined && clock.unsafeCurrentTimeMillis() < entry.dueAt ? entry.token : undefined
    }
    const service: Service = { key, get, current, refresh, invalidate }
    Object.defineProperty(service, PeekTypeId, { value: peek })
    return service
  })

/**
 * Where a service made by `make` keeps its synchronous look at the cache (not part of the public
 * `Service`: a service written by hand has none, and is asked through the runtime).
 *
 * @internal
 */
export const PeekTypeId: unique symbol = Symbol.for("tokenlayer/TokenService/peek")

/**
 * The cached token of a service made by `make`, when it is not due; `undefined` when it is due, missing,
 * or the service has no synchronous look.
 *
 * @internal
 */
export const peek = (service: Service): Token.Token | undefined => {
  const look = (service as { readonly [PeekTypeId]?: () => Token.Token | undefined })[PeekTypeId]
  return look === undefined ? undefined : look()
}

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
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { SingleShotGen, YieldWrap } from "effect/Utils"
import * as Grant from "../Grant.js"
import * as RefreshPolicy from "../RefreshPolicy.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type { Options, Service } from "../TokenService.js"
import * as TokenStore from "../TokenStore.js"
import * as SafeStore from "./safeStore.js"
import * as TokenRequest from "./tokenRequest.js"
import * as CacheState from "./tokenState.js"
import {
  completed,
  decideGet,
  type Decision,
  type Entry,
  type Flight,
  initialState,
  invalidated,
  isRejected,
  logCompletion,
  newFlight,
  seconds,
  type State
} from "./tokenState.js"

/** @internal */
export const tokenRequests = TokenRequest.tokenRequests

/** @internal */
export const tokenRequestSpan = TokenRequest.tokenRequestSpan

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

    const requestToken = TokenRequest.makeRequest(grant, retry, minLifetimeMillis)

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
    // the store, through a decorator that never fails nor hangs; flights
    // -------------------------------------------------------------------------

    const safe = yield* SafeStore.make(store, { storeTimeout, lockTimeout })

    /**
     * A stored token that is not due, was not invalidated, and is not the token we hold already (which
     * we found due: drawing its jitter again would only put off its renewal).
     */
    const freshEntry = (stored: Option.Option<Token.Token>): Effect.Effect<Option.Option<Entry>> =>
      Effect.gen(function*() {
        if (Option.isNone(stored)) return Option.none()
        const s = yield* Ref.get(state)
        if (isRejected(s, stored.value)) return Option.none()
        if (s.entry !== undefined && Token.sameAccessToken(s.entry.token, stored.value)) return Option.none()
        const entry = yield* toEntry(stored.value, false)
        return clock.unsafeCurrentTimeMillis() < entry.dueAt ? Option.some(entry) : Option.none()
      })

    /** Removes the stored token if it is still `token` (another process may have stored a newer one). */
    const removeStored = (token: Token.Token): Effect.Effect<void> => {
      const visit = safe.visit(key)
      return Effect.flatMap(visit.load, (stored) =>
        Option.isSome(stored) && Token.sameAccessToken(stored.value, token) ? visit.remove : Effect.void)
    }

    /**
     * What the grant is given as the current token: the newest of the cached one (else the newest this
     * service had, invalidated or expired) and the stored one, due or not (a token saved by another
     * process, or by an earlier run: a rotated refresh token must never be sent again).
     */
    const basisOf = (stored: Option.Option<Token.Token>): Effect.Effect<Option.Option<Token.Token>> =>
      Effect.map(Ref.get(state), (s) => {
        const known = s.entry?.token ?? s.basis
        return Option.isSome(stored) &&
            (known === undefined || stored.value.issuedAt.epochMillis > known.issuedAt.epochMillis)
          ? stored
          : Option.fromNullable(known)
      })

    /**
     * Obtains a token: a fresh one from the store if there is one (read without the lock: a warm store
     * costs one read), else under the store's lock, where the store is read once more (someone may have
     * renewed while we waited), and the grant is asked only if that read brought nothing fresh.
     */
    const acquire = (forced: boolean): Effect.Effect<Entry, TokenError.HttpError> => {
      const visit = safe.visit(key)
      const underLock = Effect.scoped(Effect.gen(function*() {
        yield* visit.lock
        const stored = yield* visit.load
        if (!forced) {
          const fresh = yield* freshEntry(stored)
          if (Option.isSome(fresh)) {
            return fresh.value
          }
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
        const token = yield* Effect.flatMap(basisOf(stored), requestToken).pipe(
          Effect.ensuring(Effect.sync(() => {
            lastRequestAt = clock.unsafeCurrentTimeMillis()
          }))
        )
        yield* visit.save(token)
        return yield* toEntry(token, true)
      }))
      return forced ? underLock : Effect.flatMap(
        Effect.flatMap(visit.load, freshEntry),
        (fresh) =>
          Option.isSome(fresh) ? Effect.succeed(fresh.value) : underLock
      )
    }

    /** Ends a flight: the state, then its waiters, then the logs (nothing can leave a waiter waiting). */
    const complete = (flight: Flight, exit: Exit.Exit<Entry, TokenError.HttpError>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        return Effect.flatMap(modify((s) => completed(s, exit, now, holdMillis)), (completion) => {
          const outcome = Exit.map(exit, (entry) => entry.token)
          return Deferred.done(flight.outcome, outcome).pipe(
            Effect.zipRight(Deferred.done(flight.forGet, completion.held?.exit ?? outcome)),
            Effect.zipRight(logCompletion(exit, completion, now))
          )
        })
      }).pipe(Effect.catchAllCause(() => Effect.void), annotate)

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

    const startForGet = startFlight(false, (s) => decideGet(s, clock.unsafeCurrentTimeMillis(), refreshAhead))

    /** A hit is the cached token's `Exit`; a waiter awaits the flight under way; else a flight starts. */
    const step = (): Effect.Effect<Token.Token, TokenError.HttpError> => {
      const decision = decideGet(mirror, clock.unsafeCurrentTimeMillis(), refreshAhead)
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
        const stored = yield* safe.visit(key).load
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
        modify((s) => invalidated(s, rejected)),
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

/** @internal */
export const PeekTypeId: typeof CacheState.PeekTypeId = CacheState.PeekTypeId

/** @internal */
export const peek = CacheState.peek

/**
 * The engine under `TokenService` and `TokenCache`: single flight over Grant + RefreshPolicy +
 * RetryPolicy + TokenStore, per key.
 *
 * What a key needs is a *slot*: its state (`tokenState.ts`), when its last token request ended, its
 * grant. Everything else (the policies, the store and its decorator, the Clock, the scope the flights
 * run in) is the engine's, shared by every slot, so that a slot costs a few fields and the functions
 * below are made once. A `TokenService` is one slot; a `TokenCache` holds many, made on first use.
 *
 * A hit is a read of the slot's state and of the Clock, and returns an `Exit` made once per token: no
 * lock, no allocation. Everything else (missing, due, expired, forced) goes through a *flight*: one
 * fiber, forked into the engine's scope, that loads from the store, takes the store's lock, asks the
 * grant (retried), saves, and completes the deferreds that every caller waiting for a token awaits. A
 * caller that is interrupted stops waiting; the flight goes on for the others. State changes happen in
 * `Effect.sync` blocks (JavaScript runs one fiber at a time: each is atomic), so `get` reads the state
 * synchronously.
 *
 * A token fresh from the endpoint is used for at least `minTokenLifetime` (1 s by default), whatever
 * the server says, and the next token request of a key waits until that long after its last one (an
 * API rejecting every token, a server answering `expires_in: 0`): the endpoint is asked at most once a
 * second per key, never in a loop.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Grant from "../Grant.js"
import * as RefreshPolicy from "../RefreshPolicy.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type { Options } from "../TokenService.js"
import * as TokenStore from "../TokenStore.js"
import * as SafeStore from "./safeStore.js"
import * as TokenRequest from "./tokenRequest.js"
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

/**
 * One key's part of the engine.
 *
 * @internal
 */
export interface Slot {
  readonly key: string
  readonly grant: Grant.Service
  state: State
  /** When the last token request of this key ended: token requests are `minTokenLifetime` apart. */
  lastRequestAt: number
  /** The grant's request with retries and spans, made on the first token request. */
  requestToken: ((current: Option.Option<Token.Token>) => Effect.Effect<Token.Token, TokenError.HttpError>) | undefined
  /** When it was last asked for (epoch millis): what the idle time counts from. */
  usedAt: number
  /** Asked for since the eviction hand last passed (the second chance of CLOCK). */
  referenced: boolean
}

/** @internal */
export const makeSlot = (key: string, grant: Grant.Service, now: number): Slot => ({
  key,
  grant,
  state: initialState,
  lastRequestAt: Number.NEGATIVE_INFINITY,
  requestToken: undefined,
  usedAt: now,
  referenced: false
})

/** @internal */
export interface Engine {
  readonly clock: Clock.Clock
  readonly refreshAhead: boolean
  /** The store is the engine's own memory store (none was provided). */
  readonly ownStore: boolean
  readonly safe: SafeStore.SafeStore
  /** What a `get` of the slot does now: the cached `Exit`, a wait, or a flight started. */
  readonly step: (slot: Slot, now: number) => Effect.Effect<Token.Token, TokenError.HttpError>
  readonly refresh: (slot: Slot) => Effect.Effect<Token.Token, TokenError.HttpError>
  readonly current: (slot: Slot) => Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired>
  readonly invalidate: (slot: Slot, rejected?: Token.Token) => Effect.Effect<void>
  /** Puts a token in the slot (a user's, after their login) and saves it. */
  readonly set: (slot: Slot, token: Token.Token) => Effect.Effect<void>
  /** The cached token when it is not due, read synchronously. */
  readonly peek: (slot: Slot) => Token.Token | undefined
}

/** @internal */
export const make = (options: Options = {}): Effect.Effect<Engine, never, Scope.Scope> =>
  Effect.gen(function*() {
    const policy = yield* RefreshPolicy.RefreshPolicy
    const retry = yield* RetryPolicy.RetryPolicy
    // no store provided: a memory store of this engine's own
    const provided = yield* Effect.serviceOption(TokenStore.TokenStore)
    const store = Option.isSome(provided) ? provided.value : yield* TokenStore.makeMemory
    const scope = yield* Effect.scope
    const holdMillis = Duration.toMillis(Duration.decode(options.retryFailedRefreshAfter ?? "10 seconds"))
    const minLifetimeMillis = Duration.toMillis(Duration.decode(options.minTokenLifetime ?? "1 second"))
    const refreshAhead = options.refreshAhead ?? false
    const storeTimeout = Duration.decode(options.storeTimeout ?? "5 seconds")
    const lockTimeout = Duration.decode(options.lockTimeout ?? "30 seconds")
    // the bound on the answers of the token endpoint, as set where the engine is built (a flight runs
    // in the context of whichever caller started it)
    const maxResponseSize = yield* Grant.MaxResponseSize
    // Time is the Clock of the context the engine is built in (a TestClock in tests): read synchronously
    // by `get`, and given to every flight.
    const clock = yield* Effect.clock
    const safe = yield* SafeStore.make(store, { storeTimeout, lockTimeout })

    const annotate = (slot: Slot) => Effect.annotateLogs({ "tokenlayer.key": slot.key })

    const modify = <A>(slot: Slot, f: (s: State) => readonly [A, State]): Effect.Effect<A> =>
      Effect.sync(() => {
        const [a, next] = f(slot.state)
        slot.state = next
        return a
      })

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

    /**
     * A stored token that is not due, was not invalidated, and is not the token we hold already (which
     * we found due: drawing its jitter again would only put off its renewal).
     */
    const freshEntry = (slot: Slot, stored: Option.Option<Token.Token>): Effect.Effect<Option.Option<Entry>> =>
      Effect.suspend(() => {
        if (Option.isNone(stored)) return Effect.succeedNone
        const s = slot.state
        if (isRejected(s, stored.value)) return Effect.succeedNone
        if (s.entry !== undefined && Token.sameAccessToken(s.entry.token, stored.value)) return Effect.succeedNone
        return Effect.map(
          toEntry(stored.value, false),
          (entry) => clock.unsafeCurrentTimeMillis() < entry.dueAt ? Option.some(entry) : Option.none()
        )
      })

    /** Removes the stored token if it is still `token` (another process may have stored a newer one). */
    const removeStored = (key: string, token: Token.Token): Effect.Effect<void> => {
      const visit = safe.visit(key)
      return Effect.flatMap(visit.load, (stored) =>
        Option.isSome(stored) && Token.sameAccessToken(stored.value, token) ? visit.remove : Effect.void)
    }

    /**
     * What the grant is given as the current token: the newest of the cached one (else the newest this
     * slot had, invalidated or expired) and the stored one, due or not (a token saved by another
     * process, or by an earlier run: a rotated refresh token must never be sent again).
     */
    const basisOf = (slot: Slot, stored: Option.Option<Token.Token>): Option.Option<Token.Token> => {
      const s = slot.state
      const known = s.entry?.token ?? s.basis
      return Option.isSome(stored) &&
          (known === undefined || stored.value.issuedAt.epochMillis > known.issuedAt.epochMillis)
        ? stored
        : Option.fromNullable(known)
    }

    const requestOf = (slot: Slot) => {
      if (slot.requestToken === undefined) {
        slot.requestToken = TokenRequest.makeRequest(slot.grant, retry, minLifetimeMillis)
      }
      return slot.requestToken
    }

    /**
     * Obtains a token: a fresh one from the store if there is one (read without the lock: a warm store
     * costs one read), else under the store's lock, where the store is read once more (someone may have
     * renewed while we waited), and the grant is asked only if that read brought nothing fresh.
     */
    const acquire = (slot: Slot, forced: boolean): Effect.Effect<Entry, TokenError.HttpError> => {
      const visit = safe.visit(slot.key)
      const underLock = Effect.scoped(Effect.gen(function*() {
        yield* visit.lock
        const stored = yield* visit.load
        if (!forced) {
          const fresh = yield* freshEntry(slot, stored)
          if (Option.isSome(fresh)) {
            return fresh.value
          }
        }
        // a token invalidated (an API's 401) or refreshed right after it was fetched, or asked for again right
        // after a request failed (a refused client under a busy caller): the next request waits for
        // `minTokenLifetime` since the last ended, so that nothing can make the service ask in a loop; the
        // callers that come meanwhile join this flight
        const wait = slot.lastRequestAt + minLifetimeMillis - clock.unsafeCurrentTimeMillis()
        if (wait > 0) {
          yield* Effect.logDebug(
            `a token request ended ${seconds(minLifetimeMillis - wait)} ago: waiting before the next`
          )
          yield* Effect.sleep(Duration.millis(wait))
        }
        const token = yield* Effect.suspend(() =>
          requestOf(slot)(basisOf(slot, stored))
        ).pipe(
          Effect.ensuring(Effect.sync(() => {
            slot.lastRequestAt = clock.unsafeCurrentTimeMillis()
          }))
        )
        yield* visit.save(token)
        return yield* toEntry(token, true)
      }))
      return forced ? underLock : Effect.flatMap(
        Effect.flatMap(visit.load, (stored) => freshEntry(slot, stored)),
        (fresh) => Option.isSome(fresh) ? Effect.succeed(fresh.value) : underLock
      )
    }

    /** Ends a flight: the state, then its waiters, then the logs (nothing can leave a waiter waiting). */
    const complete = (
      slot: Slot,
      flight: Flight,
      exit: Exit.Exit<Entry, TokenError.HttpError>
    ): Effect.Effect<void> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        return Effect.flatMap(modify(slot, (s) => completed(s, exit, now, holdMillis)), (completion) => {
          const outcome = Exit.map(exit, (entry) => entry.token)
          return Deferred.done(flight.outcome, outcome).pipe(
            Effect.zipRight(Deferred.done(flight.forGet, completion.held?.exit ?? outcome)),
            Effect.zipRight(logCompletion(exit, completion, now))
          )
        })
      }).pipe(Effect.catchAllCause(() => Effect.void), annotate(slot))

    /**
     * Runs a flight in a fiber of the engine's scope, on the engine's Clock. Called uninterruptibly,
     * right after the flight is registered, so a registered flight always runs and completes.
     */
    const launch = (slot: Slot, flight: Flight): Effect.Effect<void> =>
      acquire(slot, flight.forced).pipe(
        Effect.interruptible,
        Effect.onExit((exit) => complete(slot, flight, exit)),
        // its outcome went to the waiters: the fiber itself ends quietly (Effect would otherwise log an
        // unobserved failure at debug level, with whatever a broken grant put in it)
        Effect.exit,
        annotate(slot),
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
      slot: Slot,
      forced: boolean,
      decide: (s: State) => Decision
    ): Effect.Effect<Token.Token, TokenError.HttpError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatten(modify(slot, (s): [Effect.Effect<Token.Token, TokenError.HttpError>, State] => {
          const decision = decide(s)
          if (typeof decision !== "string") return [restore(decision), s]
          const flight = newFlight(forced)
          const answer = decision === "background" && s.entry !== undefined
            ? s.entry.exit
            : restore(forced ? flight.awaitOutcome : flight.awaitForGet)
          return [Effect.zipRight(launch(slot, flight), answer), { ...s, flight }]
        }))
      )

    const decideForGet = (s: State) => decideGet(s, clock.unsafeCurrentTimeMillis(), refreshAhead)

    /** A hit is the cached token's `Exit`; a waiter awaits the flight under way; else a flight starts. */
    const step = (slot: Slot, now: number): Effect.Effect<Token.Token, TokenError.HttpError> => {
      const decision = decideGet(slot.state, now, refreshAhead)
      return typeof decision === "string" ? startFlight(slot, false, decideForGet) : decision
    }

    // joins a flight under way: it was started because the token was missing, due or invalidated, so it
    // brings a token newer than the one held when it started
    const refresh = (slot: Slot): Effect.Effect<Token.Token, TokenError.HttpError> =>
      startFlight(slot, true, (s) => s.flight === undefined ? "start" : s.flight.awaitOutcome)

    const current = (slot: Slot): Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired> =>
      Effect.gen(function*() {
        const s = slot.state
        let entry = s.entry
        if (entry === undefined) {
          const stored = yield* safe.visit(slot.key).load
          if (Option.isNone(stored) || isRejected(s, stored.value)) {
            return yield* Effect.fail(new TokenError.NotCached({ key: slot.key }))
          }
          entry = yield* toEntry(stored.value, false)
        }
        const now = clock.unsafeCurrentTimeMillis()
        if (now >= entry.expiresAt) {
          return yield* Effect.fail(
            new TokenError.Expired({ key: slot.key, expiredAt: DateTime.unsafeMake(entry.expiresAt) })
          )
        }
        return entry.token
      })

    const invalidate = (slot: Slot, rejected?: Token.Token): Effect.Effect<void> =>
      Effect.flatMap(
        modify(slot, (s) => invalidated(s, rejected)),
        (dropped) =>
          dropped === undefined ? Effect.void : Effect.zipRight(
            removeStored(slot.key, dropped),
            Effect.logDebug(rejected === undefined ? "token invalidated" : "rejected token dropped")
          ).pipe(annotate(slot))
      )

    const set = (slot: Slot, token: Token.Token): Effect.Effect<void> =>
      Effect.flatMap(toEntry(token, false), (entry) =>
        Effect.zipRight(
          modify(slot, (s) => [undefined, { ...s, entry, holdUntil: 0, basis: token }]),
          safe.visit(slot.key).save(token)
        ))

    const peek = (slot: Slot): Token.Token | undefined => {
      const entry = slot.state.entry
      return entry !== undefined && clock.unsafeCurrentTimeMillis() < entry.dueAt ? entry.token : undefined
    }

    return {
      clock,
      refreshAhead,
      ownStore: Option.isNone(provided),
      safe,
      step,
      refresh,
      current,
      invalidate,
      set,
      peek
    }
  })

/**
 * The token cache: single flight over Grant + RefreshPolicy + RetryPolicy + TokenStore.
 *
 * State lives in one `Ref`, mirrored in a variable for synchronous reads. A hit is a read of the mirror
 * and of the Clock, and returns an `Exit` made once per token: no lock, no allocation. Everything else
 * (missing, due, expired, forced) goes through a *flight*: one fiber, forked into the layer's scope, that
 * loads from the store, takes the store's lock, asks the grant (bounded, retried), saves, and completes
 * the deferreds that every caller waiting for a token awaits. A caller that is interrupted stops
 * waiting; the flight goes on for the others.
 *
 * `Effect.cachedInvalidateWithTTL` bounds how often the token endpoint can be called at all: a token
 * request that succeeded is reused for `minRequestInterval` (1 s by default) by any flight that starts in
 * that window, so a server that answers `expires_in: 0`, or a token that arrives already due, cannot make
 * the service call it in a loop. A failed request is invalidated at once (failures are never cached),
 * and `invalidate` / `refresh` lift the bound, so a token rejected by an API is always replaced by a new
 * one. It is kept off the hit path: it takes a lock on every call.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
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

/** A cached token with its due and expiry instants, in epoch milliseconds. */
interface Entry {
  readonly token: Token.Token
  readonly dueAt: number
  readonly expiresAt: number
  /** `Exit.succeed(token)`, made once: what a hit returns, without allocating. */
  readonly exit: Exit.Exit<Token.Token>
}

interface Flight {
  /** Started by `refresh`: skips the store and the request bound. */
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
  /** A refresh of the current (still valid) token failed: keep serving it, no new attempt before this. */
  readonly holdUntil: number
  /** The last access token an API rejected: never loaded from the store again. */
  readonly rejected: Redacted.Redacted<string> | undefined
}

const initialState: State = { entry: undefined, flight: undefined, holdUntil: 0, rejected: undefined }

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

/** @internal */
export const make = (
  options: Options = {}
): Effect.Effect<
  Service,
  never,
  Scope.Scope | Grant.Grant | RefreshPolicy.RefreshPolicy | RetryPolicy.RetryPolicy | TokenStore.TokenStore
> =>
  Effect.gen(function*() {
    const grant = yield* Grant.Grant
    const policy = yield* RefreshPolicy.RefreshPolicy
    const retry = yield* RetryPolicy.RetryPolicy
    const store = yield* TokenStore.TokenStore
    const scope = yield* Effect.scope
    const key = grant.key
    const holdMillis = Duration.toMillis(Duration.decode(options.retryFailedRefreshAfter ?? "10 seconds"))
    const state = yield* Ref.make(initialState)
    // Every change goes through `modify`, which keeps `mirror` equal to the Ref's value, so that `get` can
    // read the state synchronously (JavaScript runs one fiber at a time: a synchronous read is atomic).
    // Time is the Clock of the context the service was built in (a TestClock in tests), read synchronously.
    let mirror: State = initialState
    const modify = <A>(f: (s: State) => readonly [A, State]): Effect.Effect<A> =>
      Ref.modify(state, (s) => {
        const [a, next] = f(s)
        mirror = next
        return [a, next]
      })
    const clock = yield* Effect.clock
    const currentTime = Effect.sync(() => clock.unsafeCurrentTimeMillis())
    const annotate = Effect.annotateLogs({ "tokenlayer.key": key })

    // -------------------------------------------------------------------------
    // token requests: one attempt (span, metric, timeout), retried, bounded
    // -------------------------------------------------------------------------

    // the token the next request is based on; flights run one at a time, so one cell is enough
    let basis: Option.Option<Token.Token> = Option.none()

    const attempt = Effect.suspend(() => grant.request(basis)).pipe(
      RetryPolicy.withAttemptTimeout(retry),
      Effect.tapBoth({
        onSuccess: () => countRequest("success"),
        onFailure: (error) => countRequest(error.reason.toLowerCase())
      }),
      Effect.withSpan(tokenRequestSpan, { attributes: { "tokenlayer.key": key }, kind: "client" })
    )
    const [boundedRequest, liftBound] = yield* Effect.cachedInvalidateWithTTL(
      Effect.retry(attempt, retry.schedule),
      options.minRequestInterval ?? "1 second"
    )
    const requestToken = (current: Option.Option<Token.Token>): Effect.Effect<Token.Token, TokenError.HttpError> =>
      Effect.suspend(() => {
        basis = current
        return boundedRequest
      }).pipe(Effect.tapErrorCause(() => liftBound))

    // -------------------------------------------------------------------------
    // the store: never fails the service
    // -------------------------------------------------------------------------

    const toEntry = (token: Token.Token): Effect.Effect<Entry> =>
      Effect.map(policy.schedule(token), (s) => ({
        token,
        dueAt: s.dueAt,
        expiresAt: s.expiresAt,
        exit: Exit.succeed(token)
      }))

    const loadStored: Effect.Effect<Option.Option<Token.Token>> = store.load(key).pipe(
      Effect.map(Option.some),
      Effect.catchTags({
        NotCached: () => Effect.succeedNone,
        Corrupted: (error) =>
          Effect.as(Effect.logWarning(`${error.message}; fetching a new token to overwrite it`), Option.none()),
        StoreError: (error) => Effect.as(Effect.logWarning(`${error.message}; fetching on our own`), Option.none())
      })
    )

    /**
     * A stored token that is not due, was not rejected by an API, and is not the token we hold already
     * (which we found due: drawing its jitter again would only put off its renewal).
     */
    const loadFresh: Effect.Effect<Option.Option<Entry>> = Effect.gen(function*() {
      const stored = yield* loadStored
      if (Option.isNone(stored)) return Option.none()
      const { entry: held, rejected } = yield* Ref.get(state)
      if (rejected !== undefined && Redacted.value(rejected) === Redacted.value(stored.value.accessToken)) {
        return Option.none()
      }
      if (held !== undefined && Token.sameAccessToken(held.token, stored.value)) return Option.none()
      const entry = yield* toEntry(stored.value)
      const now = yield* currentTime
      return now < entry.dueAt ? Option.some(entry) : Option.none()
    })

    const save = (token: Token.Token): Effect.Effect<void> =>
      Effect.catchAll(
        store.save(key, token),
        (error) => Effect.logWarning(`${error.message}; the token is kept in memory only`)
      )

    /** Removes the stored token if it is still `token` (another process may have stored a newer one). */
    const removeStored = (token: Token.Token): Effect.Effect<void> =>
      Effect.flatMap(loadStored, (stored) =>
        Option.isSome(stored) && Token.sameAccessToken(stored.value, token)
          ? Effect.catchAll(store.remove(key), (error) => Effect.logWarning(error.message))
          : Effect.void)

    // -------------------------------------------------------------------------
    // flights
    // -------------------------------------------------------------------------

    /** Obtains a token: from the store if someone else just got one, else from the grant, under the lock. */
    const acquire = (forced: boolean): Effect.Effect<Entry, TokenError.HttpError> => {
      const fetchAndSave = Effect.gen(function*() {
        if (!forced) {
          const fresh = yield* loadFresh
          if (Option.isSome(fresh)) return fresh.value
        }
        const { entry } = yield* Ref.get(state)
        const token = yield* requestToken(Option.fromNullable(entry?.token))
        yield* save(token)
        return yield* toEntry(token)
      })
      return Effect.gen(function*() {
        if (forced) {
          yield* liftBound
        } else {
          const fresh = yield* loadFresh
          if (Option.isSome(fresh)) return fresh.value
        }
        return yield* store.withLock(key, fetchAndSave).pipe(
          Effect.catchTag("StoreError", (error) =>
            Effect.zipRight(
              Effect.logWarning(`${error.message}; fetching without the store's lock`),
              fetchAndSave
            ))
        )
      })
    }

    /**
     * Ends a flight: the state first, then its waiters. A failed renewal leaves the current token in use
     * while it is valid (`held`), for the `get`s that waited.
     */
    const complete = (flight: Flight, exit: Exit.Exit<Entry, TokenError.HttpError>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* currentTime
        let held: Option.Option<Entry> = Option.none()
        if (Exit.isSuccess(exit)) {
          const entry = exit.value
          yield* modify((s) => [undefined, { ...s, entry, flight: undefined, holdUntil: 0 }])
          yield* Effect.logDebug("new token").pipe(
            Effect.annotateLogs({
              "tokenlayer.lifetime": seconds(entry.expiresAt - entry.token.issuedAt.epochMillis),
              "tokenlayer.dueIn": seconds(entry.dueAt - now),
              "tokenlayer.expiresAt": DateTime.unsafeMake(entry.expiresAt).toJSON()
            })
          )
        } else {
          const error = Cause.failureOption(exit.cause)
          const retryAfter = Option.match(error, {
            onNone: () => 0,
            onSome: (e) => e.retryAfter === undefined ? 0 : Duration.toMillis(e.retryAfter)
          })
          held = yield* modify((s): [Option.Option<Entry>, State] => {
            const valid = Option.isSome(error) && s.entry !== undefined && now < s.entry.expiresAt
              ? Option.some(s.entry)
              : Option.none()
            const holdUntil = Option.isNone(valid) ? s.holdUntil : now + Math.max(holdMillis, retryAfter)
            return [valid, { ...s, flight: undefined, holdUntil }]
          })
          if (Option.isSome(held) && Option.isSome(error)) {
            yield* Effect.logWarning(
              `token refresh failed: ${error.value.message}; the current token stays in use until it expires`
            ).pipe(
              Effect.annotateLogs({
                "tokenlayer.expiresIn": seconds(held.value.expiresAt - now),
                "tokenlayer.nextAttemptIn": seconds(Math.max(holdMillis, retryAfter))
              })
            )
          }
        }
        const outcome = Exit.map(exit, (entry) => entry.token)
        yield* Deferred.done(flight.outcome, outcome)
        yield* Deferred.done(flight.forGet, Option.isSome(held) ? held.value.exit : outcome)
      }).pipe(annotate)

    const newFlight = (forced: boolean): Flight => {
      const outcome = Deferred.unsafeMake<Token.Token, TokenError.HttpError>(FiberId.none)
      const forGet = Deferred.unsafeMake<Token.Token, TokenError.HttpError>(FiberId.none)
      return { forced, outcome, forGet, awaitOutcome: Deferred.await(outcome), awaitForGet: Deferred.await(forGet) }
    }

    /** Runs a flight in a fiber of the layer's scope; called uninterruptibly, right after it is registered. */
    const launch = (flight: Flight): Effect.Effect<void> =>
      acquire(flight.forced).pipe(
        Effect.interruptible,
        Effect.onExit((exit) => complete(flight, exit)),
        annotate,
        Effect.forkIn(scope),
        Effect.asVoid
      )

    // -------------------------------------------------------------------------
    // the service
    // -------------------------------------------------------------------------

    /** What a `get` does in state `s` at `now`, short of starting a flight (`undefined`). */
    const decide = (s: State, now: number): Effect.Effect<Token.Token, TokenError.HttpError> | undefined => {
      const entry = s.entry
      if (entry !== undefined && now < entry.dueAt) return entry.exit
      if (s.flight !== undefined) return s.flight.awaitForGet
      // a renewal failed a moment ago: keep the valid token until the next attempt is due
      if (entry !== undefined && now < entry.expiresAt && now < s.holdUntil) return entry.exit
      return undefined
    }

    // Registers a flight and forks it with no interruption point between the two, so a registered
    // flight always completes its deferreds.
    const startFlight = (
      forced: boolean,
      join: (s: State) => Effect.Effect<Token.Token, TokenError.HttpError> | undefined,
      wait: (flight: Flight) => Effect.Effect<Token.Token, TokenError.HttpError>
    ): Effect.Effect<Token.Token, TokenError.HttpError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatten(modify((s): [Effect.Effect<Token.Token, TokenError.HttpError>, State] => {
          const joined = join(s)
          if (joined !== undefined) return [restore(joined), s]
          const flight = newFlight(forced)
          return [Effect.zipRight(launch(flight), restore(wait(flight))), { ...s, flight }]
        }))
      )

    const startForGet = startFlight(
      false,
      (s) => decide(s, clock.unsafeCurrentTimeMillis()),
      (flight) => flight.awaitForGet
    )

    /** A hit is the cached token's `Exit`; a waiter awaits the flight under way; else a flight starts. */
    const step = (): Effect.Effect<Token.Token, TokenError.HttpError> =>
      decide(mirror, clock.unsafeCurrentTimeMillis()) ?? startForGet

    // One step for a hit. In `Effect.gen`, `yield* get` yields the cached `Exit` itself, which the runtime
    // takes without entering its run loop (as it does for `Effect.succeed`).
    const get: Effect.Effect<Token.Token, TokenError.HttpError> = Effect.suspend(step)
    Object.defineProperty(get, Symbol.iterator, {
      value: () => new SingleShotGen(new YieldWrap(step()))
    })

    // joins any flight under way: it was started because the token was missing or due, so it brings a new one
    const refresh: Effect.Effect<Token.Token, TokenError.HttpError> = startFlight(
      true,
      (s) => s.flight?.awaitOutcome,
      (flight) => flight.awaitOutcome
    )

    const current: Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired> = Effect.gen(function*() {
      const s = yield* Ref.get(state)
      let entry = s.entry
      if (entry === undefined) {
        const stored = yield* loadStored
        if (Option.isNone(stored)) {
          return yield* Effect.fail(new TokenError.NotCached({ key }))
        }
        entry = yield* toEntry(stored.value)
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
          if (rejected === undefined) {
            return entry === undefined ? [undefined, s] : [entry.token, { ...s, entry: undefined }]
          }
          const matches = entry !== undefined && Token.sameAccessToken(entry.token, rejected)
          return [
            matches ? rejected : undefined,
            { ...s, entry: matches ? undefined : entry, rejected: rejected.accessToken }
          ]
        }),
        (dropped) =>
          dropped === undefined ? Effect.void : Effect.zipRight(
            liftBound,
            Effect.zipRight(
              removeStored(dropped),
              Effect.logDebug(rejected === undefined ? "token invalidated" : "rejected token dropped")
            )
          ).pipe(annotate)
      )

    return { key, get, current, refresh, invalidate }
  })

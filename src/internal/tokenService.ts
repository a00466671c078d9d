/**
 * The token cache: single flight over Grant + RefreshPolicy + RetryPolicy + TokenStore.
 *
 * State lives in one `Ref`. The hit path is a `Ref` read and a Clock read: no lock, no allocation
 * beyond the effect itself. Everything else (missing, due, expired, forced) goes through a *flight*: one
 * fiber, forked into the layer's scope, that loads from the store, takes the store's lock, asks the
 * grant (bounded, retried), saves, and completes a `Deferred` that every caller waiting for a token
 * awaits. A caller that is interrupted stops waiting; the flight goes on for the others.
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
import * as Clock from "effect/Clock"
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
import * as Grant from "../Grant.js"
import * as RefreshPolicy from "../RefreshPolicy.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import * as TokenStore from "../TokenStore.js"

/** @internal */
export interface Options {
  readonly minRequestInterval?: Duration.DurationInput | undefined
  readonly retryFailedRefreshAfter?: Duration.DurationInput | undefined
}

/** @internal */
export interface Service {
  readonly key: string
  readonly get: Effect.Effect<Token.Token, TokenError.HttpError>
  readonly current: Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Expired>
  readonly refresh: Effect.Effect<Token.Token, TokenError.HttpError>
  readonly invalidate: (rejected?: Token.Token) => Effect.Effect<void>
}

/** A cached token with its due and expiry instants, in epoch milliseconds. */
interface Entry {
  readonly token: Token.Token
  readonly dueAt: number
  readonly expiresAt: number
}

interface Flight {
  readonly deferred: Deferred.Deferred<Entry, TokenError.HttpError>
  /** Started by `refresh`: skips the store and the request bound. */
  readonly forced: boolean
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
      Effect.map(policy.schedule(token), (s) => ({ token, dueAt: s.dueAt, expiresAt: s.expiresAt }))

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
      const now = yield* Clock.currentTimeMillis
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

    const complete = (flight: Flight, exit: Exit.Exit<Entry, TokenError.HttpError>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (Exit.isSuccess(exit)) {
          const entry = exit.value
          yield* Ref.update(state, (s) => ({ ...s, entry, flight: undefined, holdUntil: 0 }))
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
          const held = yield* Ref.modify(state, (s): [Entry | undefined, State] => {
            const valid = s.entry !== undefined && now < s.entry.expiresAt ? s.entry : undefined
            const holdUntil = valid === undefined ? s.holdUntil : now + Math.max(holdMillis, retryAfter)
            return [valid, { ...s, flight: undefined, holdUntil }]
          })
          if (held !== undefined && Option.isSome(error)) {
            yield* Effect.logWarning(
              `token refresh failed: ${error.value.message}; the current token stays in use until it expires`
            ).pipe(
              Effect.annotateLogs({
                "tokenlayer.expiresIn": seconds(held.expiresAt - now),
                "tokenlayer.nextAttemptIn": seconds(Math.max(holdMillis, retryAfter))
              })
            )
          }
        }
        yield* Deferred.done(flight.deferred, exit)
      }).pipe(annotate)

    const newFlight = (forced: boolean): Flight => ({
      deferred: Deferred.unsafeMake<Entry, TokenError.HttpError>(FiberId.none),
      forced
    })

    /** Runs a flight in a fiber of the layer's scope; called uninterruptibly, right after it is registered. */
    const launch = (flight: Flight): Effect.Effect<void> =>
      acquire(flight.forced).pipe(
        Effect.interruptible,
        Effect.onExit((exit) => complete(flight, exit)),
        annotate,
        Effect.forkIn(scope),
        Effect.asVoid
      )

    /** What a `get` waiting on a flight gets: its token, or on failure the current token while it is valid. */
    const awaitForGet = (flight: Flight): Effect.Effect<Token.Token, TokenError.HttpError> =>
      Deferred.await(flight.deferred).pipe(
        Effect.map((entry) => entry.token),
        Effect.catchAll((error) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.flatMap(Ref.get(state), (s) =>
              s.entry !== undefined && now < s.entry.expiresAt ? Effect.succeed(s.entry.token) : Effect.fail(error)))
        )
      )

    // -------------------------------------------------------------------------
    // the service
    // -------------------------------------------------------------------------

    const slowGet: Effect.Effect<Token.Token, TokenError.HttpError> = Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatten(Ref.modify(state, (s): [Effect.Effect<Token.Token, TokenError.HttpError>, State] => {
          const entry = s.entry
          if (entry !== undefined && now < entry.dueAt) {
            return [Effect.succeed(entry.token), s]
          }
          if (s.flight !== undefined) {
            return [restore(awaitForGet(s.flight)), s]
          }
          if (entry !== undefined && now < entry.expiresAt && now < s.holdUntil) {
            return [Effect.succeed(entry.token), s]
          }
          const flight = newFlight(false)
          return [Effect.zipRight(launch(flight), restore(awaitForGet(flight))), { ...s, flight }]
        })))
    )

    const get: Effect.Effect<Token.Token, TokenError.HttpError> = Effect.flatMap(Ref.get(state), (s) => {
      const entry = s.entry
      if (entry === undefined) {
        return slowGet
      }
      return Effect.clockWith((clock) =>
        clock.unsafeCurrentTimeMillis() < entry.dueAt ? Effect.succeed(entry.token) : slowGet
      )
    })

    const refresh: Effect.Effect<Token.Token, TokenError.HttpError> = Effect.uninterruptibleMask((restore) =>
      Effect.flatten(Ref.modify(state, (s): [Effect.Effect<Token.Token, TokenError.HttpError>, State] => {
        if (s.flight !== undefined) {
          return [
            restore(Effect.map(Deferred.await(s.flight.deferred), (entry) =>
              entry.token)),
            s
          ]
        }
        const flight = newFlight(true)
        return [
          Effect.zipRight(
            launch(flight),
            restore(Effect.map(Deferred.await(flight.deferred), (e) =>
              e.token))
          ),
          { ...s, flight }
        ]
      }))
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
      const now = yield* Clock.currentTimeMillis
      if (now >= entry.expiresAt) {
        return yield* Effect.fail(new TokenError.Expired({ key, expiredAt: DateTime.unsafeMake(entry.expiresAt) }))
      }
      return entry.token
    })

    const invalidate = (rejected?: Token.Token): Effect.Effect<void> =>
      Effect.flatMap(
        Ref.modify(state, (s): [Token.Token | undefined, State] => {
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

/**
 * The token cache's state and its transitions, as pure functions: what a `get` does in a state, how a
 * flight's end changes it, what `invalidate` drops. The token service (`tokenService.ts`) holds the
 * state in a `Ref` and runs the flights.
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
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Token from "../Token.js"
import type * as TokenError from "../TokenError.js"
import type { Service } from "../TokenService.js"
import { describeDefect } from "./storeLock.js"

/** A cached token with its due and expiry instants, in epoch milliseconds. */
export interface Entry {
  readonly token: Token.Token
  readonly dueAt: number
  readonly expiresAt: number
  /** `Exit.succeed(token)`, made once: what a hit returns, without allocating. */
  readonly exit: Exit.Exit<Token.Token>
}

export interface Flight {
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

export const newFlight = (forced: boolean): Flight => {
  const outcome = Deferred.unsafeMake<Token.Token, TokenError.HttpError>(FiberId.none)
  const forGet = Deferred.unsafeMake<Token.Token, TokenError.HttpError>(FiberId.none)
  return { forced, outcome, forGet, awaitOutcome: Deferred.await(outcome), awaitForGet: Deferred.await(forGet) }
}

export interface State {
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

export const initialState: State = { entry: undefined, flight: undefined, holdUntil: 0, rejected: [], basis: undefined }

/** How many invalidated tokens are remembered. */
const rememberRejected = 8

export const isRejected = (s: State, token: Token.Token): boolean =>
  s.rejected.some((r) => Redacted.value(r) === Redacted.value(token.accessToken))

export const seconds = (millis: number): string => `${Math.round(millis / 1000)}s`

/** What `get` does in a state: answer with an effect, or start a flight and wait, or start one in the background. */
export type Decision = Effect.Effect<Token.Token, TokenError.HttpError> | "start" | "background"

/** What a `get` does in state `s` at `now`. */
export const decideGet = (s: State, now: number, refreshAhead: boolean): Decision => {
  const entry = s.entry
  if (entry !== undefined && now < entry.dueAt) return entry.exit
  if (entry !== undefined && now < entry.expiresAt && (refreshAhead || s.holdUntil !== 0)) {
    // due but valid: serve it; renew it in the background (after the hold, if a renewal failed)
    return s.flight === undefined && now >= s.holdUntil ? "background" : entry.exit
  }
  if (s.flight !== undefined) return s.flight.awaitForGet
  return "start"
}

/** How a flight's end left the state: the token still in use after a failure, and when to try again. */
export interface Completion {
  readonly held: Entry | undefined
  readonly nextAttempt: number
}

/**
 * The state after a flight ended at `now`. When a renewal fails, the current token stays in use while
 * it is valid, until the next attempt (`holdUntil`): after the hold (or the server's Retry-After), but
 * no later than half-way through what is left of its life.
 */
export const completed = (
  s: State,
  exit: Exit.Exit<Entry, TokenError.HttpError>,
  now: number,
  holdMillis: number
): [Completion, State] => {
  if (Exit.isSuccess(exit)) {
    return [{ held: undefined, nextAttempt: 0 }, {
      ...s,
      entry: exit.value,
      flight: undefined,
      holdUntil: 0,
      basis: exit.value.token
    }]
  }
  const entry = s.entry
  if (Cause.isInterruptedOnly(exit.cause) || entry === undefined || now >= entry.expiresAt) {
    return [{ held: undefined, nextAttempt: 0 }, { ...s, flight: undefined, holdUntil: 0 }]
  }
  // a failed `refresh` of a token that is not due: it stays, and nothing else changes
  if (now < entry.dueAt) return [{ held: entry, nextAttempt: 0 }, { ...s, flight: undefined }]
  const retryAfter = Option.match(Cause.failureOption(exit.cause), {
    onNone: () => 0,
    onSome: (e) => e.retryAfter === undefined ? 0 : Duration.toMillis(e.retryAfter)
  })
  const holdUntil = Math.min(now + Math.max(holdMillis, retryAfter), now + (entry.expiresAt - now) / 2)
  return [{ held: entry, nextAttempt: holdUntil }, { ...s, flight: undefined, holdUntil }]
}

/** What a flight's end logs: a new token at debug level (never its value), a failed renewal as a warning. */
export const logCompletion = (
  exit: Exit.Exit<Entry, TokenError.HttpError>,
  { held, nextAttempt }: Completion,
  now: number
): Effect.Effect<void> => {
  if (Exit.isSuccess(exit)) {
    const entry = exit.value
    return Effect.logDebug("new token").pipe(
      Effect.annotateLogs({
        "tokenlayer.lifetime": seconds(entry.expiresAt - entry.token.issuedAt.epochMillis),
        "tokenlayer.dueIn": seconds(entry.dueAt - now),
        "tokenlayer.expiresAt": DateTime.unsafeMake(entry.expiresAt).toJSON()
      })
    )
  }
  if (held === undefined || nextAttempt === 0) return Effect.void
  const error = Cause.failureOption(exit.cause)
  const reason = Option.isSome(error)
    ? error.value.message
    : `unexpected error (${describeDefect(Cause.squash(exit.cause))})`
  return Effect.logWarning(`token renewal failed: ${reason}; the current token stays in use until it expires`).pipe(
    Effect.annotateLogs({
      "tokenlayer.expiresIn": seconds(held.expiresAt - now),
      "tokenlayer.nextAttemptIn": seconds(nextAttempt - now)
    })
  )
}

/**
 * The state after `invalidate(rejected)`, and the token dropped: the cached one, or given a token,
 * the cached one only if it is that token (a newer one is kept). The rejected token is remembered.
 */
export const invalidated = (s: State, rejected: Token.Token | undefined): [Token.Token | undefined, State] => {
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
}

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

/**
 * How token requests are retried.
 *
 * The default retries transient failures only (transport errors, timeouts, 408, 429, 5xx, 4xx without
 * an RFC 6749 error code), with exponential backoff and jitter, honours the server's `Retry-After`
 * (capped), gives every attempt its own timeout, and stops after a bounded number of attempts.
 * `invalid_client`, `invalid_grant` and the other RFC 6749 error codes fail at once.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as TokenError from "./TokenError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Decides whether and when a failed attempt is tried again. Its input is the attempt's error. */
  readonly schedule: Schedule.Schedule<unknown, TokenError.HttpError>
  /** The longest one attempt may take; past it the attempt fails with an `HttpError` of reason `Timeout`. */
  readonly attemptTimeout: Duration.Duration
}

/**
 * The retry policy service. A `Context.Reference`: when none is provided, token requests are retried
 * as `layerDefault` retries them.
 *
 * @since 0.1.0
 * @category tags
 */
export class RetryPolicy extends Context.Reference<RetryPolicy>()("tokenlayer/RetryPolicy", {
  defaultValue: (): Service => make(schedule({}), {})
}) {}

/**
 * The options of the default schedule.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Retries after the first attempt. Default: 4 (5 attempts). */
  readonly retries?: number | undefined
  /** The first backoff delay, doubled at each retry and jittered. Default: 500 ms. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** The longest backoff delay. Default: 10 s. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** The longest `Retry-After` honoured; a server asking for more is retried after this. Default: 60 s. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** The per-attempt timeout. Default: 10 s. */
  readonly attemptTimeout?: Duration.DurationInput | undefined
}

/**
 * The default schedule: transient errors only, exponential backoff with jitter, `Retry-After`
 * honoured up to `maxRetryAfter`, at most `retries` retries.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "tokenlayer"
 *
 * const patient = RetryPolicy.layer(RetryPolicy.schedule({ retries: 8, maxDelay: "30 seconds" }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const schedule = (options: Options = {}): Schedule.Schedule<unknown, TokenError.HttpError> => {
  const maxDelay = Duration.decode(options.maxDelay ?? "10 seconds")
  const maxRetryAfter = Duration.decode(options.maxRetryAfter ?? "60 seconds")
  return Schedule.exponential(options.baseDelay ?? "500 millis", 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, maxDelay)),
    Schedule.intersect(Schedule.recurs(options.retries ?? 4)),
    Schedule.intersect(Schedule.identity<TokenError.HttpError>()),
    Schedule.whileInput(TokenError.isTransient),
    Schedule.modifyDelay(([, error], delay) =>
      error.retryAfter === undefined ? delay : Duration.max(delay, Duration.min(error.retryAfter, maxRetryAfter))
    ),
    Schedule.asVoid
  )
}

/**
 * Builds a retry policy as a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  schedule: Schedule.Schedule<unknown, TokenError.HttpError>,
  options: { readonly attemptTimeout?: Duration.DurationInput | undefined } = {}
): Service => ({ schedule, attemptTimeout: Duration.decode(options.attemptTimeout ?? "10 seconds") })

/**
 * A retry policy with the schedule you choose.
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { RetryPolicy, TokenError } from "tokenlayer"
 *
 * // three retries of transient errors, 5 s per attempt (the token service spaces attempts at least
 * // its minTokenLifetime, 1 s by default, apart: a schedule cannot make it ask faster)
 * const quick = RetryPolicy.layer(
 *   Schedule.spaced("1 second").pipe(
 *     Schedule.intersect(Schedule.recurs(3)),
 *     Schedule.whileInput(TokenError.isTransient)
 *   ),
 *   { attemptTimeout: "5 seconds" }
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  schedule: Schedule.Schedule<unknown, TokenError.HttpError>,
  options: { readonly attemptTimeout?: Duration.DurationInput | undefined } = {}
): Layer.Layer<RetryPolicy> => Layer.succeed(RetryPolicy, make(schedule, options))

/**
 * The default policy with other numbers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<RetryPolicy> =>
  Layer.succeed(RetryPolicy, make(schedule(options), options))

/**
 * The default policy: 5 attempts, 500 ms doubling backoff with jitter (at most 10 s), `Retry-After`
 * honoured up to 60 s, 10 s per attempt.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<RetryPolicy> = layerWith({})

/**
 * One attempt, no retry (the per-attempt timeout still applies). For tests that want to see the first
 * failure.
 *
 * @since 0.1.0
 * @category layers
 */
export const none: Layer.Layer<RetryPolicy> = Layer.succeed(RetryPolicy, make(Schedule.stop))

/**
 * Gives one attempt the policy's timeout: past it, the attempt fails with an `HttpError` of reason
 * `Timeout` (which is transient, so the schedule may try again).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withAttemptTimeout =
  (policy: Service) =>
  <A, R>(attempt: Effect.Effect<A, TokenError.HttpError, R>): Effect.Effect<A, TokenError.HttpError, R> =>
    Effect.timeoutFail(attempt, {
      duration: policy.attemptTimeout,
      onTimeout: () =>
        new TokenError.HttpError({
          reason: "Timeout",
          detail: `no answer within ${Duration.format(policy.attemptTimeout)}`
        })
    })

/**
 * Runs one token request under a policy: each attempt with its timeout, retried by the schedule.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Grant, RetryPolicy } from "tokenlayer"
 *
 * const once = Effect.gen(function*() {
 *   const grant = yield* Grant.Grant
 *   const policy = yield* RetryPolicy.RetryPolicy
 *   return yield* RetryPolicy.apply(policy)(grant.request(Option.none()))
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const apply =
  (policy: Service) =>
  <A, R>(attempt: Effect.Effect<A, TokenError.HttpError, R>): Effect.Effect<A, TokenError.HttpError, R> =>
    Effect.retry(withAttemptTimeout(policy)(attempt), policy.schedule)

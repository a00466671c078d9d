/**
 * A token request as the token service makes it: each attempt with its timeout, a span and a count
 * in the metric; retried by the retry policy, never faster than `minTokenLifetime`, each retry logged
 * at debug level with what failed and how long until the next attempt.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Grant from "../Grant.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"

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

/** A token the grant returned that could not be sent in a header is a failed request: never cached. */
const checked = (token: Token.Token): Effect.Effect<Token.Token, TokenError.HttpError> => {
  const problem = Token.headerProblem(token)
  return problem === undefined
    ? Effect.succeed(token)
    : Effect.fail(
      new TokenError.HttpError({ reason: "Decode", detail: `the grant returned an unusable token: ${problem}` })
    )
}

/** What failed, for the retry's log line: the reason, the status and the RFC 6749 code, nothing the server wrote. */
const failure = (error: TokenError.HttpError): string =>
  [error.reason, error.status, error.error].filter((part) => part !== undefined).join(" ")

/** @internal */
export const makeRequest = (
  grant: Grant.Service,
  retry: RetryPolicy.Service,
  minLifetimeMillis: number
): (current: Option.Option<Token.Token>) => Effect.Effect<Token.Token, TokenError.HttpError> => {
  // the retries of one request are `minTokenLifetime` apart too, whatever the schedule says: a token
  // endpoint in trouble is asked at most once a second by this service
  const schedule = Schedule.intersect(retry.schedule, Schedule.identity<TokenError.HttpError>()).pipe(
    Schedule.modifyDelayEffect(([, error], delay) => {
      const wait = Duration.max(delay, Duration.millis(minLifetimeMillis))
      return Effect.as(
        Effect.logDebug(`token request failed (${failure(error)}); retrying in ${Duration.format(wait)}`).pipe(
          Effect.annotateLogs({
            "tokenlayer.status": error.status ?? error.reason,
            "tokenlayer.retryInMillis": Math.round(Duration.toMillis(wait))
          })
        ),
        wait
      )
    })
  )
  return (current) =>
    Effect.retry(
      grant.request(current).pipe(
        Effect.flatMap(checked),
        // a grant that waits for a person (the device flow) bounds its own HTTP exchanges
        grant.interactive === true ? identity : RetryPolicy.withAttemptTimeout(retry),
        Effect.tapBoth({
          onSuccess: () => countRequest("success"),
          onFailure: (error) => countRequest(error.reason.toLowerCase())
        }),
        Effect.withSpan(tokenRequestSpan, { attributes: { "tokenlayer.key": grant.key }, kind: "client" })
      ),
      schedule
    )
}

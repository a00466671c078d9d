/**
 * The device authorization grant (RFC 8628), with renewals by refresh token.
 *
 * A request trades the current refresh token when there is one (see `refreshTokenGrant.ts`); when there
 * is none, or the server refuses it with `invalid_grant`, it runs the device flow: ask the device
 * authorization endpoint for a code, hand the user code and verification URI to the user's prompt, then
 * poll the token endpoint every `interval` (5 s unless the server says otherwise; 5 s more after each
 * `slow_down`, twice as long after a transient failure, RFC 8628 §3.5) until the user approves
 * (a token), denies (`access_denied`), or the code expires (`expired_token`, from the server or when
 * its `expires_in` runs out here). Every wait is `Effect.sleep`, so `TestClock` drives it.
 *
 * A device flow takes minutes, so the grant is `interactive`: the token service gives it no per-attempt
 * timeout, and the grant bounds each of its own HTTP exchanges (`httpTimeout`) instead.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as DeviceCode from "../Grant/DeviceCode.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import * as Endpoint from "./endpoint.js"
import * as Exchange from "./exchange.js"
import * as RefreshTokenGrant from "./refreshTokenGrant.js"
import * as TokenEndpoint from "./tokenEndpoint.js"
import { displayUrl } from "./urls.js"

/**
 * The `grant_type` of the device access token request (RFC 8628 §3.4).
 *
 * @internal
 */
export const grantType = "urn:ietf:params:oauth:grant-type:device_code"

/** RFC 8628 §3.5: what the client adds to its interval after each `slow_down`. */
const slowDownStep = Duration.seconds(5)

/** The longest interval a run of transient failures can back the polling off to. */
const maxBackoff = Duration.minutes(1)

const Seconds = Schema.Union(
  Schema.Number,
  Schema.String.pipe(Schema.pattern(/^\d+(\.\d+)?$/), Schema.compose(Schema.NumberFromString))
)

/** RFC 8628 §3.2. Google's `verification_url` is taken for `verification_uri`. */
const DeviceAuthorizationResponse = Schema.Struct({
  device_code: Schema.NonEmptyString,
  user_code: Schema.NonEmptyString,
  verification_uri: Schema.optional(Schema.NonEmptyString),
  verification_url: Schema.optional(Schema.NonEmptyString),
  verification_uri_complete: Schema.optional(Schema.NonEmptyString),
  expires_in: Token.ExpiresIn,
  interval: Schema.optional(Seconds)
}).pipe(
  Schema.filter((r) => r.verification_uri !== undefined || r.verification_url !== undefined || "verification_uri"),
  Schema.annotations({ identifier: "DeviceAuthorizationResponse" })
)

/**
 * What a device grant needs, its options resolved.
 *
 * @internal
 */
export interface Resolved {
  /** The endpoints and the client, which always authenticates (a public client sends its id). */
  readonly endpoint: Endpoint.Endpoint
  /** `scope`, `audience` and the user's extra parameters, for the device authorization request. */
  readonly authorizationParams: ReadonlyArray<TokenEndpoint.Param>
  readonly prompt: (authorization: DeviceCode.DeviceAuthorization) => Effect.Effect<void>
  /** The polling interval when the server does not say. */
  readonly interval: Duration.Duration
  /** The longest one HTTP exchange may take. */
  readonly httpTimeout: Duration.Duration
  readonly tracker: RefreshTokenGrant.Tracker
}

const timed =
  (timeout: Duration.Duration, url: string) =>
  <A>(effect: Effect.Effect<A, TokenError.HttpError>): Effect.Effect<A, TokenError.HttpError> =>
    Effect.timeoutFail(effect, {
      duration: timeout,
      onTimeout: () =>
        new TokenError.HttpError({
          reason: "Timeout",
          url: displayUrl(url),
          detail: `no answer within ${Duration.format(timeout)}`
        })
    })

interface Authorization {
  readonly deviceCode: Redacted.Redacted<string>
  readonly info: DeviceCode.DeviceAuthorization
  /** The server's interval, if it sent one. */
  readonly interval: Option.Option<Duration.Duration>
}

/** The device authorization request (RFC 8628 §3.1) and its answer (§3.2). */
const authorize = (
  http: HttpClient.HttpClient,
  request: Exchange.TokenRequest,
  defaultInterval: Duration.Duration
): Effect.Effect<Authorization, TokenError.HttpError> => {
  const url = displayUrl(request.url)
  return Effect.flatMap(
    Exchange.exchange(http, Exchange.toHttpRequest(request), url),
    ({ json, now, response }) => {
      const decoded = Option.isNone(json)
        ? Either.left("the answer is not JSON")
        : Either.mapLeft(
          Schema.decodeUnknownEither(DeviceAuthorizationResponse)(json.value),
          Token.describeParseError
        )
      if (Either.isLeft(decoded)) {
        return Effect.fail(
          new TokenError.HttpError({
            reason: "Decode",
            url,
            status: response.status,
            detail: `not an RFC 8628 device authorization response: ${decoded.left}`
          })
        )
      }
      const body = decoded.right
      const expiresIn = Duration.seconds(body.expires_in)
      const interval = body.interval !== undefined && body.interval > 0
        ? Option.some(Duration.seconds(body.interval))
        : Option.none()
      const info: DeviceCode.DeviceAuthorization = {
        userCode: body.user_code,
        verificationUri: (body.verification_uri ?? body.verification_url)!,
        ...(body.verification_uri_complete === undefined
          ? {}
          : { verificationUriComplete: body.verification_uri_complete }),
        expiresIn,
        expiresAt: DateTime.addDuration(now, expiresIn),
        interval: Option.getOrElse(interval, () => defaultInterval)
      }
      return Effect.succeed({ deviceCode: Redacted.make(body.device_code), info, interval })
    }
  )
}

/** Why polling stops for good, or how it goes on. */
const nextInterval = (
  error: TokenError.HttpError,
  interval: Duration.Duration
): Either.Either<Duration.Duration, TokenError.HttpError> => {
  switch (error.error) {
    case "authorization_pending":
      return Either.right(interval)
    case "slow_down":
      return Either.right(Duration.sum(interval, slowDownStep))
  }
  if (TokenError.isTransient(error)) {
    // RFC 8628 §3.5: back off on a connection timeout (and on any transient failure)
    const doubled = Duration.min(Duration.times(interval, 2), Duration.max(maxBackoff, interval))
    return Either.right(
      error.retryAfter === undefined ? doubled : Duration.max(doubled, Duration.min(error.retryAfter, maxBackoff))
    )
  }
  return Either.left(error)
}

/**
 * The device flow: authorization, prompt, polling.
 *
 * @internal
 */
export const deviceFlow = (
  resolved: Resolved,
  http: HttpClient.HttpClient
): Effect.Effect<Token.Token, TokenError.HttpError> =>
  Effect.gen(function*() {
    const { httpTimeout } = resolved
    const authorizationUrl = yield* Endpoint.deviceAuthorizationUrl(resolved.endpoint)
    // the endpoints read once for the whole flow
    const endpoint = { ...resolved.endpoint, endpoints: Effect.succeed(yield* resolved.endpoint.endpoints) }
    const tokenUrl = yield* Endpoint.tokenUrl(endpoint)
    const authorizationRequest = yield* TokenEndpoint.request(
      endpoint,
      tokenUrl,
      resolved.authorizationParams,
      authorizationUrl
    )
    const authorization = yield* authorize(
      Endpoint.httpClientOf(endpoint, http),
      authorizationRequest,
      resolved.interval
    ).pipe(
      timed(httpTimeout, authorizationUrl)
    )
    const deadline = authorization.info.expiresAt.epochMillis

    yield* resolved.prompt(authorization.info)
    let interval = authorization.info.interval
    yield* Effect.logDebug(
      `device flow: waiting for the user's approval, polling every ${Duration.format(interval)}`
    )

    // each poll authenticated anew (a client assertion's jti is used once)
    const poll = TokenEndpoint.grantRequest(http, endpoint, grantType, [
      ["device_code", authorization.deviceCode]
    ])
    const expired = () =>
      new TokenError.HttpError({
        reason: "Status",
        error: "expired_token",
        url: displayUrl(tokenUrl),
        detail: `the device code expired (after ${
          Duration.format(authorization.info.expiresIn)
        }) before the user approved it`
      })

    while (true) {
      const now = yield* Clock.currentTimeMillis
      const wait = Math.min(Duration.toMillis(interval), deadline - now)
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      if ((yield* Clock.currentTimeMillis) >= deadline) return yield* Effect.fail(expired())

      const answer = yield* Effect.either(
        poll.pipe(timed(httpTimeout, tokenUrl))
      )
      if (Either.isRight(answer)) {
        resolved.tracker.received(answer.right)
        return answer.right
      }
      const next = nextInterval(answer.left, interval)
      if (Either.isLeft(next)) return yield* Effect.fail(next.left)
      if (answer.left.error !== "authorization_pending") {
        const what = answer.left.error === "slow_down" ? "the server asked to slow down" : answer.left.message
        yield* (answer.left.error === "slow_down" ? Effect.logDebug : Effect.logWarning)(
          `device flow: ${what}; polling every ${Duration.format(next.right)}`
        )
      }
      interval = next.right
    }
  })

/**
 * A device grant's token request: the refresh token when there is a live one, else (or when it is
 * refused) the device flow.
 *
 * @internal
 */
export const request = (resolved: Resolved, http: HttpClient.HttpClient) => {
  const send = RefreshTokenGrant.trade(resolved.endpoint, http, [])
  const flow = deviceFlow(resolved, http)
  return (current: Option.Option<Token.Token>): Effect.Effect<Token.Token, TokenError.HttpError> =>
    Effect.suspend(() => {
      const refreshToken = resolved.tracker.choose(current)
      if (Option.isNone(refreshToken)) return flow
      return RefreshTokenGrant.tradeTracked(
        resolved.tracker,
        (used) =>
          Effect.flatMap(Endpoint.tokenUrl(resolved.endpoint), (url) => timed(resolved.httpTimeout, url)(send(used))),
        refreshToken.value
      ).pipe(
        Effect.catchIf(
          TokenError.isInvalidGrant,
          (error) =>
            Effect.zipRight(
              Effect.logInfo(
                `the refresh token was refused (${error.errorDescription ?? "invalid_grant"}): starting the device flow`
              ),
              flow
            )
        )
      )
    })
}

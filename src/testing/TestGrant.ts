/**
 * An in-memory grant for tests of your own programs: it issues tokens with the lifetime you choose,
 * fails or hangs the next requests when told to, and counts requests. Time comes from the Clock, so a
 * `TestClock` drives it. Tests in plain async code use `start` (Promises, the real clock).
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect, Layer, TestClock } from "effect"
 * import { RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
 * import { TestGrant } from "tokenlayer/testing"
 *
 * const TestLayer = TokenService.layer().pipe(
 *   Layer.provideMerge(TestGrant.layer({ lifetime: "1 hour" })),
 *   Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.none, TokenStore.layerMemory])
 * )
 *
 * it.effect("renews 5 minutes before expiry", () =>
 *   Effect.gen(function*() {
 *     yield* TokenService.get
 *     yield* TestClock.adjust("55 minutes")
 *     yield* TokenService.get
 *     // 2 requests: the first token, and its renewal at 55 minutes
 *     console.log(yield* TestGrant.requests)
 *   }).pipe(Effect.provide(TestLayer)))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Grant from "../Grant.js"
import * as Token from "../Token.js"
import { HttpError } from "../TokenError.js"
import * as Promised from "./internal/promised.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The lifetime (`expires_in`) of the tokens issued; `null` for tokens without `expires_in`. Default: 1 hour. */
  readonly lifetime?: Duration.DurationInput | null | undefined
  /** Default: `Bearer`. */
  readonly tokenType?: string | undefined
  readonly scope?: string | undefined
  /** The grant's key. Default: `test`. */
  readonly key?: string | undefined
  /** Issue a refresh token with each access token. Default: false. */
  readonly refreshTokens?: boolean | undefined
  /** How long each request takes, by the Clock. Default: none. */
  readonly latency?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** How many token requests were made, failed and hung ones included. */
  readonly requests: Effect.Effect<number>
  /** The tokens issued so far, oldest first. */
  readonly issued: Effect.Effect<ReadonlyArray<Token.Token>>
  /** When each request was made, by the Clock. */
  readonly requestTimes: Effect.Effect<ReadonlyArray<DateTime.Utc>>
  /** The `current` token each request was given. */
  readonly basis: Effect.Effect<ReadonlyArray<Option.Option<Token.Token>>>
  /** The next `n` requests fail with `error` (default: a 503). */
  readonly failNext: (n: number, error?: HttpError) => Effect.Effect<void>
  /** The next `n` requests never answer (until interrupted, by a timeout say). */
  readonly hangNext: (n: number) => Effect.Effect<void>
  /** The lifetime of the tokens issued from now on; `null` for no `expires_in`. */
  readonly setLifetime: (lifetime: Duration.DurationInput | null) => Effect.Effect<void>
  /** How long each request takes from now on. */
  readonly setLatency: (latency: Duration.DurationInput) => Effect.Effect<void>
}

/**
 * The control side of a test grant.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestGrant extends Context.Tag("tokenlayer/testing/TestGrant")<TestGrant, Service>() {}

type Fault = { readonly _tag: "Fail"; readonly error: HttpError } | { readonly _tag: "Hang" }

/**
 * A 503 with no RFC 6749 error code: transient.
 *
 * @since 0.1.0
 * @category constants
 */
export const unavailable: HttpError = new HttpError({ reason: "Status", status: 503, url: "test:token" })

/**
 * Builds a test grant: the `Grant` service and its control side.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<readonly [Grant.Service, Service]> =>
  Effect.sync(() => {
    let lifetime: Duration.Duration | null = options.lifetime === null
      ? null
      : Duration.decode(options.lifetime ?? "1 hour")
    let latency: Duration.Duration = Duration.decode(options.latency ?? 0)
    let requests = 0
    const issued: Array<Token.Token> = []
    const bases: Array<Option.Option<Token.Token>> = []
    const times: Array<DateTime.Utc> = []
    const faults: Array<Fault> = []

    const issue = Effect.map(DateTime.now, (now) => {
      const n = issued.length + 1
      const token = Token.make({
        accessToken: Redacted.make(`test-access-token-${n}`),
        tokenType: options.tokenType ?? "Bearer",
        expiresIn: lifetime === null ? undefined : Duration.toSeconds(lifetime),
        refreshToken: options.refreshTokens ? Redacted.make(`test-refresh-token-${n}`) : undefined,
        scope: options.scope,
        issuedAt: now,
        expiresAt: lifetime === null ? undefined : DateTime.addDuration(now, lifetime)
      })
      issued.push(token)
      return token
    })

    const grant: Grant.Service = {
      key: options.key ?? "test",
      request: (current) =>
        Effect.flatMap(DateTime.now, (now) => {
          requests++
          bases.push(current)
          times.push(now)
          const fault = faults.shift()
          const answer: Effect.Effect<Token.Token, HttpError> = fault === undefined
            ? issue
            : fault._tag === "Fail"
            ? Effect.fail(fault.error)
            : Effect.never
          return Duration.toMillis(latency) > 0 ? Effect.zipRight(Effect.sleep(latency), answer) : answer
        })
    }

    const control: Service = {
      requests: Effect.sync(() => requests),
      issued: Effect.sync(() => [...issued]),
      requestTimes: Effect.sync(() => [...times]),
      basis: Effect.sync(() => [...bases]),
      failNext: (n, error = unavailable) =>
        Effect.sync(() => {
          for (let i = 0; i < n; i++) faults.push({ _tag: "Fail", error })
        }),
      hangNext: (n) =>
        Effect.sync(() => {
          for (let i = 0; i < n; i++) faults.push({ _tag: "Hang" })
        }),
      setLifetime: (value) =>
        Effect.sync(() => {
          lifetime = value === null ? null : Duration.decode(value)
        }),
      setLatency: (value) =>
        Effect.sync(() => {
          latency = Duration.decode(value)
        })
    }
    return [grant, control] as const
  })

/**
 * A layer with both the `Grant` and the `TestGrant` control service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Grant.Grant | TestGrant> =>
  Layer.effectContext(
    Effect.map(make(options), ([grant, control]) =>
      Context.make(Grant.Grant, grant).pipe(Context.add(TestGrant, control)))
  )

/**
 * How many token requests the test grant in context has answered.
 *
 * @since 0.1.0
 * @category accessors
 */
export const requests: Effect.Effect<number, never, TestGrant> = Effect.flatMap(TestGrant, (t) => t.requests)

/**
 * The tokens the test grant in context has issued.
 *
 * @since 0.1.0
 * @category accessors
 */
export const issued: Effect.Effect<ReadonlyArray<Token.Token>, never, TestGrant> = Effect.flatMap(
  TestGrant,
  (t) => t.issued
)

/**
 * When the test grant in context was asked for tokens, by the Clock.
 *
 * @since 0.1.0
 * @category accessors
 */
export const requestTimes: Effect.Effect<ReadonlyArray<DateTime.Utc>, never, TestGrant> = Effect.flatMap(
  TestGrant,
  (t) => t.requestTimes
)

/**
 * Makes the next `n` requests of the test grant in context fail with `error` (default: a 503).
 *
 * @since 0.1.0
 * @category accessors
 */
export const failNext = (n: number, error?: HttpError): Effect.Effect<void, never, TestGrant> =>
  Effect.flatMap(TestGrant, (t) => t.failNext(n, error))

/**
 * Makes the next `n` requests of the test grant in context hang.
 *
 * @since 0.1.0
 * @category accessors
 */
export const hangNext = (n: number): Effect.Effect<void, never, TestGrant> =>
  Effect.flatMap(TestGrant, (t) => t.hangNext(n))

/**
 * Sets the lifetime of the tokens the test grant in context issues from now on.
 *
 * @since 0.1.0
 * @category accessors
 */
export const setLifetime = (lifetime: Duration.DurationInput | null): Effect.Effect<void, never, TestGrant> =>
  Effect.flatMap(TestGrant, (t) => t.setLifetime(lifetime))

/**
 * A test grant made from plain async code (`start`): every member of `Service`, its Effects as functions
 * returning Promises (`await grant.requests()`, `await grant.failNext(1)`), the grant as a layer to give
 * a `TokenService`, and `stop`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Running extends Promised.Promised<Service> {
  /** The `Grant` it serves, as a layer (`TokenService.layer().pipe(Layer.provide(grant.layer))`). */
  readonly layer: Layer.Layer<Grant.Grant>
  /** The Effect side of the same control service. */
  readonly service: Service
  /** Nothing to release (the grant holds no connection or timer): there for symmetry with `AuthServer`. */
  readonly stop: () => Promise<void>
}

/**
 * A test grant for tests written in plain async code: the same grant as `layer`, its control side as
 * Promises. Its time is the Clock of the runtime that uses it (the real one under `TokenManager`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { TokenManager, TokenService } from "tokenlayer"
 * import { TestGrant } from "tokenlayer/testing"
 *
 * const grant = await TestGrant.start({ lifetime: "1 hour" })
 * const tokens = TokenManager.make(TokenService.layer().pipe(Layer.provide(grant.layer)))
 * await tokens.getToken()
 * await tokens.getToken()
 * console.log(await grant.requests()) // 1
 * await tokens.dispose()
 * await grant.stop()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options = {}): Promise<Running> =>
  Promised.run(make(options)).then(([grant, control]) => ({
    ...Promised.promised(control),
    layer: Layer.succeed(Grant.Grant, grant),
    service: control,
    stop: () => Promise.resolve()
  }))

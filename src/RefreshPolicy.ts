/**
 * When a token is due for renewal.
 *
 * A token is due when its remaining life falls below `max(buffer, fraction × lifetime)`, moved earlier
 * by a random amount of up to `jitter` (drawn through Effect's `Random`, once per token, so that a fleet
 * does not renew in the same second and tests are reproducible). The margin before the jitter is at most
 * half the lifetime, and the jitter at most a quarter: a token that lives no longer than the buffer is
 * renewed between a quarter and half-way through its life, not the moment it arrives. A token without `expires_in` is taken
 * to live `assumedLifetime` (5 minutes by default), never forever.
 *
 * The vendors' advice, as presets:
 *
 * | vendor | advice | policy |
 * | --- | --- | --- |
 * | ICEYE | 5 minutes before expiry | `RefreshPolicy.fixed("5 minutes")` |
 * | ThingPark | 10 seconds before expiry | `RefreshPolicy.fixed("10 seconds")` |
 * | Disruptive Technologies | 1 minute before expiry | `RefreshPolicy.fixed("1 minute")` |
 * | seed 004 | 10 % of the lifetime | `RefreshPolicy.fraction(0.1)` |
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type * as Token from "./Token.js"

/**
 * The largest part of a token's lifetime that the margin before expiry may take: a half.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxMargin = 0.5

/**
 * The largest part of a token's lifetime that jitter may add to the margin: a quarter.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxJitter = 0.25

/**
 * The options of a refresh policy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Renew when less than this is left. Default: 0. */
  readonly buffer?: Duration.DurationInput | undefined
  /** Renew when less than this fraction of the lifetime is left (0 to 1). Default: 0. */
  readonly fraction?: number | undefined
  /** Renew up to this much earlier, at random. Default: 0. */
  readonly jitter?: Duration.DurationInput | undefined
  /** The lifetime of a token whose server sent no `expires_in`. Default: 5 minutes. */
  readonly assumedLifetime?: Duration.DurationInput | undefined
}

/**
 * When a token is due and when it expires, in epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Schedule {
  readonly dueAt: number
  readonly expiresAt: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly buffer: Duration.Duration
  readonly fraction: number
  readonly jitter: Duration.Duration
  readonly assumedLifetime: Duration.Duration
  /** When the token expires: its `expiresAt`, or `issuedAt + assumedLifetime`. */
  readonly expiresAt: (token: Token.Token) => DateTime.Utc
  /** When the token is due, without jitter. */
  readonly dueAt: (token: Token.Token) => DateTime.Utc
  /** When the token is due (jitter drawn now, through `Random`) and when it expires. */
  readonly schedule: (token: Token.Token) => Effect.Effect<Schedule>
}

/**
 * The refresh policy service. A `Context.Reference`: when none is provided, a token service renews 5
 * minutes before expiry (the vendors' advice; at most half the token's lifetime, as every policy is
 * capped).
 *
 * @since 0.1.0
 * @category tags
 */
export class RefreshPolicy extends Context.Reference<RefreshPolicy>()("tokenlayer/RefreshPolicy", {
  defaultValue: (): Service => make({ buffer: "5 minutes" })
}) {}

/**
 * Builds a refresh policy as a value.
 *
 * @example
 * ```ts
 * import { RefreshPolicy } from "tokenlayer"
 *
 * // the larger of 1 minute and 10 % of the lifetime, up to 30 s earlier at random
 * const policy = RefreshPolicy.make({ buffer: "1 minute", fraction: 0.1, jitter: "30 seconds" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Service => {
  const buffer = Duration.decode(options.buffer ?? 0)
  const fraction = options.fraction ?? 0
  const jitter = Duration.decode(options.jitter ?? 0)
  const assumedLifetime = Duration.decode(options.assumedLifetime ?? "5 minutes")
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`RefreshPolicy: fraction must be between 0 and 1, got ${fraction}`)
  }
  for (
    const [name, duration] of [["buffer", buffer], ["jitter", jitter], ["assumedLifetime", assumedLifetime]] as const
  ) {
    if (!Duration.isFinite(duration)) throw new RangeError(`RefreshPolicy: ${name} must be finite`)
  }
  if (Duration.toMillis(assumedLifetime) <= 0) throw new RangeError("RefreshPolicy: assumedLifetime must be positive")
  const bufferMillis = Duration.toMillis(buffer)
  const jitterMillis = Duration.toMillis(jitter)
  const assumedMillis = Duration.toMillis(assumedLifetime)

  const expiresAtMillis = (token: Token.Token): number =>
    token.expiresAt === undefined
      ? token.issuedAt.epochMillis + assumedMillis
      : token.expiresAt.epochMillis

  const dueAtMillis = (token: Token.Token, expiresAt: number, jitterDrawn: number): number => {
    const issuedAt = token.issuedAt.epochMillis
    const lifetime = Math.max(0, expiresAt - issuedAt)
    // The margin is never more than half the lifetime, so that a token that lives no longer than the
    // buffer (a 5-minute token with a 5-minute buffer) is renewed half-way, not the moment it arrives;
    // the jitter adds at most a quarter more, so that even such tokens are spread.
    const margin = Math.min(Math.max(bufferMillis, fraction * lifetime), lifetime * maxMargin) +
      Math.min(jitterDrawn, lifetime * maxJitter)
    return Math.floor(expiresAt - margin)
  }

  return {
    buffer,
    fraction,
    jitter,
    assumedLifetime,
    expiresAt: (token) => DateTime.unsafeMake(expiresAtMillis(token)),
    dueAt: (token) => DateTime.unsafeMake(dueAtMillis(token, expiresAtMillis(token), 0)),
    schedule: (token) => {
      const expiresAt = expiresAtMillis(token)
      if (jitterMillis <= 0) return Effect.succeed({ dueAt: dueAtMillis(token, expiresAt, 0), expiresAt })
      return Effect.map(
        Random.nextIntBetween(0, jitterMillis + 1),
        (drawn) => ({ dueAt: dueAtMillis(token, expiresAt, drawn), expiresAt })
      )
    }
  }
}

/**
 * A refresh policy layer.
 *
 * @example
 * ```ts
 * import { RefreshPolicy } from "tokenlayer"
 *
 * const PolicyLive = RefreshPolicy.layer({ buffer: "5 minutes", jitter: "30 seconds" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RefreshPolicy> =>
  Layer.sync(RefreshPolicy, () => make(options))

/**
 * Renew when less than `buffer` is left (ICEYE: `"5 minutes"`, ThingPark: `"10 seconds"`).
 *
 * @example
 * ```ts
 * import { RefreshPolicy } from "tokenlayer"
 *
 * const Iceye = RefreshPolicy.fixed("5 minutes")
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const fixed = (buffer: Duration.DurationInput): Layer.Layer<RefreshPolicy> => layer({ buffer })

/**
 * Renew when less than a fraction of the lifetime is left (seed 004: `0.1`).
 *
 * @example
 * ```ts
 * import { RefreshPolicy } from "tokenlayer"
 *
 * const TenPercent = RefreshPolicy.fraction(0.1)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const fraction = (fraction: number): Layer.Layer<RefreshPolicy> => layer({ fraction })

/**
 * The default policy: the larger of 1 minute and 10 % of the lifetime, with up to 10 s of jitter.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<RefreshPolicy> = layer({
  buffer: "1 minute",
  fraction: 0.1,
  jitter: "10 seconds"
})

/**
 * Faults the embedded `AuthServer`'s token endpoint injects. Re-exported by `AuthServer.ts`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"

/**
 * A fault the token endpoint injects into its answer to one request (`inject`) or to every request
 * (`injectAlways`).
 *
 * - `Status`: that status, with an RFC 6749 §5.2 body when `error` is given (else an empty body), and
 *   `Retry-After: <retryAfter>` when given.
 * - `Hang`: never answers (until the client gives up, or the server's scope closes).
 * - `Reset`: destroys the connection without answering.
 * - `MalformedJson`: 200 with a truncated JSON body. `Html`: 200 with a `text/html` page.
 * - `ExpiresInMissing`, `ExpiresInString` (`expires_in` as a string: `value`, by default the lifetime),
 *   `ExpiresIn` (that many seconds, also what the server itself holds the token to) and `Latency` (the
 *   normal answer after that long, by the Clock) change a normal answer: a request that fails on its own
 *   still fails.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly error?: string | undefined
    readonly description?: string | undefined
    readonly retryAfter?: number | undefined
  }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "MalformedJson" }
  | { readonly _tag: "Html" }
  | { readonly _tag: "ExpiresInMissing" }
  | { readonly _tag: "ExpiresInString"; readonly value?: string | undefined }
  | { readonly _tag: "ExpiresIn"; readonly seconds: number }
  | { readonly _tag: "Latency"; readonly duration: Duration.DurationInput }

/**
 * Constructors of faults.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const program = AuthServer.inject(
 *   AuthServer.Fault.status(503),
 *   AuthServer.Fault.tooManyRequests(30),
 *   AuthServer.Fault.status(400, { error: "invalid_grant" }),
 *   AuthServer.Fault.reset,
 *   AuthServer.Fault.expiresIn(0)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Fault = {
  /** That status; an RFC 6749 body when `error` is given; `Retry-After` (seconds) when `retryAfter` is. */
  status: (
    status: number,
    options: { readonly error?: string; readonly description?: string; readonly retryAfter?: number } = {}
  ): Fault => ({ _tag: "Status", status, ...options }),
  /** 429 with `Retry-After: <seconds>`. */
  tooManyRequests: (retryAfterSeconds: number): Fault => ({
    _tag: "Status",
    status: 429,
    retryAfter: retryAfterSeconds
  }),
  /** Never answers. */
  hang: { _tag: "Hang" } as Fault,
  /** Destroys the connection. */
  reset: { _tag: "Reset" } as Fault,
  /** 200 with a truncated JSON body. */
  malformedJson: { _tag: "MalformedJson" } as Fault,
  /** 200 with an HTML page. */
  html: { _tag: "Html" } as Fault,
  /** A token response without `expires_in`. */
  expiresInMissing: { _tag: "ExpiresInMissing" } as Fault,
  /** A token response whose `expires_in` is a string: `value`, by default the lifetime in seconds. */
  expiresInString: (value?: string): Fault => ({ _tag: "ExpiresInString", value }),
  /** A token that lives `seconds` (0: already due), as the server sees it too. */
  expiresIn: (seconds: number): Fault => ({ _tag: "ExpiresIn", seconds }),
  /** The normal answer after `duration`, by the Clock. */
  latency: (duration: Duration.DurationInput): Fault => ({ _tag: "Latency", duration })
} as const

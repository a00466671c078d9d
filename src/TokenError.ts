/**
 * The typed errors of tokenlayer.
 *
 * Every error is a tagged error that carries data, prints a readable `message`, and never holds a
 * secret or a token: not in its fields, its message, `String(error)`, `JSON.stringify(error)` or
 * `inspect` output.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * A key as messages show it: at most 300 characters (a key made of a megabyte-long client id must not
 * make megabyte-long log lines); the error's `key` field keeps it whole.
 */
const shownKey = (key: string): string => key.length > 300 ? `${key.slice(0, 300)}... (${key.length} characters)` : key

/**
 * No token is cached under this key: nothing was ever stored, or it was removed.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotCached extends Schema.TaggedError<NotCached>()("NotCached", {
  key: Schema.String
}) {
  override get message(): string {
    return `no cached token for ${shownKey(this.key)}`
  }
}

/**
 * A stored token could not be read: bad JSON or a wrong shape. Carries where it was (a file path),
 * never what it contained.
 *
 * @since 0.1.0
 * @category errors
 */
export class Corrupted extends Schema.TaggedError<Corrupted>()("Corrupted", {
  key: Schema.String,
  path: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `stored token for ${shownKey(this.key)}${
      this.path === undefined ? "" : ` at ${this.path}`
    } is corrupted: ${this.reason}`
  }
}

/**
 * The cached token is past its expiry.
 *
 * @since 0.1.0
 * @category errors
 */
export class Expired extends Schema.TaggedError<Expired>()("Expired", {
  key: Schema.String,
  expiredAt: Schema.DateTimeUtcFromSelf
}) {
  override get message(): string {
    return `cached token for ${shownKey(this.key)} expired at ${this.expiredAt.toJSON()}`
  }
}

/**
 * A token store could not do what it was asked (disk full, Redis unreachable, lock not acquired).
 * The token service never fails `get` because of it: it logs the error and fetches on its own.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  key: Schema.String,
  operation: Schema.Literal("load", "save", "remove", "lock"),
  reason: Schema.String
}) {
  override get message(): string {
    return `token store ${this.operation} failed for ${shownKey(this.key)}: ${this.reason}`
  }
}

/**
 * What went wrong with a token request.
 *
 * - `Transport`: no answer (connection refused or reset, DNS, TLS, the body could not be read);
 * - `Timeout`: an attempt took longer than the retry policy's per-attempt timeout;
 * - `Status`: the server answered with a non-2xx status;
 * - `Decode`: the server answered 2xx with something that is not an RFC 6749 §5.1 token response.
 *
 * @since 0.1.0
 * @category models
 */
export type HttpErrorReason = "Transport" | "Timeout" | "Status" | "Decode"

/**
 * A token request failed. Carries the HTTP status, the RFC 6749 §5.2 `error` code, description and
 * URI when the server sent them, and the server's `Retry-After`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenError, TokenService } from "tokenlayer"
 *
 * const program = Effect.gen(function*() {
 *   const tokens = yield* TokenService.TokenService
 *   return yield* tokens.get
 * }).pipe(
 *   Effect.catchTag("HttpError", (error) =>
 *     error.isTransient
 *       ? Effect.logWarning(`token endpoint unavailable: ${error.message}`)
 *       : Effect.die(error))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends Schema.TaggedError<HttpError>()("HttpError", {
  reason: Schema.Literal("Transport", "Timeout", "Status", "Decode"),
  /** The token endpoint (or, for the device flow, the endpoint that failed). */
  url: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number),
  /** RFC 6749 §5.2 `error` code, such as `invalid_client`. */
  error: Schema.optional(Schema.String),
  /** RFC 6749 §5.2 `error_description`, as the server sent it. */
  errorDescription: Schema.optional(Schema.String),
  /** RFC 6749 §5.2 `error_uri`. */
  errorUri: Schema.optional(Schema.String),
  /** The server's `Retry-After`, when it sent one. */
  retryAfter: Schema.optional(Schema.DurationFromSelf),
  /** What tokenlayer saw, in words (never the body, never a secret). */
  detail: Schema.optional(Schema.String),
  /** The token source that failed, nothing sent (`file /var/run/secrets/token`: see `TokenSource`). */
  source: Schema.optional(Schema.String)
}) {
  /**
   * Whether trying again may help: transport errors, timeouts, 408, 429, 5xx, and 4xx without an
   * RFC 6749 error code (or with `temporarily_unavailable` / `server_error`).
   */
  get isTransient(): boolean {
    return isTransient(this)
  }

  override get message(): string {
    const parts: Array<string> = [`token request failed (${this.reason.toLowerCase()}`]
    if (this.status !== undefined) parts.push(` ${this.status}`)
    parts.push(")")
    if (this.error !== undefined) {
      parts.push(`: ${this.error}`)
      if (this.errorDescription !== undefined) parts.push(` (${this.errorDescription})`)
    }
    if (this.detail !== undefined) parts.push(`: ${this.detail}`)
    if (this.retryAfter !== undefined) parts.push(`; retry after ${Duration.format(this.retryAfter)}`)
    if (this.url !== undefined) parts.push(` [${this.url}]`)
    return parts.join("")
  }
}

/**
 * Every error a token operation can end in.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenError = NotCached | Corrupted | Expired | HttpError

/**
 * RFC 6749 error codes that say "the server is in trouble, not your request".
 */
const transientErrorCodes: ReadonlySet<string> = new Set(["temporarily_unavailable", "server_error"])

/**
 * Whether a token request that failed this way may succeed if tried again.
 *
 * Transport errors, timeouts, 408, 429, 5xx, and 4xx without an RFC 6749 `error` code are transient;
 * `invalid_client`, `invalid_grant`, `unauthorized_client`, `invalid_scope` and other error codes are
 * not. A 2xx body that is not a token response (`Decode`) is not.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient = (error: HttpError): boolean => {
  switch (error.reason) {
    case "Transport":
    case "Timeout":
      return true
    case "Decode":
      return false
    case "Status": {
      const status = error.status ?? 0
      if (status === 408 || status === 429 || status >= 500) return true
      if (error.error !== undefined) return transientErrorCodes.has(error.error)
      return status >= 400 && status < 500
    }
  }
}

/**
 * Whether a value is one of tokenlayer's errors.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTokenError = (u: unknown): u is TokenError =>
  Predicate.isTagged(u, "NotCached") || Predicate.isTagged(u, "Corrupted") || Predicate.isTagged(u, "Expired") ||
  Predicate.isTagged(u, "HttpError")

// -----------------------------------------------------------------------------
// RFC 6749 / RFC 8628 error codes
// -----------------------------------------------------------------------------

/**
 * Whether the token endpoint refused the grant itself (RFC 6749 §5.2 `invalid_grant`): a refresh token
 * that is revoked, expired, already used (rotation) or unknown, a device code that was already used, an
 * assertion that was refused. Trying again with the same grant cannot help: it takes a new login (the
 * device flow does that on its own). Not transient.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenError, TokenService } from "tokenlayer"
 *
 * const program = TokenService.get.pipe(
 *   Effect.catchIf(TokenError.isInvalidGrant, () => Effect.dieMessage("the refresh token is dead: log in again"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isInvalidGrant = (error: HttpError): boolean => error.error === "invalid_grant"

/**
 * Whether the user (or the server) refused the authorization: RFC 8628 §3.5 `access_denied`, the user
 * denied the device flow's request. Not transient.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isAccessDenied = (error: HttpError): boolean => error.error === "access_denied"

/**
 * Whether the device code expired before the user approved it (RFC 8628 §3.5 `expired_token`), as the
 * server said or as the device flow found when the code's `expires_in` ran out. Not transient: a new
 * device flow is needed.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isExpiredToken = (error: HttpError): boolean => error.error === "expired_token"

/**
 * A signing key that cannot sign: a PEM that is not a private key, a key that does not fit the
 * algorithm (an RSA key for ES256), a public key where a private one is needed. Raised when a JWT
 * grant or client authentication method is built (`Grant.jwtBearer`'s layer,
 * `ClientAuth.privateKeyJwt`), never by a token request: a bad key is a configuration mistake, not a
 * failure of the token endpoint, and trying again cannot help. Never shows the key.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyError extends Schema.TaggedError<KeyError>()("KeyError", {
  /** What the key is for: `jwt-bearer`, `client_secret_jwt` or `private_key_jwt`. */
  purpose: Schema.String,
  /** The JWS algorithm asked for or inferred (`RS256`), when known. */
  alg: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.purpose}: cannot sign${this.alg === undefined ? "" : ` ${this.alg}`} assertions: ${this.reason}`
  }
}

/**
 * A token source (`TokenSource`: a file, an environment variable, another service, your effect) could
 * not give a usable token. Names the source (`file /var/run/secrets/tokens/token`, `env
 * GITHUB_TOKEN`), never what it held.
 *
 * - `Missing`: no such file, an unset or empty variable;
 * - `Unreadable`: the file could not be read (permissions, I/O);
 * - `Unsafe`: not a regular file, or writable by other users;
 * - `TooLarge`: more bytes than a token may have;
 * - `Invalid`: not a token (a control character, a space, a JWT that does not decode);
 * - `Expired`: the token's `exp` has passed (nothing is sent with it);
 * - `Failed`: your effect failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenSourceError extends Schema.TaggedError<TokenSourceError>()("TokenSourceError", {
  source: Schema.String,
  reason: Schema.Literal("Missing", "Unreadable", "Unsafe", "TooLarge", "Invalid", "Expired", "Failed"),
  detail: Schema.String,
  expiredAt: Schema.optional(Schema.DateTimeUtcFromSelf)
}) {
  override get message(): string {
    return `token source ${this.source}: ${this.detail}`
  }
}

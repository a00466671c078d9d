/**
 * What every token source shares: reading a token file safely, a JWT's `exp` read without verifying,
 * and the check made before a source's token goes into a request (not expired, else a typed error that
 * names the source, nothing sent). The public module is `TokenSource.ts`.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs/promises"
import type * as Token from "../Token.js"
import { HttpError, TokenSourceError } from "../TokenError.js"
import { visibleAscii } from "./tokenText.js"

/** @internal */
export interface SourceToken {
  readonly token: Redacted.Redacted<string>
  readonly tokenType: string
  readonly expiresAt?: DateTime.Utc | undefined
}

/** @internal */
export interface TokenSource {
  readonly name: string
  readonly tokenType: string
  readonly get: Effect.Effect<SourceToken, TokenSourceError | HttpError>
  readonly renew: Effect.Effect<SourceToken, TokenSourceError | HttpError>
}

/** The most bytes of a token a source reads: 64 KiB (a Kubernetes token is about 1 KiB). @internal */
export const maxTokenBytes = 64 * 1024

/**
 * A JWT's `exp`, read without verifying (the server verifies): `undefined` for a token that is not a
 * JWT or has no numeric `exp`. Bounded: only tokens up to `maxTokenBytes` are decoded.
 *
 * @internal
 */
export const jwtExpiry = (token: string): DateTime.Utc | undefined => {
  if (token.length > maxTokenBytes) return undefined
  const parts = token.split(".")
  if (parts.length !== 3 || parts[1] === undefined || !/^[A-Za-z0-9_-]+$/.test(parts[1])) return undefined
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"))
    if (typeof claims !== "object" || claims === null) return undefined
    const exp = (claims as Record<string, unknown>).exp
    if (typeof exp !== "number" || !Number.isFinite(exp) || exp < 0 || exp > 253402300799) return undefined
    return DateTime.unsafeMake(exp * 1000)
  } catch {
    return undefined
  }
}

/**
 * A token's text as a source gives it: surrounding whitespace (a file's final newline) removed, then
 * it must be visible ASCII; its expiry the JWT's `exp` when there is one.
 *
 * @internal
 */
export const fromText = (
  source: string,
  tokenType: string,
  text: string,
  expiresAt?: DateTime.Utc
): Effect.Effect<SourceToken, TokenSourceError> => {
  const token = text.trim()
  if (token === "") {
    return Effect.fail(new TokenSourceError({ source, reason: "Missing", detail: "it holds no token (empty)" }))
  }
  if (!visibleAscii.test(token)) {
    return Effect.fail(
      new TokenSourceError({
        source,
        reason: "Invalid",
        detail: "not a token (a space, a control character or a character outside ASCII)"
      })
    )
  }
  return Effect.succeed({ token: Redacted.make(token), tokenType, expiresAt: expiresAt ?? jwtExpiry(token) })
}

const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/**
 * A token file's text, read safely: symbolic links are followed (a Kubernetes projected token is a
 * link into `..data/`), but what they lead to must be a regular file that other users cannot write,
 * of at most `maxBytes`; the size is checked on the open file and the read is bounded by it, so a file
 * that grows meanwhile is never read whole. Errors name the path, never the contents.
 *
 * @internal
 */
export const readTokenFile = (path: string, maxBytes: number): Effect.Effect<string, TokenSourceError> => {
  const source = `file ${path}`
  const fail = (reason: TokenSourceError["reason"], detail: string) => new TokenSourceError({ source, reason, detail })
  return Effect.tryPromise({
    try: async () => {
      const handle = await fs.open(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0))
      try {
        const stat = await handle.stat()
        if (!stat.isFile()) throw fail("Unsafe", "not a regular file")
        if ((stat.mode & 0o002) !== 0) throw fail("Unsafe", "writable by every user (mode o+w): refused")
        if (stat.size > maxBytes) throw fail("TooLarge", `larger than ${maxBytes} bytes`)
        const buffer = Buffer.alloc(maxBytes + 1)
        let length = 0
        while (length <= maxBytes) {
          const { bytesRead } = await handle.read(buffer, length, maxBytes + 1 - length, length)
          if (bytesRead === 0) break
          length += bytesRead
        }
        if (length > maxBytes) throw fail("TooLarge", `larger than ${maxBytes} bytes`)
        return buffer.subarray(0, length).toString("utf8")
      } finally {
        await handle.close()
      }
    },
    catch: (error) => {
      if (error instanceof TokenSourceError) return error
      const code = errnoOf(error)
      return code === "ENOENT"
        ? fail("Missing", "no such file")
        : code === "EACCES" || code === "EPERM"
        ? fail("Unreadable", "permission denied")
        : fail("Unreadable", `cannot be read (${code ?? "I/O error"})`)
    }
  })
}

/**
 * A source's error as the grants' error: an `HttpError` that names the source, not transient, nothing
 * sent. An `HttpError` (another service's token request failed) stays as it is.
 *
 * @internal
 */
export const toHttpError = (error: TokenSourceError | HttpError): HttpError =>
  error._tag === "HttpError"
    ? error
    : new HttpError({ reason: "Decode", source: error.source, detail: `${error.message}; nothing was sent` })

/**
 * The token a request is about to carry: from the source, renewed when it is no newer than the one
 * behind the token held now (`current`: an exchanged token capped by it, due again at once), and not
 * expired by the Clock.
 *
 * @internal
 */
export const usable = (
  source: TokenSource,
  current: Option.Option<Token.Token> = Option.none()
): Effect.Effect<SourceToken, HttpError> =>
  Effect.gen(function*() {
    let got = yield* source.get
    const held = Option.getOrUndefined(current)?.expiresAt
    if (held !== undefined && got.expiresAt !== undefined && !DateTime.greaterThan(got.expiresAt, held)) {
      got = yield* source.renew
    }
    const now = yield* DateTime.now
    if (got.expiresAt !== undefined && !DateTime.lessThan(now, got.expiresAt)) {
      return yield* Effect.fail(
        new TokenSourceError({
          source: source.name,
          reason: "Expired",
          detail: `its token expired at ${DateTime.formatIso(got.expiresAt)}`,
          expiredAt: got.expiresAt
        })
      )
    }
    return got
  }).pipe(Effect.mapError(toHttpError))

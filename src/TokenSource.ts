/**
 * Where a token that is traded or presented comes from: the subject (and actor) token of a token
 * exchange (RFC 8693), the assertion of a JWT client assertion or JWT bearer grant (RFC 7523). A
 * workload already holds a short-lived identity (a Kubernetes projected service account token, a CI
 * job's OIDC token, another service's access token); a source hands out its current value, `Redacted`,
 * with its type and, when known, its expiry (a JWT's `exp`, read without verifying).
 *
 * A source is read before each request that needs it, so a file that rotates on disk is picked up
 * without a restart. A token that has expired is never sent: the request fails with an `HttpError`
 * whose `source` names the source (never its contents).
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as internal from "./internal/tokenSource.js"
import { HttpError, TokenSourceError } from "./TokenError.js"
import type * as TokenService from "./TokenService.js"

/**
 * The token types of RFC 8693 §3 (`subject_token_type`, `actor_token_type`, `requested_token_type`).
 *
 * @since 0.1.0
 * @category constants
 */
export const TokenType = {
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  refreshToken: "urn:ietf:params:oauth:token-type:refresh_token",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  saml1: "urn:ietf:params:oauth:token-type:saml1",
  saml2: "urn:ietf:params:oauth:token-type:saml2"
} as const

/**
 * A source's token: its value (`Redacted`), its RFC 8693 type, and its expiry when known.
 *
 * @since 0.1.0
 * @category models
 */
export type SourceToken = internal.SourceToken

/**
 * A token source: its `name` (in keys and errors: `file /path`, `env NAME`), the type of its tokens,
 * `get` (the current token) and `renew` (a newer one, when the source can make one: another service's
 * refresh; else as `get`).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenSource = internal.TokenSource

/**
 * The options of the sources that read text.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The RFC 8693 type of the token. Default: `TokenType.jwt` (what workload identities are). */
  readonly tokenType?: string | undefined
}

/**
 * A token file, read before each use (Kubernetes rotates projected service account tokens on disk,
 * Azure workload identity names its file in `AZURE_FEDERATED_TOKEN_FILE`). Surrounding whitespace is
 * dropped; a JWT's `exp` is its expiry.
 *
 * Read safely: symbolic links are followed, since a projected token is a link into the volume's
 * `..data/` directory (the directory is the kubelet's, and no other user may change where the link
 * points); what they lead to must be a regular file that not every user can write, of at most
 * `maxBytes` (64 KiB by default). A missing, unsafe, oversized or unreadable file fails with a
 * `TokenSourceError` naming the path, never the contents.
 *
 * @example
 * ```ts
 * import { TokenSource } from "tokenlayer"
 *
 * const subject = TokenSource.file("/var/run/secrets/tokens/api-token")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const file = (path: string, options: Options & { readonly maxBytes?: number | undefined } = {}): TokenSource => {
  const name = `file ${path}`
  const tokenType = options.tokenType ?? TokenType.jwt
  const get = Effect.flatMap(
    internal.readTokenFile(path, options.maxBytes ?? internal.maxTokenBytes),
    (text) => internal.fromText(name, tokenType, text)
  )
  return { name, tokenType, get, renew: get }
}

/**
 * An environment variable, read before each use (a CI job's token). Unset or empty: a
 * `TokenSourceError` of reason `Missing` naming the variable.
 *
 * @example
 * ```ts
 * import { TokenSource } from "tokenlayer"
 *
 * const subject = TokenSource.env("CI_JOB_JWT", { tokenType: TokenSource.TokenType.jwt })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const env = (variable: string, options: Options = {}): TokenSource => {
  const name = `env ${variable}`
  const tokenType = options.tokenType ?? TokenType.jwt
  const get = Effect.suspend(() => {
    const value = process.env[variable]
    return value === undefined
      ? Effect.fail(new TokenSourceError({ source: name, reason: "Missing", detail: "the variable is not set" }))
      : internal.fromText(name, tokenType, value)
  })
  return { name, tokenType, get, renew: get }
}

/**
 * What the effect of a source you write gives: the token (`Redacted` or plain text), or the token with
 * its expiry when your source knows it better than a JWT's `exp`.
 *
 * @since 0.1.0
 * @category models
 */
export type Yielded =
  | Redacted.Redacted<string>
  | string
  | { readonly token: Redacted.Redacted<string>; readonly expiresAt?: DateTime.Utc | undefined }

/**
 * A source you write: a metadata server call, a CI runner's OIDC endpoint. The effect runs before each
 * use; what it gives is checked as a file's text is. It may fail with a `TokenSourceError` or an
 * `HttpError` (kept as they are, so a transient failure is retried); any other failure becomes a
 * `TokenSourceError` of reason `Failed` that names the source and the failure's tag, not its message
 * (which may quote what it was given).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { TokenSource } from "tokenlayer"
 *
 * const fromMetadata = TokenSource.make({
 *   name: "metadata server",
 *   tokenType: TokenSource.TokenType.jwt,
 *   token: Effect.succeed(Redacted.make("eyJ..."))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(options: {
  readonly name: string
  readonly tokenType?: string | undefined
  readonly token: Effect.Effect<Yielded, E>
}): TokenSource => {
  const { name } = options
  const tokenType = options.tokenType ?? TokenType.jwt
  const get = options.token.pipe(
    Effect.mapError((error): TokenSourceError | HttpError =>
      error instanceof TokenSourceError || error instanceof HttpError
        ? error
        : new TokenSourceError({
          source: name,
          reason: "Failed",
          detail: `the source failed${
            typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
              ? ` (${error._tag.slice(0, 100)})`
              : ""
          }`
        })
    ),
    Effect.flatMap((yielded) =>
      typeof yielded === "string"
        ? internal.fromText(name, tokenType, yielded)
        : Redacted.isRedacted(yielded)
        ? internal.fromText(name, tokenType, Redacted.value(yielded))
        : internal.fromText(name, tokenType, Redacted.value(yielded.token), yielded.expiresAt)
    )
  )
  return { name, tokenType, get, renew: get }
}

/**
 * A fixed token (a test, a token handed to your program once). Its JWT `exp`, when it has one, still
 * counts: once past, it is refused.
 *
 * @since 0.1.0
 * @category constructors
 */
export const succeed = (token: Redacted.Redacted<string>, options: Options & { readonly name?: string } = {}) =>
  make({ name: options.name ?? "fixed token", tokenType: options.tokenType, token: Effect.succeed(token) })

const fromService = (service: TokenService.Service, tokenType: string): TokenSource => {
  const toSource = Effect.map(
    (token: { readonly accessToken: Redacted.Redacted<string>; readonly expiresAt?: DateTime.Utc | undefined }) => ({
      token: token.accessToken,
      tokenType,
      expiresAt: token.expiresAt
    })
  )
  return {
    name: `service ${service.key}`,
    tokenType,
    get: toSource(service.get),
    renew: toSource(service.refresh)
  }
}

/**
 * Another `TokenService`'s tokens (chains, on-behalf-of): its access token, of type
 * `TokenType.accessToken`, expiring when it does, renewed by that service. Given the service, a source;
 * given its Tag, an effect that reads the service from the context.
 *
 * When the token exchanged from it is due no later than the service's token (an exchanged token is
 * capped by its subject's expiry), the exchange asks the service for a new token first (`refresh`), so
 * renewing the outer token renews the inner one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenService, TokenSource } from "tokenlayer"
 *
 * const subject = TokenSource.fromTokenService(TokenService.TokenService) // Effect<TokenSource, never, TokenService>
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromTokenService: {
  <I>(tag: Context.Tag<I, TokenService.Service>, options?: Options): Effect.Effect<TokenSource, never, I>
  (service: TokenService.Service, options?: Options): TokenSource
} = ((
  tagOrService: Context.Tag<unknown, TokenService.Service> | TokenService.Service,
  options: Options = {}
) => {
  const tokenType = options.tokenType ?? TokenType.accessToken
  return Effect.isEffect(tagOrService)
    ? Effect.map(tagOrService as Context.Tag<unknown, TokenService.Service>, (s) => fromService(s, tokenType))
    : fromService(tagOrService as TokenService.Service, tokenType)
}) as never

/**
 * The token a request is about to carry: the source's, checked not to have expired by the `Clock`. An
 * expired token, or a source that cannot give one, fails with an `HttpError` whose `source` names the
 * source; nothing is sent.
 *
 * @since 0.1.0
 * @category utils
 */
export const usable: (source: TokenSource) => Effect.Effect<SourceToken, HttpError> = (source) =>
  internal.usable(source)

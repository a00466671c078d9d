/**
 * What a token must look like to go into an `Authorization` header as it is.
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"

/**
 * Visible ASCII, no space: RFC 6749's VSCHAR without the space, a superset of RFC 6750's b64token.
 *
 * @internal
 */
export const visibleAscii = /^[\x21-\x7E]+$/

/**
 * An RFC 9110 token (`tchar`s): what an authentication scheme is made of. At most 64 characters.
 *
 * @internal
 */
export const schemeToken = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/

/**
 * Why a token cannot go into an `Authorization` header (see `Token.headerProblem`).
 *
 * @internal
 */
export const headerProblem = (
  token: { readonly accessToken: Redacted.Redacted<string>; readonly tokenType: string }
): string | undefined =>
  !visibleAscii.test(Redacted.value(token.accessToken))
    ? "access_token must be a non-empty string of visible ASCII"
    : !schemeToken.test(token.tokenType)
    ? "token_type must be a token (letters, digits, -._~+ and the like; no space or control character)"
    : undefined

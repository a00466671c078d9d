/**
 * `tokenlayer token` (the access token, and nothing else) and `tokenlayer header` (the `Authorization`
 * header that carries it).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Token from "../../Token.js"
import type * as Args from "../Args.js"
import * as Errors from "../Errors.js"
import * as Output from "../Output.js"
import * as Sanitize from "../Sanitize.js"
import * as Tokens from "../Tokens.js"

/**
 * What goes on stdout to be used as it is is checked, not escaped (an escaped token is another token):
 * a token that is not visible ASCII, or a `token_type` that is not an HTTP token (a CR/LF in it would
 * add a header of the server's choosing to `curl -H "$(tokenlayer header)"`), is refused.
 */
const printable = (settings: { readonly profile: string }, token: Token.Token, withType: boolean) => {
  const refuse = (what: string) =>
    Effect.fail(Errors.config(
      `profile ${settings.profile}: ${what}, so it is not printed: check the token URL of the profile ` +
        `(tokenlayer logout deletes a cached token)`
    ))
  if (!Sanitize.isVisibleAscii(Redacted.value(token.accessToken))) {
    return refuse("the access token holds characters other than visible ASCII")
  }
  if (withType && !Sanitize.isHttpToken(token.tokenType)) {
    return refuse(
      `the token type "${Errors.oneLine(token.tokenType, 60)}" is not an HTTP authentication scheme`
    )
  }
  return Effect.void
}

/** A valid token that can be printed as it is (`printable`). */
const printableToken = (flags: Args.Parsed["values"], withType: boolean) =>
  Effect.tap(Tokens.validToken(flags), ({ settings, token }) => printable(settings, token, withType))

/**
 * `tokenlayer token`: prints a valid access token.
 *
 * @since 0.1.0
 * @category commands
 */
export const token = (parsed: Args.Parsed) =>
  Effect.flatMap(printableToken(parsed.values, false), ({ token }) => Output.out(Redacted.value(token.accessToken)))

/**
 * `tokenlayer header`: prints `Authorization: <type> <token>`.
 *
 * @since 0.1.0
 * @category commands
 */
export const header = (parsed: Args.Parsed) =>
  Effect.flatMap(
    printableToken(parsed.values, true),
    ({ token }) => Output.out(`Authorization: ${Token.authorizationHeader(token)}`)
  )

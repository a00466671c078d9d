/**
 * What the `tokenlayer` command tells a script when it fails: an exit code per kind of failure and one
 * line on stderr that says what happened and what to do.
 *
 * | code | kind | meaning |
 * | --- | --- | --- |
 * | 0 | | success |
 * | 1 | `unexpected` | a bug or an unexpected failure (please report it) |
 * | 2 | `usage` | unknown command, option or value |
 * | 3 | `config` | a profile, setting, secret, file or directory is missing or wrong |
 * | 4 | `refused` | the server refused: the RFC 6749 `error` and its description are shown |
 * | 5 | `unavailable` | the server could not be reached, timed out, or is in trouble (5xx, 429) |
 * | 6 | `login` | no valid token and none can be had without a person: run `tokenlayer login` |
 * | 130 | | interrupted (Ctrl-C) |
 *
 * A usage error is any bad command line, flag or `TOKENLAYER_*` variable: an unknown command or option,
 * an option without its value, a value that is not one of the choices, not a number in range, not a
 * duration, not a URL, or too long; the message names the option (or variable) and the value (except
 * where the value may be a secret). The same mistakes in a profile of the config file are `config`.
 * `--timeout` running out is `unavailable`.
 *
 * Messages never hold a secret or a token: they are built from the typed errors of tokenlayer (which
 * hold neither) and from what the server said (its error code and description, on one line, every
 * control character escaped: `Sanitize`).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as TokenError from "../TokenError.js"
import * as Sanitize from "./Sanitize.js"

/**
 * The exit codes of the `tokenlayer` command.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = {
  success: 0,
  unexpected: 1,
  usage: 2,
  config: 3,
  refused: 4,
  unavailable: 5,
  login: 6
} as const

/**
 * The exit codes in one line, for the help.
 *
 * @since 0.1.0
 * @category constants
 */
export const exitCodeSummary = "0 success, 1 unexpected failure, 2 bad usage (command, option or value), " +
  "3 configuration (profile, secret, file), 4 refused by the server, 5 server unreachable, failing or too " +
  "slow (--timeout), 6 login needed (tokenlayer login)"

/**
 * The kinds of failure, each with its exit code.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = Exclude<keyof typeof ExitCode, "success">

/**
 * A failure of the command: its kind (and so its exit code) and the one line shown on stderr.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly kind: Kind
  /** One line: what happened, and what to do. */
  readonly text: string
}> {
  override get message(): string {
    return this.text
  }
  get exitCode(): number {
    return ExitCode[this.kind]
  }
}

/**
 * A configuration failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (text: string): CliError => new CliError({ kind: "config", text })

/**
 * A usage failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const usage = (text: string): CliError => new CliError({ kind: "usage", text })

/**
 * Text from outside (a server's error description, a command-line parser's message) as one safe line:
 * every control character, bidirectional control and line break escaped (`\x1b`, `\u009b`, `\u202e`,
 * `\n`: see `Sanitize.escape`), runs of spaces made one, at most `max` characters.
 *
 * @since 0.1.0
 * @category formatting
 */
export const oneLine = (text: string, max = 300): string => Sanitize.oneLine(text, max)

/** What to do about an RFC 6749 / RFC 8628 error code. */
const advice: Readonly<Record<string, string>> = {
  invalid_client: "check the client id, the client secret and the client authentication method (--client-auth)",
  unauthorized_client: "this client may not use this grant: check the grant (--grant) and the client's settings",
  invalid_grant: "the grant was refused (a revoked or expired login, a refused assertion): run tokenlayer login",
  invalid_scope: "check the scope (--scope) against what the client may ask for",
  invalid_request: "check the profile's settings (grant, client authentication, scope, audience)",
  unsupported_grant_type: "the server does not support this grant: check --grant",
  access_denied: "the login was denied: run tokenlayer login again and approve it",
  expired_token: "the code expired before it was approved: run tokenlayer login again",
  login_required: "run tokenlayer login"
}

/** The refused/unavailable/config kind of an `HttpError`. */
const kindOf = (error: TokenError.HttpError): Kind => {
  switch (error.reason) {
    case "Transport":
    case "Timeout":
      return "unavailable"
    case "Decode":
      return "config"
    case "Status": {
      if (error.error === "login_required") return "login"
      const status = error.status ?? 0
      // no such endpoint: a wrong URL, whatever the body says
      if (status === 404 || status === 405) return "config"
      if (error.error === "temporarily_unavailable" || error.error === "server_error") return "unavailable"
      if (error.error !== undefined) return "refused"
      if (status === 408 || status === 429 || status >= 500) return "unavailable"
      return "refused"
    }
  }
}

/**
 * What a failed request to the authorization server means for the user, as a `CliError`.
 *
 * - a refusal with an RFC 6749 error: exit 4, the code and the server's description, and what to do;
 * - no answer, a timeout, 5xx or 429: exit 5;
 * - 404/405, or an answer that is not a token response or metadata document: exit 3 (check the URL);
 * - `login_required` (the device flow would have to ask the user): exit 6.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHttpError = (error: TokenError.HttpError, context: { readonly profile: string }): CliError => {
  const kind = kindOf(error)
  const where = error.url === undefined ? "" : ` at ${oneLine(error.url, 200)}`
  const who = `profile ${context.profile}`
  switch (kind) {
    case "login":
      return new CliError({
        kind,
        text: `${who}: not logged in, or the login expired: run tokenlayer login${profileFlag(context.profile)}`
      })
    case "refused": {
      const code = error.error === undefined ? "no error code" : error.error
      const description = error.errorDescription === undefined ? "" : ` (${oneLine(error.errorDescription, 200)})`
      const status = error.status === undefined ? "" : `${error.status}: `
      const todo = (error.error === undefined ? undefined : advice[error.error]) ??
        "check the client id, the client secret and the profile's settings"
      return new CliError({
        kind,
        text: `${who}: the server refused${where}: ${status}${oneLine(code, 80)}${description}; ${todo}`
      })
    }
    case "unavailable": {
      const what = error.reason === "Status"
        ? `answered ${error.status ?? "an error"}${error.error === undefined ? "" : ` ${oneLine(error.error, 80)}`}`
        : error.reason === "Timeout"
        ? "did not answer in time"
        : `could not be reached (${oneLine(error.detail ?? "no answer", 200)})`
      const todo = error.status === 429 || error.retryAfter !== undefined
        ? `it asks to wait${
          error.retryAfter === undefined ? "" : ` ${Math.ceil(Duration.toSeconds(error.retryAfter))}s (Retry-After)`
        } before trying again`
        : "check the URL and the network, and try again later"
      return new CliError({ kind, text: `${who}: the authorization server${where} ${what}; ${todo}` })
    }
    default: {
      const what = error.reason === "Status"
        ? `answered ${error.status ?? "an error"}${
          error.error === undefined
            ? ""
            : ` (${oneLine(error.error, 80)}${
              error.errorDescription === undefined ? "" : `: ${oneLine(error.errorDescription, 150)}`
            })`
        }`
        : `answered with something unexpected (${oneLine(error.detail ?? "not a token response", 200)})`
      return new CliError({
        kind: "config",
        text: `${who}: the server${where} ${what}; check the token URL or issuer of the profile`
      })
    }
  }
}

/** ` --profile <name>` for a named profile, nothing for settings given without one. */
export const profileFlag = (profile: string): string => profile.startsWith("(") ? "" : ` --profile ${profile}`

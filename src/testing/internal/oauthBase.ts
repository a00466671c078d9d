/**
 * The protocol's primitives that every part of the embedded server uses: the error answer, form
 * parameters, scopes. A module of their own, so that `jwtServer.ts` and `oauthServer.ts` do not import
 * each other.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type { Client } from "./oauthServer.js"

/** @internal */
export const realm = "tokenlayer"

/**
 * An RFC 6749 §5.2 error answer: status, `error` code, `error_description`, and extra headers
 * (`WWW-Authenticate` for `invalid_client`).
 *
 * @internal
 */
export class OAuthError extends Data.TaggedError("OAuthError")<{
  readonly status: number
  readonly error: string
  readonly description: string
  readonly headers?: Readonly<Record<string, string>>
}> {}

/** @internal */
export const invalidRequest = (description: string): OAuthError =>
  new OAuthError({ status: 400, error: "invalid_request", description })

/** A single form parameter, refusing repeats (RFC 6749 §3.2: parameters MUST NOT be included more than once). */
export const param = (form: URLSearchParams, name: string): Either.Either<string | undefined, OAuthError> => {
  const values = form.getAll(name)
  if (values.length > 1) return Either.left(invalidRequest(`the ${name} parameter is repeated`))
  return Either.right(values[0])
}

/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/**
 * The scope granted for a requested `scope` parameter: what was asked (duplicates removed), else every
 * scope the client registered. A client with registered scopes gets `invalid_scope` for any other (with
 * `scopePolicy: "narrow"`, the others are dropped, and `invalid_scope` only when none is left).
 *
 * @internal
 */
export const grantedScope = (
  client: Client,
  requested: string | undefined
): Either.Either<ReadonlyArray<string>, OAuthError> => {
  const asked = (requested ?? "").split(" ").filter((s) => s !== "")
  const invalid = asked.find((s) => !scopeToken.test(s))
  if (invalid !== undefined) {
    return Either.left(new OAuthError({ status: 400, error: "invalid_scope", description: "malformed scope" }))
  }
  if (asked.length === 0) return Either.right(client.scopes ?? [])
  if (client.scopes !== undefined) {
    const unknown = asked.filter((s) => !client.scopes!.includes(s))
    // RFC 6749 §3.3: the server may issue less than asked (and says so in the answer's `scope`)
    const kept = asked.filter((s) => client.scopes!.includes(s))
    if (unknown.length > 0 && client.scopePolicy === "narrow" && kept.length > 0) {
      return Either.right([...new Set(kept)])
    }
    if (unknown.length > 0) {
      return Either.left(
        new OAuthError({
          status: 400,
          error: "invalid_scope",
          description: `client ${client.id} may not ask for ${unknown.join(" ")}`
        })
      )
    }
  }
  return Either.right([...new Set(asked)])
}

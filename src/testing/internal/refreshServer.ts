/**
 * Refresh tokens in the embedded `AuthServer`: issued with device-flow tokens and by the
 * `issueRefreshToken` test hook, traded at the token endpoint (`grant_type=refresh_token`, RFC 6749 §6).
 *
 * Each login starts a *family*. A client registered with `refreshTokens: "rotate"` (the default) gets a
 * new refresh token with every refresh and the old one is spent; replaying a spent one is refused with
 * `invalid_grant` and revokes the whole family, its refresh and access tokens (OAuth 2.0 Security BCP
 * §4.14.2: the server cannot tell the thief from the client). With `"reuse"` the refresh token stays
 * valid and refresh answers carry no `refresh_token` (the client keeps its own, RFC 6749 §6). With
 * `"none"` device-flow answers carry no refresh token.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as AuthServer from "../AuthServer.js"
import * as OAuth from "./oauthServer.js"

interface Family {
  readonly clientId: string
  readonly scope: ReadonlyArray<string>
  /** The access tokens issued by refreshes of this family (and the login that started it). */
  readonly accessTokens: Array<OAuth.TokenRecord>
  revoked: boolean
}

/**
 * A refresh token the server issued. `spent` when it was traded for a rotated one.
 *
 * @internal
 */
export interface RefreshRecord {
  readonly value: string
  readonly family: Family
  readonly issuedAt: DateTime.Utc
  spent: boolean
}

/**
 * The refresh token state of one server.
 *
 * @internal
 */
export interface RefreshTokens {
  /** Records a client's `refreshTokens` setting. */
  readonly register: (client: AuthServer.ClientRegistration) => void
  readonly mode: (clientId: string) => AuthServer.RefreshTokenMode
  /** Starts a family (a login) and returns its first refresh token; `login` is the access token it came with. */
  readonly issue: (
    clientId: string,
    scope: ReadonlyArray<string>,
    login?: OAuth.TokenRecord
  ) => Effect.Effect<string>
  /** Revokes the family of a refresh token (of that client, when given). `true` when it was live. */
  readonly revoke: (value: string, clientId?: string) => boolean
  /** Revokes every family of a client; how many refresh tokens were live. */
  readonly revokeClient: (clientId: string) => number
  readonly list: () => ReadonlyArray<RefreshRecord>
  /** The `refresh_token` grant. */
  readonly handler: OAuth.GrantHandler
}

const invalidGrant = (description: string): OAuth.OAuthError =>
  new OAuth.OAuthError({ status: 400, error: "invalid_grant", description })

/** @internal */
export const make = (): RefreshTokens => {
  const modes = new Map<string, AuthServer.RefreshTokenMode>()
  const records: Array<RefreshRecord> = []
  const byValue = new Map<string, RefreshRecord>()

  const mode = (clientId: string) => modes.get(clientId) ?? "rotate"

  const add = (family: Family): Effect.Effect<string> =>
    Effect.map(DateTime.now, (issuedAt) => {
      const record: RefreshRecord = { value: OAuth.randomToken(), family, issuedAt, spent: false }
      records.push(record)
      byValue.set(record.value, record)
      return record.value
    })

  const revokeFamily = (family: Family): number => {
    if (family.revoked) return 0
    family.revoked = true
    for (const token of family.accessTokens) token.revoked = true
    return records.filter((r) => r.family === family && !r.spent).length
  }

  const handler: OAuth.GrantHandler = {
    grantType: "refresh_token",
    handle: (context) =>
      Effect.gen(function*() {
        const client = yield* context.authenticateClient
        const value = yield* OAuth.param(context.request.form, "refresh_token")
        if (value === undefined || value === "") {
          return yield* Effect.fail(OAuth.invalidRequest("missing refresh_token"))
        }
        const record = byValue.get(value)
        if (record === undefined) return yield* Effect.fail(invalidGrant("unknown refresh token"))
        const family = record.family
        if (family.clientId !== client.id) {
          return yield* Effect.fail(invalidGrant("the refresh token was issued to another client"))
        }
        if (family.revoked) return yield* Effect.fail(invalidGrant("the refresh token was revoked"))
        if (record.spent) {
          revokeFamily(family)
          return yield* Effect.fail(
            invalidGrant("the refresh token was already used: every token of its login is revoked")
          )
        }
        // RFC 6749 §6: a narrower scope may be asked for, never a wider one
        const requested = yield* OAuth.param(context.request.form, "scope")
        const asked = (requested ?? "").split(" ").filter((s) => s !== "")
        const wider = asked.filter((s) => !family.scope.includes(s))
        if (wider.length > 0) {
          return yield* Effect.fail(
            new OAuth.OAuthError({
              status: 400,
              error: "invalid_scope",
              description: `not granted at login: ${wider.join(" ")}`
            })
          )
        }
        const token = yield* context.issue({
          client,
          grantType: "refresh_token",
          scope: asked.length === 0 ? family.scope : [...new Set(asked)]
        })
        family.accessTokens.push(token)
        if (mode(client.id) !== "rotate") return { token }
        record.spent = true
        return { token, extra: { refresh_token: yield* add(family) } }
      })
  }

  return {
    register: (client) => {
      modes.set(client.id, client.refreshTokens ?? "rotate")
    },
    mode,
    issue: (clientId, scope, login) =>
      add({ clientId, scope, accessTokens: login === undefined ? [] : [login], revoked: false }),
    revoke: (value, clientId) => {
      const record = byValue.get(value)
      if (record === undefined || (clientId !== undefined && record.family.clientId !== clientId)) return false
      return revokeFamily(record.family) > 0
    },
    revokeClient: (clientId) => {
      let count = 0
      for (const family of new Set(records.map((r) => r.family))) {
        if (family.clientId === clientId) count += revokeFamily(family)
      }
      return count
    },
    list: () => records,
    handler
  }
}

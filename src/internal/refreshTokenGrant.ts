/**
 * The refresh token grant (RFC 6749 §6), and the bookkeeping of rotated refresh tokens that
 * `Grant.refreshToken` and `Grant.deviceCode` share.
 *
 * Rotation: when the answer carries a new `refresh_token`, it replaces the one traded, which is never
 * sent again (a server that rotates treats a replay as theft and revokes the whole family, OAuth 2.0
 * Security BCP §4.14.2). When the answer carries none, the traded one stays in use and is put on the new
 * token (RFC 6749 §6). A refresh token refused with `invalid_grant` is dead: never sent again either.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type * as Endpoint from "./endpoint.js"
import * as TokenEndpoint from "./tokenEndpoint.js"
import { displayUrl } from "./urls.js"

/** How many spent (rotated away or refused) refresh tokens a grant remembers. */
const rememberSpent = 16

/**
 * What a grant knows of its refresh tokens: the newest it received, and those it must never send again.
 *
 * @internal
 */
export interface Tracker {
  /** The refresh token to trade: the current token's, unless it is spent, else the newest received. */
  readonly choose: (current: Option.Option<Token.Token>) => Option.Option<Redacted.Redacted<string>>
  /** After a trade: a new refresh token replaces `used`; with none, `used` is kept on the new token. */
  readonly traded: (used: Redacted.Redacted<string>, token: Token.Token) => Token.Token
  /** After `invalid_grant`: `used` is dead. */
  readonly refused: (used: Redacted.Redacted<string>) => void
  /** A token from another grant (the device flow): its refresh token is the newest. */
  readonly received: (token: Token.Token) => void
}

const same = (a: Redacted.Redacted<string>, b: Redacted.Redacted<string>): boolean =>
  a === b || Redacted.value(a) === Redacted.value(b)

/** @internal */
export const makeTracker = (initial: Redacted.Redacted<string> | undefined): Tracker => {
  let newest = initial
  let spent: ReadonlyArray<Redacted.Redacted<string>> = []
  const isSpent = (value: Redacted.Redacted<string>) => spent.some((s) => same(s, value))
  const spend = (value: Redacted.Redacted<string>) => {
    if (!isSpent(value)) spent = [value, ...spent].slice(0, rememberSpent)
  }
  return {
    choose: (current) => {
      const own = Option.isSome(current) ? current.value.refreshToken : undefined
      if (own !== undefined && !isSpent(own)) return Option.some(own)
      return newest !== undefined && !isSpent(newest) ? Option.some(newest) : Option.none()
    },
    traded: (used, token) => {
      if (token.refreshToken !== undefined && !same(token.refreshToken, used)) {
        spend(used)
        newest = token.refreshToken
        return token
      }
      newest = used
      return token.refreshToken !== undefined ? token : withRefreshToken(token, used)
    },
    refused: (used) => {
      spend(used)
      if (newest !== undefined && same(newest, used)) newest = undefined
    },
    received: (token) => {
      if (token.refreshToken !== undefined) newest = token.refreshToken
    }
  }
}

/**
 * The token with a refresh token put on it.
 *
 * @internal
 */
export const withRefreshToken = (token: Token.Token, refreshToken: Redacted.Redacted<string>): Token.Token =>
  Token.make({
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    expiresIn: token.expiresIn,
    refreshToken,
    scope: token.scope,
    issuedAt: token.issuedAt,
    expiresAt: token.expiresAt
  })

/**
 * One refresh token request (RFC 6749 §6): `grant_type=refresh_token`, the refresh token, the scope
 * when one was asked for, and the client's authentication. The token comes back as the server sent
 * it (see `Tracker.traded` for what happens to the refresh token).
 *
 * @internal
 */
export const trade = (
  endpoint: Endpoint.Endpoint,
  http: HttpClient.HttpClient,
  params: ReadonlyArray<TokenEndpoint.Param>
) =>
(refreshToken: Redacted.Redacted<string>): Effect.Effect<Token.Token, TokenError.HttpError> =>
  TokenEndpoint.grantRequest(http, endpoint, "refresh_token", [["refresh_token", refreshToken], ...params])

/**
 * Trades `used` and tells the tracker how it went.
 *
 * @internal
 */
export const tradeTracked = (
  tracker: Tracker,
  send: (refreshToken: Redacted.Redacted<string>) => Effect.Effect<Token.Token, TokenError.HttpError>,
  used: Redacted.Redacted<string>
): Effect.Effect<Token.Token, TokenError.HttpError> =>
  send(used).pipe(
    Effect.map((token) => tracker.traded(used, token)),
    Effect.tapError((error) =>
      TokenError.isInvalidGrant(error) ? Effect.sync(() => tracker.refused(used)) : Effect.void
    )
  )

/**
 * The error of a refresh token grant that has no refresh token left to send: the last one was refused
 * (`invalid_grant`), so is this. Nothing was sent.
 *
 * @internal
 */
export const noRefreshToken = (url: string | undefined): TokenError.HttpError =>
  new TokenError.HttpError({
    reason: "Status",
    error: "invalid_grant",
    ...(url === undefined ? {} : { url: displayUrl(url) }),
    detail: "no refresh token left: the last one was refused, a new login is needed (nothing was sent)"
  })

/**
 * The access token: what the program uses (`Token`), what the server sends (`TokenResponse`, RFC 6749
 * §5.1), and how a token is stored (`StoredToken`, the field names of a seed-004 token file).
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as ParseError from "./internal/parseError.js"
import * as TokenText from "./internal/tokenText.js"

/**
 * The longest `expires_in` tokenlayer accepts: one year. Anything larger is a server bug, not a token.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxExpiresIn: number = 365 * 24 * 60 * 60

/**
 * `expires_in`: seconds, as a number or a numeric string ("at least PayPal returns a string"), from 0 to
 * one year. Negative, non-numeric or absurd values fail to decode.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExpiresIn: Schema.Schema<number, number | string> = Schema.Union(
  Schema.Number,
  // decimal digits only: Number() would also take "0x10", "1e3", " 12 " and ""
  Schema.String.pipe(Schema.pattern(/^\d+(\.\d+)?$/), Schema.compose(Schema.NumberFromString))
).pipe(
  Schema.filter((n) =>
    Number.isFinite(n) && n >= 0 && n <= maxExpiresIn ||
    `expires_in must be a number of seconds from 0 to ${maxExpiresIn}`
  ),
  Schema.annotations({ identifier: "ExpiresIn" })
)

/**
 * Why a token cannot go into an `Authorization` header as it is, or `undefined` when it can: the
 * access token must be visible ASCII without spaces (no control character, no line break), the token
 * type an RFC 9110 token (`Bearer`, `DPoP`, `MAC`). tokenlayer checks every token it receives or loads;
 * a token that fails is never cached nor sent.
 *
 * @since 0.1.0
 * @category utils
 */
export const headerProblem: (
  token: { readonly accessToken: Redacted.Redacted<string>; readonly tokenType: string }
) => string | undefined = TokenText.headerProblem

/**
 * An access token's characters: printable ASCII without spaces (RFC 6750 b64token is stricter), so that
 * it can go into an `Authorization` header as it is.
 */
const AccessTokenString = Schema.String.pipe(
  Schema.filter((s) => TokenText.visibleAscii.test(s) || "access_token must be a non-empty string of visible ASCII"),
  Schema.annotations({ identifier: "AccessToken" })
)

/**
 * `token_type`, compared case-insensitively: `bearer` (as Disruptive Technologies sends it) becomes
 * `Bearer`. Other types are kept as sent. It must be an RFC 9110 token (it becomes the scheme of an
 * `Authorization` header): a space, a control character or a line break fails to decode.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenType: Schema.Schema<string, string> = Schema.transform(
  Schema.String.pipe(
    Schema.filter((s) =>
      TokenText.schemeToken.test(s) ||
      "token_type must be a token (letters, digits, -._~+ and the like; no space or control character)"
    )
  ),
  Schema.String,
  {
    strict: true,
    decode: normalizeTokenType,
    encode: (s) => s
  }
)

/**
 * `Bearer` for any spelling of bearer; other token types unchanged.
 *
 * @since 0.1.0
 * @category utils
 */
export function normalizeTokenType(tokenType: string): string {
  const lower = tokenType.toLowerCase()
  return lower === "bearer" ? "Bearer" : lower === "dpop" ? "DPoP" : tokenType
}

/**
 * The token endpoint's successful answer, as sent on the wire (RFC 6749 §5.1). Unknown fields are
 * ignored. A missing `token_type` is taken as `Bearer`.
 *
 * The optional fields may also be `null` (servers whose JSON serialiser writes every field, such as
 * Jackson's or .NET's defaults, send `"refresh_token": null`), which means absent, as in
 * golang.org/x/oauth2; so does an empty `refresh_token`. Only `access_token` must be there.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenResponse = Schema.Struct({
  access_token: AccessTokenString,
  token_type: Schema.optionalWith(TokenType, { default: () => "Bearer", nullable: true }),
  expires_in: Schema.optionalWith(ExpiresIn, { nullable: true }),
  refresh_token: Schema.optionalWith(Schema.String, { nullable: true }),
  scope: Schema.optionalWith(Schema.String, { nullable: true }),
  /** RFC 8693 §2.2.1: what a token exchange issued (`urn:ietf:params:oauth:token-type:access_token`). */
  issued_token_type: Schema.optionalWith(Schema.String, { nullable: true })
}).annotations({ identifier: "TokenResponse" })

/**
 * @since 0.1.0
 * @category models
 */
export type TokenResponse = typeof TokenResponse.Type

const TokenTypeId: unique symbol = Symbol.for("tokenlayer/Token")

/**
 * An access token as the program uses it. The access token and refresh token are `Redacted`, so a
 * token can be logged, inspected or serialised without showing either.
 *
 * `expiresAt` is absent when the server sent no `expires_in`; the `RefreshPolicy` then assumes a
 * lifetime (5 minutes by default), never forever.
 *
 * @since 0.1.0
 * @category models
 */
export interface Token extends Inspectable.Inspectable {
  readonly [TokenTypeId]: typeof TokenTypeId
  readonly accessToken: Redacted.Redacted<string>
  readonly tokenType: string
  /** Seconds, as issued. */
  readonly expiresIn?: number
  readonly refreshToken?: Redacted.Redacted<string>
  readonly scope?: string
  /** When tokenlayer received the token, by the local Clock. */
  readonly issuedAt: DateTime.Utc
  readonly expiresAt?: DateTime.Utc
  /** RFC 8693 `issued_token_type`, when a token exchange said what it issued. */
  readonly issuedTokenType?: string
}

const TokenProto = {
  [TokenTypeId]: TokenTypeId,
  ...Inspectable.BaseProto,
  toJSON(this: Token) {
    return {
      _id: "Token",
      accessToken: this.accessToken,
      tokenType: this.tokenType,
      expiresIn: this.expiresIn,
      refreshToken: this.refreshToken,
      scope: this.scope,
      issuedAt: this.issuedAt.toJSON(),
      expiresAt: this.expiresAt?.toJSON(),
      ...(this.issuedTokenType === undefined ? {} : { issuedTokenType: this.issuedTokenType })
    }
  }
}

/**
 * The fields of a token, without its prototype.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenFields {
  readonly accessToken: Redacted.Redacted<string>
  readonly tokenType: string
  readonly expiresIn?: number | undefined
  readonly refreshToken?: Redacted.Redacted<string> | undefined
  readonly scope?: string | undefined
  readonly issuedAt: DateTime.Utc
  readonly expiresAt?: DateTime.Utc | undefined
  readonly issuedTokenType?: string | undefined
}

/**
 * Builds a token from its fields.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (fields: TokenFields): Token => {
  const token = Object.create(TokenProto)
  token.accessToken = fields.accessToken
  token.tokenType = normalizeTokenType(fields.tokenType)
  if (fields.expiresIn !== undefined) token.expiresIn = fields.expiresIn
  if (fields.refreshToken !== undefined) token.refreshToken = fields.refreshToken
  if (fields.scope !== undefined) token.scope = fields.scope
  token.issuedAt = fields.issuedAt
  if (fields.expiresAt !== undefined) token.expiresAt = fields.expiresAt
  if (fields.issuedTokenType !== undefined) token.issuedTokenType = fields.issuedTokenType
  return token
}

/**
 * Whether a value is a `Token`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isToken = (u: unknown): u is Token => typeof u === "object" && u !== null && TokenTypeId in u

/**
 * Builds a token from a decoded token response and the local time at which it was received.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromResponse = (response: TokenResponse, receivedAt: DateTime.Utc): Token =>
  make({
    accessToken: Redacted.make(response.access_token),
    tokenType: response.token_type,
    expiresIn: response.expires_in,
    refreshToken: response.refresh_token === undefined || response.refresh_token === ""
      ? undefined
      : Redacted.make(response.refresh_token),
    scope: response.scope,
    issuedAt: receivedAt,
    expiresAt: response.expires_in === undefined
      ? undefined
      : DateTime.addDuration(receivedAt, Duration.seconds(response.expires_in)),
    issuedTokenType: response.issued_token_type ?? undefined
  })

/**
 * Decodes an unknown value (a parsed JSON body) into a token received now, by the Clock.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeResponse = (body: unknown): Effect.Effect<Token, ParseResult.ParseError> =>
  Effect.zipWith(Schema.decodeUnknown(TokenResponse)(body), DateTime.now, fromResponse)

/**
 * Whether two tokens carry the same access token.
 *
 * @since 0.1.0
 * @category utils
 */
export const sameAccessToken = (self: Token, that: Token): boolean =>
  self === that || Redacted.value(self.accessToken) === Redacted.value(that.accessToken)

/**
 * The value of an `Authorization` header for this token: `<token_type> <token>` (`Bearer <token>` for
 * a bearer token, whatever case the server wrote it in).
 *
 * The access token leaves its `Redacted` wrapper here: call it when the request is put on the wire, and
 * keep the result out of logs.
 *
 * @since 0.1.0
 * @category utils
 *
 * A DPoP token (RFC 9449) is never sent without a proof: for one this throws a `TypeError` (without the
 * token); send it through `TokenHttpClient` with the `DPoP` service, which adds the proof.
 */
export const authorizationHeader = (token: Token): string => {
  if (token.tokenType === "DPoP") {
    throw new TypeError("a DPoP token needs a DPoP proof on every request: send it through TokenHttpClient with DPoP")
  }
  return `${token.tokenType} ${Redacted.value(token.accessToken)}`
}

/**
 * The remaining lifetime of a token at `now`, or `None` when the server sent no `expires_in`.
 *
 * @since 0.1.0
 * @category utils
 */
export const remaining = (token: Token, now: DateTime.Utc): Option.Option<Duration.Duration> =>
  token.expiresAt === undefined
    ? Option.none()
    : Option.some(Duration.millis(Math.max(0, DateTime.distance(now, token.expiresAt))))

// -----------------------------------------------------------------------------
// stored form
// -----------------------------------------------------------------------------

/**
 * The stored JSON form of a token, with the field names of seed 004's token file (`access_token`,
 * `token_type`, `expires_in`, `refresh_token`, `scope`, `expires_at` as ISO 8601), so that a token file
 * written by another implementation of that structure can be read. tokenlayer adds `issued_at`; when
 * it is missing it is taken as `expires_at - expires_in`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoredToken = Schema.Struct({
  access_token: AccessTokenString,
  token_type: Schema.optionalWith(TokenType, { default: () => "Bearer" }),
  expires_in: Schema.optional(ExpiresIn),
  refresh_token: Schema.optional(Schema.NullOr(Schema.String)),
  scope: Schema.optional(Schema.NullOr(Schema.String)),
  expires_at: Schema.optional(Schema.NullOr(Schema.DateTimeUtc)),
  issued_at: Schema.optional(Schema.DateTimeUtc),
  issued_token_type: Schema.optional(Schema.String)
}).annotations({ identifier: "StoredToken" })

/**
 * @since 0.1.0
 * @category models
 */
export type StoredToken = typeof StoredToken.Encoded

/**
 * `Token` <-> its stored JSON form. Decoding fails on a wrong shape; encoding always succeeds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenFromStored: Schema.Schema<Token, StoredToken> = Schema.transform(
  StoredToken,
  Schema.declare(isToken, { identifier: "Token" }),
  {
    strict: true,
    decode: (stored) => {
      const expiresAt = stored.expires_at ?? undefined
      const issuedAt = stored.issued_at ??
        (expiresAt !== undefined && stored.expires_in !== undefined
          ? DateTime.subtractDuration(expiresAt, Duration.seconds(stored.expires_in))
          : expiresAt ?? DateTime.unsafeMake(0))
      return make({
        accessToken: Redacted.make(stored.access_token),
        tokenType: stored.token_type,
        expiresIn: stored.expires_in,
        refreshToken: stored.refresh_token ? Redacted.make(stored.refresh_token) : undefined,
        scope: stored.scope ?? undefined,
        issuedAt,
        expiresAt,
        issuedTokenType: stored.issued_token_type
      })
    },
    encode: (token) => ({
      access_token: Redacted.value(token.accessToken),
      token_type: token.tokenType,
      ...(token.expiresIn === undefined ? {} : { expires_in: token.expiresIn }),
      ...(token.refreshToken === undefined ? {} : { refresh_token: Redacted.value(token.refreshToken) }),
      ...(token.scope === undefined ? {} : { scope: token.scope }),
      ...(token.expiresAt === undefined ? {} : { expires_at: token.expiresAt }),
      issued_at: token.issuedAt,
      ...(token.issuedTokenType === undefined ? {} : { issued_token_type: token.issuedTokenType })
    })
  }
)

/**
 * `Token` <-> the JSON text of a token file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenFromJson: Schema.Schema<Token, string> = Schema.parseJson(TokenFromStored, { space: 2 })

/**
 * Encodes a token to the JSON text of a token file. The result contains the access token: write it
 * only where the token may be (a 0600 file, a private Redis).
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJson: (token: Token) => string = Schema.encodeSync(TokenFromJson)

/**
 * Decodes the JSON text of a token file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromJson: (json: string) => Effect.Effect<Token, ParseResult.ParseError> = Schema.decode(TokenFromJson)

/**
 * The names of the fields that failed to decode, for an error message that shows where a document is
 * wrong without showing what it contains (it may contain a token).
 *
 * @since 0.1.0
 * @category utils
 */
export const describeParseError: (error: ParseResult.ParseError) => string = ParseError.describeParseError

/**
 * The embedded `AuthServer`'s optional grants: RFC 8693 token exchange (`Options.tokenExchange`) and
 * grant types a test registers itself (`Options.grantTypes`). Re-exported by `AuthServer.ts`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { PublicKey } from "./models.js"

/**
 * The `grant_type` of RFC 8693 token exchange.
 *
 * @since 0.1.0
 * @category constants
 */
export const tokenExchangeGrantType = "urn:ietf:params:oauth:grant-type:token-exchange"

/**
 * The token type identifiers of RFC 8693 §3.
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
 * RFC 8693 token exchange (`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`), served when
 * `Options.tokenExchange` is given (`{}` for the defaults).
 *
 * The client authenticates as for the other grants. The subject token must be an access token this
 * server issued (`subject_token_type` `urn:ietf:params:oauth:token-type:access_token`), not revoked and
 * not expired, or a JWT signed by one of `trustedIssuers` (`...:token-type:jwt` or `...:id_token`: a
 * Kubernetes service account token, a CI job's OIDC token); so must the actor token, when one is sent
 * (delegation, §1.1). The server
 * issues access tokens only (`requested_token_type`, when sent, must ask for one), answers
 * `issued_token_type`, and records what it issued the token for (`IssuedToken.exchange`).
 *
 * Refusals (§2.2.2): `invalid_request` for a missing, repeated or unsupported parameter and for a subject
 * or actor token that is unknown, revoked, expired or of the wrong type; `invalid_target` for an
 * `audience` or `resource` it does not issue for (a `resource` must be an absolute URI without a
 * fragment); `invalid_scope`; `unauthorized_client` for a client not in `clients`; `invalid_client`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenExchangeOptions {
  /** The clients that may exchange tokens; any other gets `unauthorized_client`. Default: every client. */
  readonly clients?: ReadonlyArray<string> | undefined
  /** The `audience` values it issues tokens for; any other is `invalid_target`. Default: any. */
  readonly audiences?: ReadonlyArray<string> | undefined
  /** The `resource` URIs it issues tokens for; any other is `invalid_target`. Default: any absolute URI. */
  readonly resources?: ReadonlyArray<string> | undefined
  /** The lifetime of exchanged tokens. Default: the exchanging client's `tokenLifetime`. */
  readonly tokenLifetime?: Duration.DurationInput | undefined
  /** Whether an exchanged token expires no later than its subject token. Default: true. */
  readonly capToSubject?: boolean | undefined
  /** Issuers whose signed JWTs are taken as subject (and actor) tokens. A key that cannot be read is a defect. */
  readonly trustedIssuers?: ReadonlyArray<TrustedIssuer> | undefined
}

/**
 * An issuer of JWT subject tokens (`TokenExchangeOptions.trustedIssuers`): its tokens must be signed with
 * `secret` (HS256/384/512) or the private key of `publicKey`, name it in `iss`, name one of `audiences`
 * in `aud`, and have an `exp` in the future (`nbf` and `iat`, when given, not in the future). Their `sub`
 * is the subject recorded, their `scope` claim (a string) the subject's scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrustedIssuer {
  /** The `iss` of its tokens (`https://kubernetes.default.svc`, `https://token.actions.githubusercontent.com`). */
  readonly issuer: string
  readonly secret?: string | undefined
  readonly publicKey?: PublicKey | undefined
  /** The one algorithm to accept. Default: any the key fits. */
  readonly alg?: string | undefined
  /** The `aud` values its tokens may name. Default: this server's issuer URL or token URL. */
  readonly audiences?: ReadonlyArray<string> | undefined
}

/**
 * What a token exchange issued a token for (`IssuedToken.exchange`).
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenExchangeDetails {
  /** The client the subject token was issued to (a JWT's: its `sub`, else its `iss`). */
  readonly subject: string
  readonly subjectTokenType: string
  /** The client the actor token was issued to (as `subject`), for delegation. */
  readonly actor?: string | undefined
  readonly audience: ReadonlyArray<string>
  readonly resource: ReadonlyArray<string>
  readonly issuedTokenType: string
}

/**
 * A grant type the library does not ship, served by the token endpoint (`Options.grantTypes`) and listed
 * in the discovery document. Its `handle` gets the request once the client is authenticated (as
 * `clientAuthentication` says) and answers with a token to issue or a refusal (`CustomGrantAnswer`).
 *
 * @example
 * ```ts
 * import { AuthServer } from "tokenlayer/testing"
 *
 * const apiKeys: AuthServer.CustomGrantType = {
 *   grantType: "urn:vendor:grant:api-key",
 *   clientAuthentication: "none",
 *   handle: (request) =>
 *     request.form.get("api_key") === "k-123"
 *       ? AuthServer.CustomGrantAnswer.issue({ clientId: "key-123", scope: ["read"] })
 *       : AuthServer.CustomGrantAnswer.refuse("invalid_grant", "unknown API key")
 * }
 *
 * const Server = AuthServer.layer({ grantTypes: [apiKeys] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomGrantType {
  /** The `grant_type` it serves. It is found before the built-in grants, so it may replace one. */
  readonly grantType: string
  /**
   * `required` (default): the request must authenticate a registered client, as for the other grants;
   * `optional`: checked when the request carries client credentials; `none`: not looked at.
   */
  readonly clientAuthentication?: "required" | "optional" | "none" | undefined
  readonly handle: (request: CustomGrantRequest) => CustomGrantAnswer | Effect.Effect<CustomGrantAnswer>
}

/**
 * A token request of a custom grant type, as its handler sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomGrantRequest {
  readonly grantType: string
  /** The authenticated client; `undefined` when none authenticated. */
  readonly client: { readonly id: string; readonly scopes: ReadonlyArray<string> | undefined } | undefined
  /** The form parameters (a copy). */
  readonly form: URLSearchParams
  /** The request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>
}

/**
 * What a custom grant type answers: a token to issue, or an RFC 6749 §5.2 refusal.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomGrantAnswer =
  | {
    readonly _tag: "Issue"
    /** Whom it is issued to. Default: the authenticated client (one of the two is needed). */
    readonly clientId?: string | undefined
    /**
     * The scope granted. Default: the request's `scope` as for the other grants (the scopes the client
     * registered, else what it asked for).
     */
    readonly scope?: ReadonlyArray<string> | undefined
    /** Default: the client's `tokenLifetime` (the server's for a client it does not know). */
    readonly lifetime?: Duration.DurationInput | undefined
    /** More fields of the token response. */
    readonly extra?: Readonly<Record<string, unknown>> | undefined
  }
  | {
    readonly _tag: "Refuse"
    /** The RFC 6749 `error` code: `invalid_grant`, `invalid_request`, ... */
    readonly error: string
    readonly description?: string | undefined
    /** Default: 400. */
    readonly status?: number | undefined
  }

/**
 * Constructors of `CustomGrantAnswer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const CustomGrantAnswer = {
  /** Issue a token (to `clientId`, default the authenticated client). */
  issue: (options: Omit<Extract<CustomGrantAnswer, { _tag: "Issue" }>, "_tag"> = {}): CustomGrantAnswer => ({
    _tag: "Issue",
    ...options
  }),
  /** Refuse with an RFC 6749 error code (status 400 unless given). */
  refuse: (error: string, description?: string, status?: number): CustomGrantAnswer => ({
    _tag: "Refuse",
    error,
    description,
    status
  })
} as const

/**
 * The OAuth 2.0 protocol pieces of the embedded `AuthServer`, kept apart from its HTTP plumbing so that
 * later grants and client authentication methods are one table entry each:
 *
 * - `clientAuthMethods` (`clientAuthServer.ts`, re-exported): how a client proves who it is at the token
 *   and revocation endpoints (RFC 6749 §2.3);
 * - `grantHandlers`: what the token endpoint does for each `grant_type` (RFC 6749 §4, §5);
 * - `OAuthError` (`oauthBase.ts`, re-exported): an RFC 6749 §5.2 error answer.
 *
 * The discovery document lists what these tables hold.
 *
 * @internal
 */
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as crypto from "node:crypto"
import type * as AuthServer from "../AuthServer.js"
import type { PeerCertificate } from "./httpParts.js"
import * as JwtServer from "./jwtServer.js"
import { grantedScope, type OAuthError, param } from "./oauthBase.js"
import type * as Target from "./targetServer.js"

export {
  assertionIssuer,
  authenticateClient,
  basicCredentials,
  claimedClientId,
  type ClientAuthMethod,
  clientAuthMethods
} from "./clientAuthServer.js"
export { grantedScope, invalidRequest, OAuthError, param, realm } from "./oauthBase.js"

/**
 * A token or revocation request as the protocol sees it: lower-case headers and the parsed form body.
 *
 * @internal
 */
export interface EndpointRequest {
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly form: URLSearchParams
  /** The client certificate, over the mTLS listener. */
  readonly peer?: PeerCertificate | undefined
}

/**
 * A registered client, with its defaults resolved.
 *
 * @internal
 */
export interface Client {
  readonly id: string
  readonly secret: string
  readonly method: string
  readonly tokenLifetime: Duration.Duration
  /** The scopes it may ask for; `undefined` when it may ask for any. */
  readonly scopes: ReadonlyArray<string> | undefined
  /** Its public key, for `private_key_jwt`. */
  readonly publicKey?: AuthServer.PublicKey | undefined
  /** `tls_client_auth`: the subject DN or a SAN its certificate must have. */
  readonly tlsSubject?: string | undefined
  readonly tlsSan?: string | undefined
  /** `self_signed_tls_client_auth`: the thumbprint of its certificate. */
  readonly certificateThumbprint?: string | undefined
  /** What it gets when it asks for a scope it may not have: refused (default) or left out. */
  readonly scopePolicy?: "refuse" | "narrow" | undefined
  /** The RFC 8707 resources it may ask for, by URI; `undefined` when any. */
  readonly resources?: ReadonlyMap<string, Target.Resource> | undefined
}

/**
 * An access token the server issued. `revoked` changes when it is revoked.
 *
 * @internal
 */
export interface TokenRecord {
  readonly value: string
  readonly clientId: string
  readonly grantType: string
  readonly scope: ReadonlyArray<string>
  readonly issuedAt: DateTime.Utc
  readonly expiresAt: DateTime.Utc
  /** What a token exchange (RFC 8693) issued it for. */
  readonly exchange?: AuthServer.TokenExchangeDetails | undefined
  /** RFC 8705 §3: the `x5t#S256` of the certificate it is bound to. */
  readonly certificateThumbprint?: string | undefined
  /** The RFC 8707 resources it was asked for, and its audiences (`aud`); empty when none. */
  readonly resource?: ReadonlyArray<string> | undefined
  readonly audience?: ReadonlyArray<string> | undefined
  revoked: boolean
}

// -----------------------------------------------------------------------------
// grants
// -----------------------------------------------------------------------------

/**
 * What a grant handler gets: the request, the client authentication it may ask for, and a way to issue a
 * token (the server checks the request's RFC 8707 `resource`s, narrows the scope to them, records the
 * token, applies the lifetime and the injected `expires_in` override).
 *
 * @internal
 */
export interface GrantContext {
  readonly request: EndpointRequest
  /** Whether the request claims to be a client (by any authentication method, or a `client_id`). */
  readonly claimsClient: boolean
  readonly authenticateClient: Effect.Effect<Client, OAuthError>
  readonly issue: (grant: {
    readonly client: Client
    readonly grantType: string
    readonly scope: ReadonlyArray<string>
    /** Its lifetime, when not the client's. */
    readonly lifetime?: Duration.Duration | undefined
    readonly exchange?: AuthServer.TokenExchangeDetails | undefined
  }) => Effect.Effect<TokenRecord, OAuthError>
}

/**
 * An issued token and the extra response fields the grant adds (a refresh token, say).
 *
 * @internal
 */
export interface GrantResult {
  readonly token: TokenRecord
  readonly extra?: Readonly<Record<string, unknown>>
}

/**
 * What the token endpoint does for one `grant_type`.
 *
 * @internal
 */
export interface GrantHandler {
  readonly grantType: string
  readonly handle: (context: GrantContext) => Effect.Effect<GrantResult, OAuthError>
}

/** RFC 6749 §4.4: client credentials. */
const clientCredentials: GrantHandler = {
  grantType: "client_credentials",
  handle: (context) =>
    Effect.gen(function*() {
      const client = yield* context.authenticateClient
      const scope = yield* Either.flatMap(param(context.request.form, "scope"), (s) => grantedScope(client, s))
      const token = yield* context.issue({ client, grantType: "client_credentials", scope })
      return { token }
    })
}

/**
 * The grants the token endpoint understands, by `grant_type`. Add one here and it is served and listed in
 * the discovery document.
 *
 * @internal
 */
export const grantHandlers: ReadonlyArray<GrantHandler> = [clientCredentials, JwtServer.jwtBearer()]

/** @internal */
export const grantHandler = (grantType: string): GrantHandler | undefined =>
  grantHandlers.find((g) => g.grantType === grantType)

/**
 * A new opaque access token: 32 random bytes, base64url.
 *
 * @internal
 */
export const randomToken = (): string => crypto.randomBytes(32).toString("base64url")

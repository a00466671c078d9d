/**
 * DPoP (RFC 9449): access tokens bound to a key the client proves it holds. With a `DPoP` service in
 * the context of a grant's layer, every token request carries a proof and asks for a DPoP-bound token;
 * with it in the context of `TokenHttpClient`, a `token_type: DPoP` token is sent as
 * `Authorization: DPoP <token>` with a new proof (with `ath`) on every request.
 *
 * - The key: generated when the service starts (ES256 by default; ES384, ES512, RS256, PS256, EdDSA
 *   and the others too), or given (`Redacted` PEM or JWK, a `CryptoKey`, a `KeyObject`). The private
 *   key never leaves the service: printing or serialising it shows the algorithm and the thumbprint.
 * - Server nonces: a token endpoint's 400 `use_dpop_nonce` and an API's 401
 *   `WWW-Authenticate: DPoP error="use_dpop_nonce"` get the request sent once more with the new nonce;
 *   a server that asks again fails with an `HttpError` whose `error` is `use_dpop_nonce`. Nonces are
 *   kept per origin (at most 100 origins), from every answer that carries a valid one.
 * - A Bearer token answered to a DPoP request is used as Bearer, with a warning, unless
 *   `requireBinding` is set: then the token request fails.
 * - Refresh tokens issued to a DPoP client are bound to its key: refresh requests carry a proof too.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/dpop.js"
import type * as TokenError from "./TokenError.js"

/**
 * The DPoP service: the key and the nonces.
 *
 * @since 0.1.0
 * @category tags
 */
export const DPoP: typeof internal.DPoP = internal.DPoP

/**
 * @since 0.1.0
 * @category tags
 */
export type DPoP = internal.DPoP

/**
 * @since 0.1.0
 * @category models
 */
export type Service = internal.Service

/**
 * A JWS algorithm for proofs (asymmetric only, RFC 9449 §4.2).
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = internal.Algorithm

/**
 * A private key: a `Redacted` PEM or JWK (or JWK JSON text), a `CryptoKey`, a Node `KeyObject`.
 *
 * @since 0.1.0
 * @category models
 */
export type PrivateKey = internal.PrivateKey

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The private key; a new key pair is generated when absent. */
  readonly key?: PrivateKey | undefined
  /** The algorithm: ES256 for a generated key, inferred from a given one (RSA: RS256). */
  readonly alg?: Algorithm | undefined
  /** Refuse a Bearer token answered to a DPoP token request (default: use it, with a warning). */
  readonly requireBinding?: boolean | undefined
  /** How many origins' nonces are kept (default 100; the least recently used goes first). */
  readonly maxNonceOrigins?: number | undefined
}

/**
 * The service over the given key, or a new one. A key that cannot be read, or that does not fit the
 * algorithm (an RSA key for ES256, a P-384 key for ES256, an RSA key under 2048 bits), fails with a
 * `KeyError` of purpose `dpop`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DPoP } from "tokenlayer"
 *
 * const program = Effect.gen(function*() {
 *   const dpop = yield* DPoP.make({ alg: "EdDSA" })
 *   return dpop.thumbprint // the cnf.jkt of the tokens bound to this key
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, TokenError.KeyError> = internal.make

/**
 * The service as a layer. Provide it to the grant's layer (token requests carry proofs) and to
 * `TokenHttpClient` (API requests carry proofs): `Layer.provideMerge` keeps one key for both.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { DPoP, Grant, TokenHttpClient, TokenService } from "tokenlayer"
 *
 * const Api = TokenHttpClient.layer.pipe(
 *   Layer.provide(TokenService.layer()),
 *   Layer.provide(Grant.clientCredentials({
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientSecret: Redacted.make("my-secret")
 *   })),
 *   Layer.provideMerge(DPoP.layer()),
 *   Layer.provideMerge(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<DPoP, TokenError.KeyError> => Layer.effect(DPoP, make(options))

/**
 * Whether a request failed because the server kept asking for a new DPoP nonce (`use_dpop_nonce`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isNonceError = (error: TokenError.HttpError): boolean => error.error === "use_dpop_nonce"

/**
 * The RFC 7638 thumbprint of a public JWK (the `cnf.jkt` a server puts in a token bound to it).
 *
 * @since 0.1.0
 * @category utils
 */
export const thumbprint: (jwk: Readonly<Record<string, unknown>>) => string = internal.thumbprint

/**
 * How a client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2).
 *
 * Methods are values, as in oauth4webapi: `ClientAuth.basic(secret)`, `ClientAuth.post(secret)`,
 * `ClientAuth.none`, `ClientAuth.clientSecretJwt(secret)`, and `ClientAuth.privateKeyJwt({ privateKey })`
 * (an `Effect`, since reading a private key can fail). A grant takes one; adding a method touches nothing
 * else. Secrets stay `Redacted` in what a method produces, until the request is put on the wire.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Jwt from "./internal/jwt.js"
import * as Source from "./internal/tokenSource.js"
import * as MutualTls from "./MutualTls.js"
import type * as TokenError from "./TokenError.js"

/**
 * What a client authentication method adds to a token request: headers and form parameters, secrets
 * still `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly headers: ReadonlyArray<readonly [string, Redacted.Redacted<string>]>
  readonly params: ReadonlyArray<readonly [string, string | Redacted.Redacted<string>]>
}

/**
 * What a method knows of the request it authenticates.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly clientId: string
  readonly tokenUrl: string
}

/**
 * A client authentication method.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientAuth {
  /**
   * The RFC 7591 `token_endpoint_auth_method` name: `client_secret_basic`, `client_secret_post`, `none`,
   * `client_secret_jwt`, `private_key_jwt`.
   */
  readonly method: string
  /** A method whose credentials come from a `TokenSource` may fail (the source cannot give a token). */
  readonly authenticate: (context: Context) => Effect.Effect<Credentials, TokenError.HttpError>
  /**
   * Why this method cannot authenticate, when that is known as it is made: an empty secret
   * (`Redacted.make(process.env.X ?? "")` with `X` unset). A request authenticated by such a method
   * fails before anything is sent, with an error that says so (not transient). Never contains the
   * secret.
   */
  readonly problem?: string | undefined
  /**
   * The client that requests authenticated by this method go over, instead of the grant's: the
   * `MutualTls` client of `tlsClientAuth` and `selfSignedTlsClientAuth`, which presents the client
   * certificate. A grant given an issuer then uses the metadata's `mtls_endpoint_aliases` (RFC 8705 §5).
   */
  readonly httpClient?: HttpClient.HttpClient | undefined
}

/** An empty secret: what `Redacted.make(process.env.X ?? "")` gives when `X` is not set. */
const secretProblem = (clientSecret: Redacted.Redacted<string>): { readonly problem?: string } =>
  Redacted.value(clientSecret) === ""
    ? { problem: "Expected a client secret, not an empty string (is its environment variable set?)" }
    : {}

/**
 * RFC 6749 §2.3.1: `application/x-www-form-urlencoded` encoding of one value (space as `+`), applied to
 * the client id and secret before they are joined for HTTP Basic.
 *
 * @since 0.1.0
 * @category utils
 */
export const formEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)

/**
 * The value of the `Authorization` header for HTTP Basic client authentication, as RFC 6749 §2.3.1
 * requires: `Basic base64(formEncode(id) ":" formEncode(secret))`. (`@effect/platform`'s `basicAuth`
 * skips the form encoding, which breaks ids and secrets with `:`, `%`, `+`, spaces or non-ASCII.)
 *
 * @since 0.1.0
 * @category utils
 */
export const basicAuthorization = (
  clientId: string,
  clientSecret: Redacted.Redacted<string>
): Redacted.Redacted<string> =>
  Redacted.make(
    `Basic ${
      Buffer.from(`${formEncode(clientId)}:${formEncode(Redacted.value(clientSecret))}`, "utf8").toString("base64")
    }`
  )

/**
 * `client_secret_basic`: the client id and secret in an HTTP Basic `Authorization` header (ICEYE).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ClientAuth } from "tokenlayer"
 *
 * const auth = ClientAuth.basic(Redacted.make(process.env.CLIENT_SECRET ?? ""))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const basic = (clientSecret: Redacted.Redacted<string>): ClientAuth => ({
  method: "client_secret_basic",
  ...secretProblem(clientSecret),
  authenticate: ({ clientId }) =>
    Effect.succeed({ headers: [["authorization", basicAuthorization(clientId, clientSecret)]], params: [] })
})

/**
 * `client_secret_post`: `client_id` and `client_secret` in the form body (ThingPark, Keycloak).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ClientAuth } from "tokenlayer"
 *
 * const auth = ClientAuth.post(Redacted.make(process.env.CLIENT_SECRET ?? ""))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const post = (clientSecret: Redacted.Redacted<string>): ClientAuth => ({
  method: "client_secret_post",
  ...secretProblem(clientSecret),
  authenticate: ({ clientId }) =>
    Effect.succeed({ headers: [], params: [["client_id", clientId], ["client_secret", clientSecret]] })
})

/**
 * `none`: a public client, identified by `client_id` in the body, with no secret.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: ClientAuth = {
  method: "none",
  authenticate: ({ clientId }) => Effect.succeed({ headers: [], params: [["client_id", clientId]] })
}

/**
 * The method names that `fromMethod` understands.
 *
 * @since 0.1.0
 * @category models
 */
export type SecretMethod = "basic" | "post" | "client_secret_basic" | "client_secret_post" | "client_secret_jwt"

/**
 * A secret-based method by name, for configuration: `basic` / `client_secret_basic`,
 * `post` / `client_secret_post`, or `client_secret_jwt` (with its defaults: HS256, 60-second assertions
 * for the token URL). `private_key_jwt` takes a private key, not a secret: see `privateKeyJwt`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromMethod = (method: SecretMethod, clientSecret: Redacted.Redacted<string>): ClientAuth =>
  method === "post" || method === "client_secret_post"
    ? post(clientSecret)
    : method === "client_secret_jwt"
    ? clientSecretJwt(clientSecret)
    : basic(clientSecret)

// -----------------------------------------------------------------------------
// JWT client assertions (RFC 7523 §2.2, OpenID Connect Core §9)
// -----------------------------------------------------------------------------

/**
 * The `client_assertion_type` of JWT client assertions (RFC 7523 §2.2).
 *
 * @since 0.1.0
 * @category constants
 */
export const jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/**
 * The HMAC algorithms of `client_secret_jwt` and of a `Grant.jwtBearer` secret.
 *
 * @since 0.1.0
 * @category models
 */
export type HmacAlgorithm = Jwt.HmacAlgorithm

/**
 * The signature algorithms of `private_key_jwt` and of a `Grant.jwtBearer` private key.
 *
 * @since 0.1.0
 * @category models
 */
export type AsymmetricAlgorithm = Jwt.AsymmetricAlgorithm

/**
 * A private key: a PEM string (PKCS#8 `-----BEGIN PRIVATE KEY-----`; PKCS#1 and SEC1 are read too) or
 * a JWK, `Redacted` since both are secrets, or a key object that never prints its material (a
 * WebCrypto / jose `CryptoKey`, a Node `KeyObject`).
 *
 * @since 0.1.0
 * @category models
 */
export type PrivateKey = Jwt.PrivateKey

/**
 * What every JWT client assertion method can be told.
 *
 * @since 0.1.0
 * @category models
 */
export interface AssertionOptions {
  /** The `aud` claim. Default: the token URL (OpenID Connect Core §9). Some servers want their issuer. */
  readonly audience?: string | ReadonlyArray<string> | undefined
  /** From `iat` to `exp`, whole seconds (at least 1). Default: 60 seconds. */
  readonly lifetime?: Duration.DurationInput | undefined
}

const defaultAssertionLifetime = 60

const jwtClientAuth = (
  method: "client_secret_jwt" | "private_key_jwt",
  signer: Jwt.Signer,
  options: AssertionOptions & { readonly keyId?: string | undefined }
): ClientAuth => {
  const lifetime = options.lifetime === undefined ? defaultAssertionLifetime : Jwt.lifetimeSeconds(options.lifetime)
  return {
    method,
    authenticate: ({ clientId, tokenUrl }) =>
      Effect.map(
        Jwt.assertionOrDie(signer, {
          keyId: options.keyId,
          issuer: clientId,
          subject: clientId,
          audience: options.audience ?? tokenUrl,
          lifetime,
          jti: true
        }),
        (assertion) => ({
          headers: [],
          params: [
            ["client_id", clientId],
            ["client_assertion_type", jwtBearerAssertionType],
            ["client_assertion", assertion]
          ]
        })
      )
  }
}

/**
 * `client_secret_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): for every token request a new JWT
 * with `iss` = `sub` = the client id, `aud` = the token URL, `iat` now by the `Clock`, `exp` 60 seconds
 * later and a random `jti`, signed with HMAC (HS256 by default) keyed by the client secret, sent as
 * `client_assertion` with `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
 * and `client_id`. The secret itself never goes on the wire.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ClientAuth, Grant } from "tokenlayer"
 *
 * const GrantLive = Grant.clientCredentials({
 *   tokenUrl: "https://auth.example.com/oauth2/token",
 *   clientId: "my-client",
 *   clientAuth: ClientAuth.clientSecretJwt(Redacted.make(process.env.CLIENT_SECRET ?? ""), { alg: "HS512" })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientSecretJwt = (
  clientSecret: Redacted.Redacted<string>,
  options: AssertionOptions & { readonly alg?: HmacAlgorithm | undefined } = {}
): ClientAuth => ({
  ...jwtClientAuth("client_secret_jwt", Jwt.hmacSigner("client_secret_jwt", clientSecret, options.alg), options),
  ...secretProblem(clientSecret)
})

/**
 * The options of `privateKeyJwt`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKeyJwtOptions extends AssertionOptions {
  readonly privateKey: PrivateKey
  /** Default: from the key (RSA: RS256, EC P-256: ES256, P-384: ES384, P-521: ES512, Ed25519: EdDSA). */
  readonly alg?: AsymmetricAlgorithm | undefined
  /** The `kid` header: the id under which the server knows the public key. Not sent when absent. */
  readonly keyId?: string | undefined
}

/**
 * `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): as `clientSecretJwt`, but signed with the
 * client's private key (RS256, ES256, ...; `kid` when `keyId` is given), whose public key the server
 * holds.
 *
 * An `Effect`, since the key is read and checked here, once, by signing a trial assertion: a PEM that is
 * not a private key, or a key that does not fit `alg`, fails with a `KeyError` (which names the problem,
 * never the key) when the grant's layer is built, not at a token request.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Redacted } from "effect"
 * import { ClientAuth, Grant } from "tokenlayer"
 *
 * // Layer<Grant, KeyError>: a bad key fails the layer
 * const GrantLive = Layer.unwrapEffect(
 *   Effect.map(
 *     ClientAuth.privateKeyJwt({
 *       privateKey: Redacted.make(process.env.CLIENT_PRIVATE_KEY ?? ""),
 *       alg: "ES256",
 *       keyId: "key-2024"
 *     }),
 *     (clientAuth) =>
 *       Grant.clientCredentials({ tokenUrl: "https://auth.example.com/oauth2/token", clientId: "my-client", clientAuth })
 *   )
 * ).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const privateKeyJwt = (options: PrivateKeyJwtOptions): Effect.Effect<ClientAuth, TokenError.KeyError> =>
  Effect.map(
    Jwt.privateKeySigner("private_key_jwt", options.privateKey, options.alg),
    (signer) => jwtClientAuth("private_key_jwt", signer, options)
  )

/**
 * `tls_client_auth` (RFC 8705 §2.1): a certificate from a CA the server trusts, on the TLS connection to
 * the token endpoint (`MutualTls.tlsClientAuth`, where it is documented with an example).
 *
 * @since 0.1.0
 * @category constructors
 */
export const tlsClientAuth: (tls: MutualTls.Service) => ClientAuth = MutualTls.tlsClientAuth

/**
 * `self_signed_tls_client_auth` (RFC 8705 §2.2): a self-signed certificate the server registered for the
 * client (`MutualTls.selfSignedTlsClientAuth`, where it is documented with an example).
 *
 * @since 0.1.0
 * @category constructors
 */
export const selfSignedTlsClientAuth: (tls: MutualTls.Service) => ClientAuth = MutualTls.selfSignedTlsClientAuth

/**
 * A JWT client assertion made by someone else (RFC 7523 §2.2): `client_assertion` from a
 * `TokenSource`, read before each request (Azure workload identity's `AZURE_FEDERATED_TOKEN_FILE`, a CI
 * job's OIDC token), with `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
 * and `client_id` (the grant's). No secret and no key: the workload's identity is the credential. An
 * assertion past its `exp` is never sent (an `HttpError` naming the source).
 *
 * @example
 * ```ts
 * import { ClientAuth, Grant, TokenSource } from "tokenlayer"
 *
 * // Azure workload identity
 * const GrantLive = Grant.clientCredentials({
 *   tokenUrl: `https://login.microsoftonline.com/${process.env.AZURE_TENANT_ID}/oauth2/v2.0/token`,
 *   clientId: process.env.AZURE_CLIENT_ID ?? "",
 *   clientAuth: ClientAuth.clientAssertion({
 *     assertion: TokenSource.file(process.env.AZURE_FEDERATED_TOKEN_FILE ?? "")
 *   }),
 *   scope: "https://graph.microsoft.com/.default"
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientAssertion = (options: { readonly assertion: Source.TokenSource }): ClientAuth => ({
  method: "private_key_jwt",
  authenticate: ({ clientId }) =>
    Effect.map(Source.usable(options.assertion), (assertion) => ({
      headers: [],
      params: [
        ["client_id", clientId],
        ["client_assertion_type", jwtBearerAssertionType],
        ["client_assertion", assertion.token]
      ]
    }))
})

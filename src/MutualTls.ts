/**
 * Mutual TLS (RFC 8705): a client certificate presented on the TLS connections to the token endpoint
 * (`ClientAuth.tlsClientAuth`, `ClientAuth.selfSignedTlsClientAuth`) and to the APIs that take
 * certificate-bound tokens.
 *
 * A `MutualTls` holds a checked certificate and key and an `HttpClient` of its own (undici, with an
 * `Agent` that presents the certificate): only what is sent over that client carries the certificate,
 * the rest of the program's `HttpClient` is untouched. The certificate and key are checked when it is
 * built (readable PEM, the key the certificate's, not expired by the `Clock`): a bad one fails with a
 * `CertificateError` that names the problem, never the key.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as ClientAuth from "./ClientAuth.js"
import * as internal from "./internal/mtls.js"

/**
 * A client certificate and its private key that cannot be used: not PEM, a key that is not the
 * certificate's, an expired certificate. `reason` names the problem; the key is never in it.
 *
 * @since 0.1.0
 * @category errors
 */
export class CertificateError extends Schema.TaggedError<CertificateError>()("CertificateError", {
  reason: Schema.String
}) {
  override get message(): string {
    return `client certificate: ${this.reason}`
  }
}

/**
 * A client certificate and its key, PEM, `Redacted` (the certificate is public, but often comes from
 * the same secret store as its key).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The client certificate (`-----BEGIN CERTIFICATE-----`), optionally followed by its chain. */
  readonly certificate: Redacted.Redacted<string>
  /** Its private key (PKCS#8 `-----BEGIN PRIVATE KEY-----`; PKCS#1 and SEC1 are read too). */
  readonly privateKey: Redacted.Redacted<string>
  /** The passphrase of an encrypted private key. */
  readonly passphrase?: Redacted.Redacted<string> | undefined
  /** The CA certificates (PEM) to trust for the servers' certificates. Default: Node's. */
  readonly ca?: string | ReadonlyArray<string> | undefined
}

/**
 * A checked client certificate and the `HttpClient` that presents it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly _tag: "MutualTls"
  /** The client that presents the certificate: token requests of the mTLS methods, and your API calls. */
  readonly httpClient: HttpClient.HttpClient
  /** RFC 8705 §3.1 `x5t#S256`: the base64url SHA-256 of the certificate, as a bound token's `cnf` names it. */
  readonly thumbprint: string
  /** The certificate's subject (`CN=app, O=Example`). */
  readonly subject: string
  readonly notAfter: Date
}

/**
 * The client certificate of a program, as `layer` provides it.
 *
 * @since 0.1.0
 * @category tags
 */
export class MutualTls extends Context.Tag("tokenlayer/MutualTls")<MutualTls, Service>() {}

/**
 * Checks a certificate and key (by the `Clock`) and opens the `HttpClient` that presents them, for the
 * lifetime of the scope (its connections are closed with it).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { MutualTls } from "tokenlayer"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const tls = yield* MutualTls.make({
 *     certificate: Redacted.make(process.env.CLIENT_CERT ?? ""),
 *     privateKey: Redacted.make(process.env.CLIENT_KEY ?? "")
 *   })
 *   console.log(tls.subject, tls.thumbprint)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, CertificateError, Scope.Scope> =>
  Effect.map(
    internal.connect(options, (reason) => new CertificateError({ reason })),
    (connection): Service => {
      const value: Service = {
        _tag: "MutualTls",
        httpClient: connection.httpClient,
        thumbprint: connection.thumbprint,
        subject: connection.subject,
        notAfter: connection.notAfter
      }
      // shown without the client (whose agent holds the key)
      return Object.defineProperties(value, {
        toJSON: { value: () => internal.describe(connection) },
        toString: { value: () => internal.format(connection) },
        [Symbol.for("nodejs.util.inspect.custom")]: { value: () => internal.describe(connection) },
        httpClient: { value: connection.httpClient, enumerable: false }
      })
    }
  )

/**
 * `make` as a layer: a bad certificate or key fails the layer with a `CertificateError`.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Redacted } from "effect"
 * import { ClientAuth, Grant, MutualTls } from "tokenlayer"
 *
 * const Tls = MutualTls.layer({
 *   certificate: Redacted.make(process.env.CLIENT_CERT ?? ""),
 *   privateKey: Redacted.make(process.env.CLIENT_KEY ?? "")
 * })
 * const GrantLive = Layer.unwrapEffect(Effect.map(MutualTls.MutualTls, (tls) =>
 *   Grant.clientCredentials({
 *     tokenUrl: "https://mtls.auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientAuth: ClientAuth.tlsClientAuth(tls)
 *   }))).pipe(Layer.provide(Tls))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<MutualTls, CertificateError> =>
  Layer.scoped(MutualTls, make(options))

/**
 * The `HttpClient` of a `MutualTls` as the program's `HttpClient`, for a `TokenHttpClient` layer whose
 * API takes certificate-bound tokens.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient = (tls: Service): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(HttpClient.HttpClient, tls.httpClient)

// -----------------------------------------------------------------------------
// mutual TLS (RFC 8705 §2)
// -----------------------------------------------------------------------------

const mutualTls = (
  method: "tls_client_auth" | "self_signed_tls_client_auth",
  tls: Service
): ClientAuth.ClientAuth => ({
  method,
  httpClient: tls.httpClient,
  authenticate: ({ clientId }) => Effect.succeed({ headers: [], params: [["client_id", clientId]] })
})

/**
 * `tls_client_auth` (RFC 8705 §2.1): the client proves who it is with a certificate from a CA the
 * server trusts, presented on the TLS connection to the token endpoint; the form carries `client_id`.
 * Requests of this method go over the certificate's own `HttpClient` (see `MutualTls`), and a grant
 * given an issuer uses the metadata's `mtls_endpoint_aliases` (RFC 8705 §5). The server registers the
 * certificate's subject DN or a subject alternative name for the client.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Redacted } from "effect"
 * import { ClientAuth, Grant, MutualTls } from "tokenlayer"
 *
 * const GrantLive = Layer.unwrapEffect(Effect.map(MutualTls.MutualTls, (tls) =>
 *   Grant.clientCredentials({
 *     issuer: "https://auth.example.com",
 *     clientId: "my-client",
 *     clientAuth: ClientAuth.tlsClientAuth(tls)
 *   }))).pipe(Layer.provide(MutualTls.layer({
 *     certificate: Redacted.make(process.env.CLIENT_CERT ?? ""),
 *     privateKey: Redacted.make(process.env.CLIENT_KEY ?? "")
 *   })))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const tlsClientAuth = (tls: Service): ClientAuth.ClientAuth => mutualTls("tls_client_auth", tls)

/**
 * `self_signed_tls_client_auth` (RFC 8705 §2.2): as `tlsClientAuth`, with a self-signed certificate that
 * the server registered for the client (by its thumbprint or in the client's JWK set).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Redacted } from "effect"
 * import { ClientAuth, Grant, MutualTls } from "tokenlayer"
 *
 * const GrantLive = Layer.unwrapEffect(Effect.map(MutualTls.MutualTls, (tls) =>
 *   Grant.clientCredentials({
 *     tokenUrl: "https://mtls.auth.example.com/oauth2/token",
 *     clientId: "my-client",
 *     clientAuth: ClientAuth.selfSignedTlsClientAuth(tls)
 *   }))).pipe(Layer.provide(MutualTls.layer({
 *     certificate: Redacted.make(process.env.CLIENT_CERT ?? ""),
 *     privateKey: Redacted.make(process.env.CLIENT_KEY ?? "")
 *   })))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const selfSignedTlsClientAuth = (tls: Service): ClientAuth.ClientAuth =>
  mutualTls("self_signed_tls_client_auth", tls)

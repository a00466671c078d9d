/**
 * Mutual TLS at the embedded `AuthServer` (RFC 8705): the two client authentication methods
 * (`tls_client_auth`: a certificate from the listener's CA with the registered subject DN or SAN;
 * `self_signed_tls_client_auth`: the registered certificate, by thumbprint) and the binding of tokens to
 * the certificate they were requested with (§3).
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as crypto from "node:crypto"
import type { PeerCertificate } from "./httpParts.js"
import { OAuthError, param } from "./oauthBase.js"
import type { Client, ClientAuthMethod, EndpointRequest } from "./oauthServer.js"

/**
 * The RFC 8705 §3.1 `x5t#S256` of a certificate.
 *
 * @internal
 */
export const thumbprint = (certificate: crypto.X509Certificate): string =>
  crypto.createHash("sha256").update(certificate.raw).digest("base64url")

/**
 * The thumbprint of a PEM certificate a test registers; a certificate that cannot be read throws.
 *
 * @internal
 */
export const thumbprintOfPem = (who: string, pem: string): string => {
  try {
    return thumbprint(new crypto.X509Certificate(pem))
  } catch {
    throw new Error(`AuthServer: ${who}: the certificate is not a readable PEM certificate`)
  }
}

const refused = (description: string): OAuthError =>
  new OAuthError({ status: 401, error: "invalid_client", description })

/** The methods that name the client with `client_id` alone: which one a request uses is the client's. */
export const idOnlyMethods: ReadonlySet<string> = new Set(["none", "tls_client_auth", "self_signed_tls_client_auth"])

/** A certificate and a `client_id`, and no other credentials. */
const claim = (request: EndpointRequest): Either.Either<string | undefined, OAuthError> =>
  request.peer === undefined || request.headers["authorization"] !== undefined ||
    request.form.has("client_secret") || request.form.has("client_assertion")
    ? Either.right(undefined)
    : Either.map(param(request.form, "client_id"), (id) => id === "" ? undefined : id)

const attributes = (dn: string): Array<string> =>
  dn.split(/\n|,/).map((part) => part.trim()).filter((part) => part !== "").sort()

const sameSubject = (certificate: crypto.X509Certificate, expected: string): boolean =>
  attributes(certificate.subject).join("\n") === attributes(expected).join("\n")

const hasSan = (certificate: crypto.X509Certificate, expected: string): boolean =>
  (certificate.subjectAltName ?? "").split(",").map((name) => name.trim()).includes(expected.trim())

const expiry = (peer: PeerCertificate) =>
  Effect.flatMap(DateTime.now, (now) =>
    now.epochMillis >= new Date(peer.certificate.validTo).getTime()
      ? Effect.fail(refused("the client certificate expired"))
      : Effect.void)

/** @internal */
export const tlsClientAuth: ClientAuthMethod = {
  name: "tls_client_auth",
  challenge: false,
  claim,
  verify: (request: EndpointRequest, client: Client) =>
    Effect.suspend(() => {
      const peer = request.peer
      if (peer === undefined) return Effect.fail(refused("no client certificate"))
      if (peer.authorizationError !== undefined) {
        return Effect.fail(
          refused(
            peer.authorizationError === "CERT_HAS_EXPIRED"
              ? "the client certificate expired (CERT_HAS_EXPIRED)"
              : `the client certificate is not from a trusted CA (${peer.authorizationError})`
          )
        )
      }
      const matches = client.tlsSan !== undefined
        ? hasSan(peer.certificate, client.tlsSan)
        : client.tlsSubject !== undefined && sameSubject(peer.certificate, client.tlsSubject)
      return matches
        ? expiry(peer)
        : Effect.fail(refused(`the client certificate is not the one registered for ${client.id}`))
    })
}

/** @internal */
export const selfSignedTlsClientAuth: ClientAuthMethod = {
  name: "self_signed_tls_client_auth",
  challenge: false,
  claim,
  verify: (request: EndpointRequest, client: Client) =>
    Effect.suspend(() => {
      const peer = request.peer
      if (peer === undefined) return Effect.fail(refused("no client certificate"))
      if (client.certificateThumbprint === undefined || thumbprint(peer.certificate) !== client.certificateThumbprint) {
        return Effect.fail(refused(`the client certificate is not the one registered for ${client.id}`))
      }
      return expiry(peer)
    })
}

/**
 * The thumbprint a token requested over `request` is bound to: its client certificate's, when it has
 * one (RFC 8705 §3).
 *
 * @internal
 */
export const bindingOf = (request: EndpointRequest): string | undefined =>
  request.peer === undefined ? undefined : thumbprint(request.peer.certificate)

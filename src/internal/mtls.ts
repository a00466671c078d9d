/**
 * Mutual TLS (RFC 8705): a client certificate and its private key checked once (a PEM certificate, a
 * PEM private key that belongs to it, not expired by the `Clock`), and an undici `Agent` that presents
 * them on every connection it opens, as an `HttpClient` of its own: the rest of a program's `HttpClient`
 * never carries the certificate.
 *
 * Nothing here puts key material in a message: the checks name the problem, never the PEM.
 *
 * @internal
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"

/**
 * What `check` found out about a certificate: its RFC 8705 §3.1 thumbprint, subject, and expiry.
 *
 * @internal
 */
export interface Checked {
  /** `x5t#S256`: the base64url SHA-256 of the (first) certificate's DER. */
  readonly thumbprint: string
  /** The subject, as Node prints it (`CN=app, O=Example`). */
  readonly subject: string
  readonly notAfter: Date
}

/**
 * The largest PEM accepted (a certificate chain of a few certificates fits many times over).
 *
 * @internal
 */
export const maxPemLength = 256 * 1024

/**
 * The RFC 8705 §3.1 `x5t#S256` of a certificate: base64url(SHA-256(DER)).
 *
 * @internal
 */
export const thumbprintOf = (certificate: crypto.X509Certificate): string =>
  crypto.createHash("sha256").update(certificate.raw).digest("base64url")

const parseCertificate = (pem: string): Either.Either<crypto.X509Certificate, string> => {
  if (pem.trim() === "") return Either.left("expected a certificate, not an empty string (is its variable set?)")
  if (pem.length > maxPemLength) return Either.left(`the certificate is larger than ${maxPemLength / 1024} KiB`)
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    return Either.left("the certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
  }
  try {
    return Either.right(new crypto.X509Certificate(pem))
  } catch {
    return Either.left("the certificate is not a readable PEM X.509 certificate")
  }
}

const parseKey = (
  pem: string,
  passphrase: string | undefined
): Either.Either<crypto.KeyObject, string> => {
  if (pem.trim() === "") return Either.left("expected a private key, not an empty string (is its variable set?)")
  if (pem.length > maxPemLength) return Either.left(`the private key is larger than ${maxPemLength / 1024} KiB`)
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    return Either.left("the private key is not a PEM private key (-----BEGIN PRIVATE KEY-----)")
  }
  try {
    return Either.right(crypto.createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase }))
  } catch {
    return Either.left(
      passphrase === undefined && pem.includes("ENCRYPTED")
        ? "the private key is encrypted and no passphrase was given"
        : "the private key is not a readable PEM private key (PKCS#8, PKCS#1 or SEC1; wrong passphrase?)"
    )
  }
}

/**
 * Checks a certificate and its private key at `now` (epoch milliseconds): both readable PEM, the key the
 * certificate's, the certificate not expired. The problem in words, else what the certificate says.
 *
 * @internal
 */
export const check = (
  certificatePem: string,
  privateKeyPem: string,
  passphrase: string | undefined,
  now: number
): Either.Either<Checked, string> =>
  Either.gen(function*() {
    const certificate = yield* parseCertificate(certificatePem)
    const key = yield* parseKey(privateKeyPem, passphrase)
    if (key.type !== "private") return yield* Either.left("the private key is not a private key")
    if (!certificate.checkPrivateKey(key)) {
      return yield* Either.left(`the private key does not belong to the certificate (subject ${certificate.subject})`)
    }
    const notAfter = new Date(certificate.validTo)
    if (!Number.isNaN(notAfter.getTime()) && now >= notAfter.getTime()) {
      return yield* Either.left(
        `the certificate (subject ${certificate.subject}) expired on ${notAfter.toISOString()}`
      )
    }
    return { thumbprint: thumbprintOf(certificate), subject: certificate.subject.replace(/\n/g, ", "), notAfter }
  })

/**
 * What builds a client certificate's connections.
 *
 * @internal
 */
export interface ConnectOptions {
  readonly certificate: Redacted.Redacted<string>
  readonly privateKey: Redacted.Redacted<string>
  readonly passphrase?: Redacted.Redacted<string> | undefined
  readonly ca?: string | ReadonlyArray<string> | undefined
}

/**
 * A checked certificate and the `HttpClient` that presents it.
 *
 * @internal
 */
export interface Connection extends Checked {
  readonly httpClient: HttpClient.HttpClient
}

/**
 * Checks the certificate and key by the `Clock` (failing with `onProblem`'s error), then opens an undici
 * `Agent` that presents them, destroyed when the scope closes.
 *
 * @internal
 */
export const connect = <E>(
  options: ConnectOptions,
  onProblem: (problem: string) => E
): Effect.Effect<Connection, E, Scope.Scope> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const passphrase = options.passphrase === undefined ? undefined : Redacted.value(options.passphrase)
    const checked = check(Redacted.value(options.certificate), Redacted.value(options.privateKey), passphrase, now)
    if (Either.isLeft(checked)) return yield* Effect.fail(onProblem(checked.left))
    const ca = typeof options.ca === "string" ? [options.ca] : options.ca
    if (ca !== undefined && ca.some((pem) => !pem.includes("-----BEGIN CERTIFICATE-----"))) {
      return yield* Effect.fail(onProblem("ca is not a PEM certificate (-----BEGIN CERTIFICATE-----)"))
    }
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Undici.Agent({
          connect: {
            cert: Redacted.value(options.certificate),
            key: Redacted.value(options.privateKey),
            ...(passphrase === undefined ? {} : { passphrase }),
            ...(ca === undefined ? {} : { ca: [...ca] })
          }
        })
      ),
      (agent) => Effect.promise(() => agent.destroy())
    )
    const httpClient = NodeHttpClient.makeUndici(agent)
    return { ...checked.right, httpClient }
  })

/**
 * What a connection shows of itself (`inspect`, `JSON.stringify`, `String`): the certificate's
 * thumbprint, subject and expiry, never the key.
 *
 * @internal
 */
export const describe = (connection: Checked): Record<string, unknown> => ({
  _id: "MutualTls",
  subject: connection.subject,
  thumbprint: connection.thumbprint,
  notAfter: connection.notAfter.toISOString()
})

/** @internal */
export const format = (connection: Checked): string => Inspectable.format(describe(connection))

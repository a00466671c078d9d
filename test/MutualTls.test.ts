/**
 * Mutual TLS (RFC 8705) over real TLS on 127.0.0.1, against the embedded `AuthServer`'s https listener:
 * both client authentication methods, the discovery document's `mtls_endpoint_aliases`, certificate-bound
 * tokens refused without the certificate and accepted with it, and typed errors for bad certificates.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted, TestClock } from "effect"
import { ClientAuth, Discovery, Grant, MutualTls, Token, TokenError, TokenHttpClient, TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { serviceFor } from "./support/authServer.js"
import { makeCertificates, type Pair } from "./support/certificates.js"

const certs = makeCertificates()

const Server = AuthServer.layer({
  mutualTls: { certificate: certs.server.certificate, privateKey: certs.server.privateKey, ca: certs.ca },
  clients: [
    { id: "app", method: "tls_client_auth", tlsSubject: "CN=app, O=Tokenlayer Test" },
    { id: "san-app", method: "tls_client_auth", tlsSan: "DNS:app.tokenlayer.test" },
    { id: "self-app", method: "self_signed_tls_client_auth", certificate: certs.selfSigned.certificate },
    { id: "secret-app", secret: "s3cret" }
  ]
})

const tlsOf = (pair: Pair) =>
  MutualTls.make({
    certificate: Redacted.make(pair.certificate),
    privateKey: Redacted.make(pair.privateKey),
    ca: certs.ca
  })

/** An https client that trusts the test CA and presents no certificate. */
const anonymous = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => new Undici.Agent({ connect: { ca: certs.ca } })),
    (agent) => Effect.promise(() => agent.destroy())
  ),
  NodeHttpClient.makeUndici
)

const tokenWith = (
  clientId: string,
  clientAuth: ClientAuth.ClientAuth,
  where: { readonly tokenUrl: string } | { readonly issuer: string }
) =>
  Effect.flatMap(
    Effect.orDie(Grant.ClientCredentials.make({ ...where, clientId, clientAuth })),
    (grant) => Effect.flatMap(serviceFor(grant), (service) => service.get)
  )

const apiStatus = (client: HttpClient.HttpClient, url: string, token: Token.Token) =>
  Effect.map(
    client.get(url, { headers: { authorization: Token.authorizationHeader(token) } }),
    (response) => response.status
  ).pipe(Effect.orDie)

describe("MutualTls", () => {
  it.scoped("tls_client_auth: a CA certificate with the registered subject gets a token bound to it", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const tls = yield* tlsOf(certs.client)
      const token = yield* tokenWith("app", ClientAuth.tlsClientAuth(tls), { tokenUrl: server.mtls!.tokenUrl })
      const issued = yield* server.tokens
      assert.strictEqual(issued.length, 1)
      assert.strictEqual(Redacted.value(issued[0]!.accessToken), Redacted.value(token.accessToken))
      assert.strictEqual(issued[0]!.clientId, "app")
      assert.strictEqual(issued[0]!.certificateThumbprint, tls.thumbprint)
      // and the same certificate matched by its subject alternative name
      yield* tokenWith("san-app", ClientAuth.tlsClientAuth(tls), { tokenUrl: server.mtls!.tokenUrl })
      assert.deepStrictEqual((yield* server.stats).tokenRequestsBy, { app: { issued: 1 }, "san-app": { issued: 1 } })
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))

  it.scoped("self_signed_tls_client_auth: the registered self-signed certificate gets a token", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const tls = yield* tlsOf(certs.selfSigned)
      yield* tokenWith("self-app", ClientAuth.selfSignedTlsClientAuth(tls), { tokenUrl: server.mtls!.tokenUrl })
      const issued = yield* server.tokens
      assert.strictEqual(issued[0]!.certificateThumbprint, tls.thumbprint)
      assert.deepStrictEqual((yield* server.stats).tokenRequestsBy, { "self-app": { issued: 1 } })
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))

  it.scoped("a certificate-bound token is refused without the certificate and accepted with it", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const tls = yield* tlsOf(certs.client)
      const other = yield* tlsOf(certs.other)
      const token = yield* tokenWith("app", ClientAuth.tlsClientAuth(tls), { tokenUrl: server.mtls!.tokenUrl })
      const url = server.mtls!.apiUrl("things")
      assert.strictEqual(yield* apiStatus(yield* anonymous, url, token), 401)
      assert.strictEqual(yield* apiStatus(other.httpClient, url, token), 401)
      assert.strictEqual(yield* apiStatus(yield* HttpClient.HttpClient, server.apiUrl("things"), token), 401)
      assert.strictEqual(yield* apiStatus(tls.httpClient, url, token), 200)
      assert.strictEqual((yield* server.stats).unauthorizedBy.certificate, 3)
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))

  it.scoped("TokenHttpClient over the certificate's client sends the bound token with the certificate", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const tls = yield* tlsOf(certs.client)
      const grant = yield* Grant.ClientCredentials.make({
        tokenUrl: server.mtls!.tokenUrl,
        clientId: "app",
        clientAuth: ClientAuth.tlsClientAuth(tls)
      })
      const tokens = yield* serviceFor(grant)
      const api = TokenHttpClient.authorize(tls.httpClient, tokens)
      const response = yield* api.get(server.mtls!.apiUrl("things"))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual((yield* response.json as Effect.Effect<{ client_id: string }>).client_id, "app")
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))

  it.scoped("an issuer's mtls_endpoint_aliases are used by an mTLS client, not by the others", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const tls = yield* tlsOf(certs.client)
      // the issuer is the plain http listener; its token endpoint would refuse a client with no certificate
      yield* tokenWith("app", ClientAuth.tlsClientAuth(tls), { issuer: server.issuer })
      yield* tokenWith("secret-app", ClientAuth.basic(Redacted.make("s3cret")), { issuer: server.issuer })
      const [bound, plain] = yield* server.tokens
      assert.strictEqual(bound!.certificateThumbprint, tls.thumbprint)
      assert.strictEqual(plain!.certificateThumbprint, undefined)
      const metadata = yield* Discovery.discover(server.issuer)
      assert.strictEqual(metadata.tokenEndpoint, server.tokenUrl)
      assert.strictEqual(metadata.mtlsEndpointAliases?.tokenEndpoint, server.mtls!.tokenUrl)
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))

  it.scoped("a certificate the server does not accept: invalid_client, with what was wrong", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const other = yield* tlsOf(certs.other)
      const expired = yield* tlsOf(certs.expired)
      const failure = (clientId: string, auth: ClientAuth.ClientAuth) =>
        Effect.flip(tokenWith(clientId, auth, { tokenUrl: server.mtls!.tokenUrl }))
      const untrusted = yield* failure("app", ClientAuth.tlsClientAuth(other))
      assert.instanceOf(untrusted, TokenError.HttpError)
      assert.strictEqual(untrusted.status, 401)
      assert.strictEqual(untrusted.error, "invalid_client")
      assert.include(untrusted.errorDescription, "not from a trusted CA")
      const notRegistered = yield* failure("self-app", ClientAuth.selfSignedTlsClientAuth(other))
      assert.include(notRegistered.errorDescription, "not the one registered for self-app")
      const old = yield* failure("app", ClientAuth.tlsClientAuth(expired))
      assert.strictEqual(old.error, "invalid_client")
      assert.include(old.errorDescription, "expired")
      assert.isFalse(TokenError.isTransient(untrusted))
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))

  it.scoped("bad certificates and keys fail with a CertificateError that names the problem, not the key", () =>
    Effect.gen(function*() {
      const fail = (options: Partial<Pair> & { readonly passphrase?: string }) =>
        Effect.flip(MutualTls.make({
          certificate: Redacted.make(options.certificate ?? certs.client.certificate),
          privateKey: Redacted.make(options.privateKey ?? certs.client.privateKey)
        }))
      const cases: ReadonlyArray<readonly [Partial<Pair>, string]> = [
        [{ certificate: "" }, "not an empty string"],
        [{ certificate: "not a certificate" }, "not a PEM certificate"],
        [{ certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }, "not a readable"],
        [{ privateKey: "" }, "not an empty string"],
        [{ privateKey: certs.client.certificate }, "not a PEM private key"],
        [{ privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, "not a readable"],
        [{ privateKey: certs.other.privateKey }, "does not belong to the certificate"]
      ]
      for (const [options, expected] of cases) {
        const error = yield* fail(options)
        assert.strictEqual(error._tag, "CertificateError")
        assert.include(error.message, expected)
        const keyBody = certs.other.privateKey.split("\n")[1]!
        assert.notInclude(error.message, keyBody)
        assert.notInclude(error.message, certs.client.privateKey.split("\n")[1]!)
      }
    }))

  it.scoped("an expired certificate (by the Clock) fails with a CertificateError", () =>
    Effect.gen(function*() {
      const valid = yield* Effect.either(tlsOf(certs.client))
      assert.isTrue(Either.isRight(valid))
      yield* TestClock.setTime(Date.parse("2030-01-01T00:00:00Z"))
      const error = yield* Effect.flip(tlsOf(certs.client))
      assert.include(error.message, "expired on")
      assert.include(error.message, "CN=app")
    }))

  it.scoped("the certificate's TokenService is the one of its grant", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const tls = yield* tlsOf(certs.client)
      const Tokens = TokenService.layer().pipe(
        Layer.provide(Grant.clientCredentials({
          tokenUrl: server.mtls!.tokenUrl,
          clientId: "app",
          clientAuth: ClientAuth.tlsClientAuth(tls)
        }))
      )
      const token = yield* Effect.provide(TokenService.get, Tokens)
      assert.strictEqual(yield* apiStatus(tls.httpClient, server.mtls!.apiUrl(), token), 200)
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))
})

/**
 * Metadata discovery (RFC 8414, OpenID Connect Discovery 1.0) over real HTTP: against the embedded
 * AuthServer for the documents it serves and the grants that use them, and against the recording
 * endpoint of test/support for documents that are elsewhere, wrong, or missing.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus } from "./support/authServer.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const Live = Layer.merge(
  AuthServer.layer({
    clients: [{ id: "cli", method: "none" }, { id: "app", secret: "s3cret" }],
    tokenLifetime: "10 minutes"
  }),
  NodeHttpClient.layerUndici
)
const Recording = Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici)

const server = AuthServer.AuthServer

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

/** The recording endpoint's origin: `http://127.0.0.1:<port>`. */
const origin = Effect.map(TokenEndpoint.TokenEndpoint, (e) => new URL(e.url).origin)

/** The paths the recording endpoint was asked for, in order. */
const requestedPaths = Effect.flatMap(
  TokenEndpoint.TokenEndpoint,
  (e) => Effect.map(e.requests, (all) => all.map((r) => r.url))
)

/** Serves `document` at `path` and 404 everywhere else. */
const serveAt = (path: string, document: unknown) =>
  Effect.flatMap(TokenEndpoint.TokenEndpoint, (e) =>
    e.respond((request) =>
      request.url === path
        ? { body: document as object }
        : { status: 404, body: { error: "not_found" } }
    ))

// -----------------------------------------------------------------------------
// the documents
// -----------------------------------------------------------------------------

describe("Grant.discover", () => {
  it.effect("reads the RFC 8414 document (and the OpenID one on request): endpoints checked and typed", () =>
    Effect.gen(function*() {
      const s = yield* server
      const metadata = yield* Grant.discover(s.issuer)
      assert.strictEqual(metadata.issuer, s.issuer)
      assert.strictEqual(metadata.tokenEndpoint, s.tokenUrl)
      assert.strictEqual(metadata.deviceAuthorizationEndpoint, s.deviceAuthorizationUrl)
      assert.strictEqual(metadata.revocationEndpoint, s.revocationUrl)
      assert.includeMembers([...metadata.grantTypesSupported!], ["refresh_token", DEVICE_GRANT])
      assert.include(metadata.tokenEndpointAuthMethodsSupported ?? [], "none")
      assert.strictEqual(metadata.document["token_endpoint"], s.tokenUrl)
      assert.strictEqual((yield* AuthServer.stats).metadataRequests, 1)

      const oidc = yield* Grant.discover(s.issuer, { wellKnown: "openid-configuration" })
      assert.strictEqual(oidc.tokenEndpoint, s.tokenUrl)
      assert.strictEqual((yield* AuthServer.stats).metadataRequests, 2)
    }).pipe(Effect.provide(Live)))

  it.effect("falls back to OpenID Connect discovery; an issuer's path goes where each spec puts it", () =>
    Effect.gen(function*() {
      const issuer = `${yield* origin}/realms/iot`
      yield* serveAt("/realms/iot/.well-known/openid-configuration", {
        issuer,
        token_endpoint: `${issuer}/protocol/openid-connect/token`,
        device_authorization_endpoint: `${issuer}/protocol/openid-connect/auth/device`,
        jwks_uri: `${issuer}/protocol/openid-connect/certs`
      })
      const metadata = yield* Grant.discover(issuer)
      assert.strictEqual(metadata.tokenEndpoint, `${issuer}/protocol/openid-connect/token`)
      assert.strictEqual(metadata.deviceAuthorizationEndpoint, `${issuer}/protocol/openid-connect/auth/device`)
      assert.isUndefined(metadata.revocationEndpoint)
      assert.strictEqual(metadata.document["jwks_uri"], `${issuer}/protocol/openid-connect/certs`)
      assert.deepStrictEqual(yield* requestedPaths, [
        "/.well-known/oauth-authorization-server/realms/iot",
        "/realms/iot/.well-known/openid-configuration"
      ])
    }).pipe(Effect.provide(Recording)))

  it.effect("refuses a document that names another issuer (RFC 8414 §3.3), without trying the other", () =>
    Effect.gen(function*() {
      const issuer = yield* origin
      yield* serveAt("/.well-known/oauth-authorization-server", {
        issuer: "https://evil.example",
        token_endpoint: "https://evil.example/token"
      })
      const error = yield* Effect.flip(Grant.discover(issuer))
      assert.strictEqual(error.reason, "Decode")
      assert.isFalse(error.isTransient)
      assert.match(error.message, /issuer mismatch: the document names "https:\/\/evil\.example", not "http:\/\/127/)
      assert.strictEqual((yield* requestedPaths).length, 1)
    }).pipe(Effect.provide(Recording)))

  it.effect("an issuer must match exactly: a trailing slash is another issuer", () =>
    Effect.gen(function*() {
      const s = yield* server
      const error = yield* Effect.flip(Grant.discover(`${s.issuer}/`))
      assert.match(error.message, /issuer mismatch/)
    }).pipe(Effect.provide(Live)))

  it.effect("a bad or missing document is a typed error", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      const issuer = yield* origin
      const rfc8414 = "/.well-known/oauth-authorization-server"
      const failure = (document: unknown) =>
        Effect.zipRight(serveAt(rfc8414, document), Effect.flip(Grant.discover(issuer)))

      const noTokenEndpoint = yield* failure({ issuer })
      assert.strictEqual(noTokenEndpoint.reason, "Decode")
      assert.match(noTokenEndpoint.message, /not authorization server metadata: invalid field: token_endpoint/)
      const notUrl = yield* failure({ issuer, token_endpoint: "ftp://example.com/token" })
      assert.match(notUrl.message, /token_endpoint/)
      const array = yield* failure([issuer])
      assert.match(array.message, /not a JSON object/)

      // nothing at either path
      yield* endpoint.respond({ status: 404, body: { error: "not_found" } })
      const missing = yield* Effect.flip(Grant.discover(issuer))
      assert.strictEqual(missing.reason, "Status")
      assert.strictEqual(missing.status, 404) // transient, as any 4xx without an RFC 6749 error code
      assert.isTrue(missing.isTransient)
      assert.match(
        missing.message,
        /no authorization server metadata at .*oauth-authorization-server \(404\) nor at .*openid-configuration \(404\)/
      )
      yield* endpoint.respond({ body: "<html>sign in</html>", contentType: "text/html" })
      const html = yield* Effect.flip(Grant.discover(issuer))
      assert.strictEqual(html.reason, "Decode")
      assert.match(html.message, /not JSON: text\/html/)

      // a server in trouble: transient, and not a reason to try the other document
      yield* endpoint.respond({ status: 503, body: "" })
      const unavailable = yield* Effect.flip(Grant.discover(issuer))
      assert.strictEqual(unavailable.status, 503)
      assert.isTrue(unavailable.isTransient)
      assert.strictEqual((yield* requestedPaths).length, 1)

      // an issuer that is not one (RFC 8414 §2): nothing is sent
      yield* endpoint.respond({ status: 500 })
      for (const bad of ["not a url", `${issuer}?tenant=x`, `${issuer}#x`, "ftp://example.com"]) {
        const invalid = yield* Effect.flip(Grant.discover(bad))
        assert.strictEqual(invalid.reason, "Decode")
        assert.match(invalid.message, /invalid issuer/)
      }
      assert.strictEqual((yield* requestedPaths).length, 0)

      const closed = yield* TokenEndpoint.closedPortUrl
      const refused = yield* Effect.flip(Grant.discover(new URL(closed).origin))
      assert.strictEqual(refused.reason, "Transport")
      assert.isTrue(refused.isTransient)
    }).pipe(Effect.provide(Recording)))
})

// -----------------------------------------------------------------------------
// grants given an issuer
// -----------------------------------------------------------------------------

describe("grants given an issuer", () => {
  it.effect("the device grant and the refresh token grant use the endpoints the metadata names", () =>
    Effect.gen(function*() {
      const s = yield* server
      const client = yield* HttpClient.HttpClient
      const device = Grant.makeDeviceCode({
        issuer: s.issuer,
        clientId: "cli",
        prompt: (info) => Effect.asVoid(s.approve(info.userCode)),
        httpTimeout: "59 seconds"
      }, client)
      assert.match(device.key, /^grant=device_code;issuer=http:\/\/127\.0\.0\.1:\d+;client=cli$/)
      const fiber = yield* Effect.fork(device.request(Option.none()))
      yield* TokenEndpoint.pollUntil(
        "the first poll's sleep",
        Effect.map(TestClock.sleeps(), Chunk.some((t) => t === 5_000))
      )
      yield* TestClock.setTime(5_000)
      const token = yield* Fiber.join(fiber)
      assert.strictEqual(yield* apiStatus(token), 200)

      const refresh = Grant.makeRefreshToken(
        { issuer: s.issuer, clientId: "cli", refreshToken: token.refreshToken! },
        client
      )
      const renewed = yield* refresh.request(Option.none())
      assert.strictEqual(yield* apiStatus(renewed), 200)
      const stats = yield* AuthServer.stats
      assert.strictEqual(stats.deviceAuthorizationRequests, 1)
      assert.deepStrictEqual(stats.tokenRequestsBy, { cli: { issued: 2 } })
      assert.strictEqual(stats.metadataRequests, 2) // one per grant: each named the issuer as a string

      // and the client credentials grant
      const service = Grant.makeClientCredentials({
        issuer: s.issuer,
        clientId: "app",
        clientSecret: Redacted.make("s3cret")
      }, client)
      assert.match(service.key, /^grant=client_credentials;issuer=http:\/\/127\.0\.0\.1:\d+;client=app$/)
      assert.strictEqual(yield* apiStatus(yield* service.request(Option.none())), 200)
    }).pipe(Effect.provide(Live)))

  it.scoped("one document for several grants and renewals, fetched again after the TTL", () =>
    Effect.gen(function*() {
      const s = yield* server
      const issuer = yield* Grant.discovery(s.issuer, { ttl: "1 hour" })
      const client = yield* HttpClient.HttpClient
      const serviceFor = (refreshToken: Redacted.Redacted<string>) =>
        TokenService.make().pipe(
          Effect.provideService(Grant.Grant, Grant.makeRefreshToken({ issuer, clientId: "cli", refreshToken }, client)),
          Effect.provide(
            Layer.mergeAll(RefreshPolicy.fixed("1 minute"), RetryPolicy.layerDefault, TokenStore.layerMemory)
          )
        )
      // two logins of one client, two grants, one document
      const tokens = yield* serviceFor(yield* AuthServer.issueRefreshToken("cli"))
      const other = yield* serviceFor(yield* AuthServer.issueRefreshToken("cli"))
      const metadataRequests = Effect.map(AuthServer.stats, (stats) => stats.metadataRequests)
      yield* tokens.get
      yield* other.get
      assert.strictEqual(yield* metadataRequests, 1)
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { cli: { issued: 2 } })
      yield* TestClock.adjust("9 minutes")
      yield* tokens.get // a renewal: the document is still fresh
      yield* TestClock.adjust("9 minutes")
      yield* tokens.get
      assert.strictEqual(yield* metadataRequests, 1)
      assert.strictEqual((yield* issuer.metadata).tokenEndpoint, s.tokenUrl)
      assert.strictEqual(yield* metadataRequests, 1)
      yield* TestClock.adjust("45 minutes") // past the TTL
      yield* tokens.get
      assert.strictEqual(yield* metadataRequests, 2)
    }).pipe(Effect.provide(Live)))

  it.effect("a failed fetch is not kept; a document without a device endpoint fails the device grant", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      const client = yield* HttpClient.HttpClient
      const issuer = yield* origin
      const document = { issuer, token_endpoint: `${issuer}/token` }
      yield* endpoint.respond([{ status: 503, body: "" }, { body: document }])
      const discovery = Grant.makeDiscovery(issuer, client, { wellKnown: "oauth-authorization-server" })
      const error = yield* Effect.flip(discovery.metadata)
      assert.strictEqual(error.status, 503)
      assert.strictEqual((yield* discovery.metadata).tokenEndpoint, `${issuer}/token`)
      yield* discovery.metadata
      assert.strictEqual((yield* requestedPaths).length, 2) // the failure was not cached, the document is

      const device = Grant.makeDeviceCode({ issuer: discovery, clientId: "cli", prompt: () => Effect.void }, client)
      const noEndpoint = yield* Effect.flip(device.request(Option.none()))
      assert.strictEqual(noEndpoint.reason, "Decode")
      assert.match(noEndpoint.message, /names no device_authorization_endpoint/)
      assert.strictEqual((yield* requestedPaths).length, 2)
    }).pipe(Effect.provide(Recording)))
})

/**
 * `ClientAuth.clientSecretJwt` and `ClientAuth.privateKeyJwt` (RFC 7523 §2.2, OpenID Connect Core §9)
 * with the client credentials grant, over real HTTP on 127.0.0.1: a recording token endpoint
 * (test/support/tokenEndpoint.ts) for what goes over the wire, the embedded `AuthServer` for what a
 * server that checks assertions answers. Each test builds its servers inside the test, on its TestClock.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import type { Clock } from "effect"
import { Cause, Config, ConfigProvider, Effect, Exit, Layer, Option, Redacted, Ref, TestClock } from "effect"
import * as Jose from "jose"
import { inspect } from "node:util"
import type { TokenError } from "tokenlayer"
import { ClientAuth, Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { callApiAt, secretKey, sentValues, shifted, START, startSeconds, Wire, wireClient } from "./support/jwt.js"
import { captureLogs } from "./support/logs.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
const SECRET = "cl1ent s3cr:et%+£€/=&"
const at = (millis: number) => ({ currentDate: new globalThis.Date(millis) })

const WireClient = wireClient("client_assertion")
const sentAssertions = sentValues("client_assertion")

/** Generated once: key generation is the slow part. */
const keys = Effect.cached(Effect.promise(async () => {
  const ec = await Jose.generateKeyPair("ES256", { extractable: true })
  const rsa = await Jose.generateKeyPair("RS256", { extractable: true })
  return {
    ec,
    rsa,
    ecPem: await Jose.exportPKCS8(ec.privateKey),
    rsaPem: await Jose.exportPKCS8(rsa.privateKey),
    rsaSpki: await Jose.exportSPKI(rsa.publicKey)
  }
}))
const getKeys = Effect.runSync(keys)

/** The server, with a client for each method; the private_key_jwt clients get their public keys in the test. */
const Server = AuthServer.layer({
  clients: [{ id: "secret-jwt-app", secret: SECRET, method: "client_secret_jwt", tokenLifetime: "10 minutes" }]
})

const registerKeyClients = Effect.gen(function*() {
  const k = yield* getKeys
  yield* AuthServer.register({ id: "ec-app", method: "private_key_jwt", publicKey: k.ec.publicKey })
  yield* AuthServer.register({ id: "rsa-app", method: "private_key_jwt", publicKey: k.rsaSpki })
})

const itServer = (
  name: string,
  body: () => Effect.Effect<unknown, unknown, AuthServer.AuthServer | HttpClient.HttpClient | Wire>
) =>
  it.effect(
    name,
    () =>
      Effect.zipRight(
        TestClock.setTime(START),
        Effect.provide(Effect.zipRight(registerKeyClients, body()), Layer.merge(Server, WireClient))
      )
  )

/** One client credentials request, with a client authentication method, to the server in context. */
const requestWith = (clientId: string, clientAuth: ClientAuth.ClientAuth, clock?: Clock.Clock) =>
  Effect.gen(function*() {
    const server = yield* AuthServer.AuthServer
    const client = yield* HttpClient.HttpClient
    const grant = Grant.makeClientCredentials({ tokenUrl: server.tokenUrl, clientId, clientAuth }, client)
    const request = grant.request(Option.none())
    return yield* clock === undefined ? request : Effect.withClock(request, clock)
  })

const callApi = callApiAt("reports")

const privateKeyJwt = (options: ClientAuth.PrivateKeyJwtOptions) => Effect.orDie(ClientAuth.privateKeyJwt(options))

const assertInvalidClient = (error: TokenError.HttpError, description: RegExp) => {
  assert.strictEqual(error._tag, "HttpError")
  assert.strictEqual(error.reason, "Status")
  assert.strictEqual(error.status, 401)
  assert.strictEqual(error.error, "invalid_client")
  assert.match(error.errorDescription ?? "", description)
  assert.isFalse(error.isTransient)
}

// -----------------------------------------------------------------------------
// on the wire
// -----------------------------------------------------------------------------

describe("JWT client assertions on the wire (recording endpoint)", () => {
  const onWire = (clientAuth: ClientAuth.ClientAuth) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START + 999)
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      const client = yield* HttpClient.HttpClient
      const grant = Grant.makeClientCredentials({ tokenUrl: endpoint.url, clientId: "my-client", clientAuth }, client)
      yield* grant.request(Option.none())
      const [request] = yield* endpoint.awaitRequests(1)
      assert.isUndefined(request!.headers["authorization"])
      assert.deepStrictEqual(
        [...request!.form.keys()].sort(),
        ["client_assertion", "client_assertion_type", "client_id", "grant_type"]
      )
      assert.strictEqual(request!.form.get("grant_type"), "client_credentials")
      assert.strictEqual(request!.form.get("client_assertion_type"), ASSERTION_TYPE)
      assert.strictEqual(request!.form.get("client_id"), "my-client")
      assert.notInclude(request!.body, "s3cr")
      return { assertion: request!.form.get("client_assertion")!, url: endpoint.url }
    })

  const checkClaims = (payload: Jose.JWTPayload, url: string, lifetime = 60) => {
    assert.deepStrictEqual(Object.keys(payload).sort(), ["aud", "exp", "iat", "iss", "jti", "sub"])
    assert.strictEqual(payload.iss, "my-client")
    assert.strictEqual(payload.sub, "my-client")
    assert.strictEqual(payload.aud, url)
    assert.strictEqual(payload.iat, startSeconds)
    assert.strictEqual(payload.exp, startSeconds + lifetime)
    assert.match(payload.jti ?? "", /^[A-Za-z0-9_-]{22}$/)
  }

  it.effect("client_secret_jwt: HS256 keyed by the secret; iss = sub = client_id, aud the token URL, 60 s", () =>
    Effect.gen(function*() {
      const { assertion, url } = yield* onWire(ClientAuth.clientSecretJwt(Redacted.make(SECRET)))
      assert.deepStrictEqual(Jose.decodeProtectedHeader(assertion), { alg: "HS256", typ: "JWT" })
      const { payload } = yield* Effect.promise(() =>
        Jose.jwtVerify(assertion, secretKey(SECRET), { algorithms: ["HS256"], ...at(START) })
      )
      checkClaims(payload, url)
    }).pipe(Effect.provide(Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici))))

  it.effect("private_key_jwt: ES256 with kid, verified with the public key", () =>
    Effect.gen(function*() {
      const k = yield* getKeys
      const { assertion, url } = yield* onWire(
        yield* privateKeyJwt({ privateKey: Redacted.make(k.ecPem), keyId: "key-2026" })
      )
      assert.deepStrictEqual(Jose.decodeProtectedHeader(assertion), { alg: "ES256", typ: "JWT", kid: "key-2026" })
      const { payload } = yield* Effect.promise(() =>
        Jose.jwtVerify(assertion, k.ec.publicKey, { algorithms: ["ES256"], ...at(START) })
      )
      checkClaims(payload, url)
    }).pipe(Effect.provide(Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici))))

  it.effect("options: HS512, another audience, a longer lifetime; RS256 from a CryptoKey, no kid", () =>
    Effect.gen(function*() {
      const k = yield* getKeys
      const hs = yield* onWire(
        ClientAuth.clientSecretJwt(Redacted.make(SECRET), {
          alg: "HS512",
          audience: "https://issuer.example.com",
          lifetime: "5 minutes"
        })
      )
      assert.strictEqual(Jose.decodeProtectedHeader(hs.assertion).alg, "HS512")
      const { payload } = yield* Effect.promise(() => Jose.jwtVerify(hs.assertion, secretKey(SECRET), at(START)))
      assert.strictEqual(payload.aud, "https://issuer.example.com")
      assert.strictEqual(payload.exp! - payload.iat!, 300)

      const rs = yield* onWire(yield* privateKeyJwt({ privateKey: k.rsa.privateKey }))
      assert.deepStrictEqual(Jose.decodeProtectedHeader(rs.assertion), { alg: "RS256", typ: "JWT" })
      yield* Effect.promise(() => Jose.jwtVerify(rs.assertion, k.rsa.publicKey, at(START)))
    }).pipe(Effect.provide(Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici))))
})

// -----------------------------------------------------------------------------
// against AuthServer
// -----------------------------------------------------------------------------

describe("client credentials with JWT client authentication, against AuthServer", () => {
  itServer("client_secret_jwt: the token opens the API", () =>
    Effect.gen(function*() {
      const token = yield* requestWith("secret-jwt-app", ClientAuth.clientSecretJwt(Redacted.make(SECRET)))
      const answer = yield* callApi(token)
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.body.client_id, "secret-jwt-app")
    }))

  itServer(
    "private_key_jwt: ES256 (CryptoKey registered) and RS256 (SPKI PEM registered) open the API",
    () =>
      Effect.gen(function*() {
        const k = yield* getKeys
        const ec = yield* requestWith(
          "ec-app",
          yield* privateKeyJwt({ privateKey: Redacted.make(k.ecPem), keyId: "k1" })
        )
        assert.strictEqual((yield* callApi(ec)).body.client_id, "ec-app")
        const rsa = yield* requestWith("rsa-app", yield* privateKeyJwt({ privateKey: Redacted.make(k.rsaPem) }))
        assert.strictEqual((yield* callApi(rsa)).body.client_id, "rsa-app")
      })
  )

  itServer("on expiry the token service signs a new assertion: another jti, a later iat", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const Tokens = TokenService.layer().pipe(
        Layer.provide(Grant.clientCredentials({
          tokenUrl: server.tokenUrl,
          clientId: "secret-jwt-app",
          clientAuth: ClientAuth.clientSecretJwt(Redacted.make(SECRET))
        })),
        Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.none, TokenStore.layerMemory])
      )
      yield* Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const first = yield* tokens.get
        yield* TestClock.adjust("10 minutes")
        const second = yield* tokens.get
        assert.isFalse(Token.sameAccessToken(first, second))
        assert.strictEqual((yield* callApi(second)).status, 200)
      }).pipe(Effect.provide(Tokens))
      const [a, b] = (yield* sentAssertions).map((jwt) => Jose.decodeJwt(jwt))
      assert.notStrictEqual(a!.jti, b!.jti)
      assert.strictEqual(a!.iat, startSeconds)
      assert.strictEqual(b!.iat, startSeconds + 600)
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy, { "secret-jwt-app": { issued: 2 } })
    }))

  itServer("a private_key_jwt client needs a usable public key to be registered", () =>
    Effect.gen(function*() {
      const none = yield* Effect.exit(AuthServer.register({ id: "no-key", method: "private_key_jwt" }))
      assert.isTrue(Exit.isFailure(none) && Cause.isDie(none.cause))
      const bad = yield* Effect.exit(
        AuthServer.register({ id: "bad-key", method: "private_key_jwt", publicKey: "-----BEGIN PUBLIC KEY-----" })
      )
      assert.isTrue(Exit.isFailure(bad) && Cause.isDie(bad.cause))
    }))

  itServer("the discovery document lists both methods and the JWT bearer grant", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const document = yield* HttpClient.get(server.discoveryUrl).pipe(
        Effect.flatMap((r) => r.json),
        Effect.scoped
      ) as Effect.Effect<Record<string, ReadonlyArray<string>>, unknown, HttpClient.HttpClient>
      for (const method of ["client_secret_jwt", "private_key_jwt"]) {
        assert.isTrue(document.token_endpoint_auth_methods_supported?.includes(method))
        assert.isTrue(document.revocation_endpoint_auth_methods_supported?.includes(method))
      }
      assert.isTrue(document.grant_types_supported?.includes("urn:ietf:params:oauth:grant-type:jwt-bearer"))
    }))
})

// -----------------------------------------------------------------------------
// refusals
// -----------------------------------------------------------------------------

describe("what the server refuses is a typed HttpError (invalid_client, with what was wrong)", () => {
  itServer("a wrong secret, a wrong private key", () =>
    Effect.gen(function*() {
      const k = yield* getKeys
      const secret = yield* Effect.flip(
        requestWith("secret-jwt-app", ClientAuth.clientSecretJwt(Redacted.make("not the secret")))
      )
      assertInvalidClient(secret, /signature does not verify/)
      const key = yield* Effect.flip(requestWith("rsa-app", yield* privateKeyJwt({ privateKey: k.ec.privateKey })))
      assertInvalidClient(key, /alg ES256 is not allowed/)
      const other = yield* Effect.flip(requestWith("ec-app", yield* privateKeyJwt({ privateKey: k.rsa.privateKey })))
      assertInvalidClient(other, /alg RS256 is not allowed/)
    }))

  itServer("the method the client is not registered for", () =>
    Effect.gen(function*() {
      const k = yield* getKeys
      const hmac = yield* Effect.flip(requestWith("ec-app", ClientAuth.clientSecretJwt(Redacted.make(SECRET))))
      assertInvalidClient(hmac, /registered for private_key_jwt, not client_secret_jwt/)
      const key = yield* Effect.flip(
        requestWith("secret-jwt-app", yield* privateKeyJwt({ privateKey: k.ec.privateKey }))
      )
      assertInvalidClient(key, /registered for client_secret_jwt, not private_key_jwt/)
      const basic = yield* Effect.flip(requestWith("secret-jwt-app", ClientAuth.basic(Redacted.make(SECRET))))
      assertInvalidClient(basic, /registered for client_secret_jwt, not client_secret_basic/)
    }))

  itServer("a reused jti", () =>
    Effect.gen(function*() {
      const auth = ClientAuth.clientSecretJwt(Redacted.make(SECRET))
      yield* requestWith("secret-jwt-app", auth)
      const [used] = yield* sentAssertions
      yield* Effect.flatMap(Wire, (w) => Ref.set(w.replay, Option.some(used!)))
      const error = yield* Effect.flip(requestWith("secret-jwt-app", auth))
      assertInvalidClient(error, /used before \(jti seen\)/)
    }))

  itServer(
    "an expired assertion (the client's clock is 2 minutes slow), an audience that is not the server",
    () =>
      Effect.gen(function*() {
        const clock = yield* Effect.clock
        const expired = yield* Effect.flip(
          requestWith("secret-jwt-app", ClientAuth.clientSecretJwt(Redacted.make(SECRET)), shifted(clock, -120_000))
        )
        assertInvalidClient(expired, /expired 60 s ago/)
        const audience = yield* Effect.flip(
          requestWith(
            "secret-jwt-app",
            ClientAuth.clientSecretJwt(Redacted.make(SECRET), { audience: "https://other.example.com" })
          )
        )
        assertInvalidClient(audience, /aud "https:\/\/other.example.com" does not name this server/)
        const server = yield* AuthServer.AuthServer
        yield* requestWith(
          "secret-jwt-app",
          ClientAuth.clientSecretJwt(Redacted.make(SECRET), { audience: server.issuer })
        )
      })
  )
})

// -----------------------------------------------------------------------------
// keys, configuration, redaction
// -----------------------------------------------------------------------------

describe("ClientAuth.privateKeyJwt: a key that cannot sign is a KeyError, not a defect", () => {
  it.effect("a PEM that is not a key, an RSA key for ES256, a public key", () =>
    Effect.gen(function*() {
      const k = yield* getKeys
      const cases = [
        [
          { privateKey: Redacted.make("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----") },
          /could not be read/
        ],
        [{ privateKey: Redacted.make(k.rsaPem), alg: "ES256" as const }, /refused/],
        [{ privateKey: Redacted.make(k.rsaSpki) }, /public key/],
        [{ privateKey: k.ec.publicKey }, /public CryptoKey/]
      ] as const
      for (const [options, reason] of cases) {
        const exit = yield* Effect.exit(ClientAuth.privateKeyJwt(options))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(ClientAuth.privateKeyJwt(options))
        assert.strictEqual(error._tag, "KeyError")
        assert.strictEqual(error.purpose, "private_key_jwt")
        assert.match(error.message, reason)
        const body = k.rsaPem.split("\n")[1]!
        assert.notInclude(inspect(error, { depth: 10 }), body)
        assert.notInclude(JSON.stringify(error), body)
      }
    }))

  it.effect("a layer built from it fails with the KeyError", () =>
    Effect.gen(function*() {
      const GrantLive = Layer.unwrapEffect(
        Effect.map(
          ClientAuth.privateKeyJwt({ privateKey: Redacted.make("not a key") }),
          (clientAuth) =>
            Grant.clientCredentials({ tokenUrl: "https://auth.example.com/token", clientId: "x", clientAuth })
        )
      ).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const error = yield* Effect.flip(Effect.provide(Grant.Grant, GrantLive))
      assert.strictEqual(error._tag, "KeyError")
    }))
})

describe("configuration and redaction", () => {
  itServer("CLIENT_AUTH=client_secret_jwt through clientCredentialsOptionsConfig", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const provider = ConfigProvider.fromMap(
        new Map([
          ["APP_TOKEN_URL", server.tokenUrl],
          ["APP_CLIENT_ID", "secret-jwt-app"],
          ["APP_CLIENT_SECRET", SECRET],
          ["APP_CLIENT_AUTH", "client_secret_jwt"]
        ]),
        { pathDelim: "_" }
      )
      const grant = yield* Effect.provide(
        Grant.Grant,
        Grant.clientCredentialsConfig(Config.nested(Grant.clientCredentialsOptionsConfig, "APP"))
      ).pipe(Effect.withConfigProvider(provider))
      const token = yield* grant.request(Option.none())
      assert.strictEqual((yield* callApi(token)).status, 200)
      assert.strictEqual(ClientAuth.fromMethod("client_secret_jwt", Redacted.make(SECRET)).method, "client_secret_jwt")
      const [form] = yield* Effect.flatMap(Wire, (w) => Ref.get(w.forms))
      assert.strictEqual(form!.get("client_assertion_type"), ASSERTION_TYPE)
    }))

  itServer("no secret, assertion or token in logs, errors or inspect output", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const auth = ClientAuth.clientSecretJwt(Redacted.make(SECRET))
      const Tokens = (clientAuth: ClientAuth.ClientAuth) =>
        TokenService.layer().pipe(
          Layer.provide(Grant.clientCredentials({ tokenUrl: server.tokenUrl, clientId: "secret-jwt-app", clientAuth })),
          Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.none, TokenStore.layerMemory])
        )
      const [exits, logs] = yield* captureLogs(
        Effect.all([
          Effect.exit(TokenService.get.pipe(Effect.provide(Tokens(auth)))),
          Effect.exit(TokenService.get.pipe(Effect.provide(Tokens(ClientAuth.clientSecretJwt(Redacted.make("bad"))))))
        ])
      )
      assert.isTrue(Exit.isSuccess(exits[0]) && Exit.isFailure(exits[1]))
      const assertions = yield* sentAssertions
      const issued = (yield* AuthServer.tokens).map((t) => Redacted.value(t.accessToken))
      const forbidden = [SECRET, ...assertions, ...assertions.map((a) => a.split(".")[2]!), ...issued]
      const texts = [...logs, inspect(exits, { depth: 10 }), inspect(auth, { depth: 10 }), JSON.stringify(auth)]
      const credentials = yield* auth.authenticate({ clientId: "secret-jwt-app", tokenUrl: server.tokenUrl })
      texts.push(inspect(credentials, { depth: 10 }), JSON.stringify(credentials))
      for (const text of texts) for (const secret of forbidden) assert.notInclude(text, secret)
    }))
})

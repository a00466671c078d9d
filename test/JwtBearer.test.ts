/**
 * `Grant.jwtBearer` (RFC 7523 §2.1), Disruptive Technologies' service-account flow, over real HTTP on
 * 127.0.0.1: against the embedded `AuthServer` (which checks every assertion) and a recording token
 * endpoint (test/support/tokenEndpoint.ts) that shows what went over the wire. Each test builds its
 * servers inside the test, so `TestClock` is their clock and the grant's.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import type { Clock } from "effect"
import { Cause, Config, ConfigProvider, Effect, Exit, Layer, Option, Redacted, Ref, TestClock } from "effect"
import * as Jose from "jose"
import { inspect } from "node:util"
import type { TokenError } from "tokenlayer"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { callApiAt, secretKey, sentValues, shifted, START, startSeconds, Wire, wireClient } from "./support/jwt.js"
import { captureLogs } from "./support/logs.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
const KEY_ID = "bq0v2lh5lvsg00c4g0a0"
const EMAIL = "robot@my-project.serviceaccount.d21s.com"
/** A secret with characters that form encoding and JSON would change. */
const SECRET = "dt-s3cr:et p@ss%+£€/=&\"\\"

const WireClient = wireClient("assertion")
const sentAssertions = sentValues("assertion")

const Server = AuthServer.layer({
  serviceAccounts: [{ keyId: KEY_ID, email: EMAIL, secret: SECRET }],
  tokenLifetime: "10 minutes"
})

type Options = Grant.JwtBearerOptions

const dtOptions = (tokenUrl: string) => ({
  tokenUrl,
  keyId: KEY_ID,
  issuer: EMAIL,
  secret: Redacted.make(SECRET)
})

/** A token service over `Grant.jwtBearer` with the options for the server in context. */
const tokensFor = (options: (server: AuthServer.Service) => Options) =>
  Layer.unwrapEffect(
    Effect.map(AuthServer.AuthServer, (server) =>
      TokenService.layer().pipe(
        Layer.provide(Grant.jwtBearer(options(server))),
        Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.none, TokenStore.layerMemory])
      ))
  )

/** One token request through `Grant.makeJwtBearer`, to the server in context, on the given clock. */
const requestOnce = (options: (server: AuthServer.Service) => Options, clock?: Clock.Clock) =>
  Effect.gen(function*() {
    const server = yield* AuthServer.AuthServer
    const client = yield* HttpClient.HttpClient
    const grant = yield* Effect.orDie(Grant.makeJwtBearer(options(server), client))
    const request = grant.request(Option.none())
    return yield* clock === undefined ? request : Effect.withClock(request, clock)
  })

/** GET on the protected API with a token. */
const callApi = callApiAt("devices")

/** A test with its own AuthServer and recording client, its TestClock set to START first. */
const itServer = (
  name: string,
  body: () => Effect.Effect<unknown, unknown, AuthServer.AuthServer | HttpClient.HttpClient | Wire>
) =>
  it.effect(
    name,
    () => Effect.zipRight(TestClock.setTime(START), Effect.provide(body(), Layer.merge(Server, WireClient)))
  )

const assertRefusal = (
  error: TokenError.HttpError,
  code: "invalid_grant" | "invalid_client",
  description: RegExp
) => {
  assert.strictEqual(error._tag, "HttpError")
  assert.strictEqual(error.reason, "Status")
  assert.strictEqual(error.status, code === "invalid_grant" ? 400 : 401)
  assert.strictEqual(error.error, code)
  assert.match(error.errorDescription ?? "", description)
  assert.isFalse(error.isTransient)
}

// -----------------------------------------------------------------------------
// the assertion
// -----------------------------------------------------------------------------

describe("Grant.jwtBearer: the assertion (RFC 7523 §2.1, §3)", () => {
  it.effect("is an HS256 JWT, checked claim by claim, as the recording endpoint received it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START + 1_500) // half a second past a whole second: iat is floored
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      const client = yield* HttpClient.HttpClient
      const grant = yield* Grant.makeJwtBearer(dtOptions(endpoint.url), client)
      yield* grant.request(Option.none())

      const [request] = yield* endpoint.awaitRequests(1)
      assert.strictEqual(request!.method, "POST")
      assert.match(request!.headers["content-type"] ?? "", /^application\/x-www-form-urlencoded\b/)
      assert.isUndefined(request!.headers["authorization"])
      assert.deepStrictEqual([...request!.form.keys()].sort(), ["assertion", "grant_type"])
      assert.strictEqual(request!.form.get("grant_type"), JWT_BEARER)
      const assertion = request!.form.get("assertion")!
      assert.notInclude(request!.body, "dt-s3cr")

      // header
      assert.deepStrictEqual(Jose.decodeProtectedHeader(assertion), { alg: "HS256", typ: "JWT", kid: KEY_ID })
      // signature, with the secret and nothing else
      const verified = yield* Effect.promise(() =>
        Jose.jwtVerify(assertion, secretKey(SECRET), {
          algorithms: ["HS256"],
          currentDate: new globalThis.Date(START + 1_500)
        })
      )
      const claims = verified.payload
      assert.deepStrictEqual(Object.keys(claims).sort(), ["aud", "exp", "iat", "iss", "jti"])
      assert.strictEqual(claims.iss, EMAIL)
      assert.isUndefined(claims.sub) // Disruptive Technologies sends none
      assert.strictEqual(claims.aud, endpoint.url)
      assert.strictEqual(claims.iat, startSeconds + 1) // by the Clock, not Date.now()
      assert.strictEqual(claims.exp, startSeconds + 1 + 3600)
      assert.match(claims.jti ?? "", /^[A-Za-z0-9_-]{22}$/)
      const wrong = yield* Effect.flip(
        Effect.tryPromise(() =>
          Jose.jwtVerify(assertion, secretKey(`${SECRET}x`), { currentDate: new globalThis.Date(START) })
        )
      )
      assert.isDefined(wrong)
    }).pipe(Effect.provide(Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici))))

  it.effect("says what the options say: sub, aud, lifetime, claims, scope; no jti when asked", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      const client = yield* HttpClient.HttpClient
      const grant = yield* Grant.makeJwtBearer({
        tokenUrl: endpoint.url,
        issuer: "client-123",
        subject: "user@example.com",
        audience: "https://issuer.example.com",
        lifetime: "5 minutes",
        jti: false,
        claims: { tenant: "t-1", iss: "not this one" },
        scope: ["read", "write"],
        secret: Redacted.make(SECRET),
        alg: "HS512"
      }, client)
      yield* grant.request(Option.none())
      const [request] = yield* endpoint.awaitRequests(1)
      assert.strictEqual(request!.form.get("scope"), "read write")
      const assertion = request!.form.get("assertion")!
      assert.deepStrictEqual(Jose.decodeProtectedHeader(assertion), { alg: "HS512", typ: "JWT" }) // no kid
      const { payload } = yield* Effect.promise(() =>
        Jose.jwtVerify(assertion, secretKey(SECRET), { currentDate: new globalThis.Date(START) })
      )
      assert.deepStrictEqual(payload, {
        tenant: "t-1",
        iss: "client-123",
        sub: "user@example.com",
        aud: "https://issuer.example.com",
        iat: startSeconds,
        exp: startSeconds + 300
      })
    }).pipe(Effect.provide(Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici))))
})

// -----------------------------------------------------------------------------
// against AuthServer
// -----------------------------------------------------------------------------

describe("Grant.jwtBearer against AuthServer", () => {
  itServer("HS256, the Disruptive Technologies flow: the token opens the API", () =>
    Effect.gen(function*() {
      const token = yield* TokenService.get.pipe(Effect.provide(tokensFor((server) => dtOptions(server.tokenUrl))))
      const answer = yield* callApi(token)
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.body.client_id, EMAIL)
      assert.strictEqual(token.expiresIn, 600)
      const [issued] = yield* AuthServer.tokens
      assert.strictEqual(issued!.grantType, JWT_BEARER)
      assert.strictEqual(issued!.clientId, EMAIL)
    }))

  itServer(
    "a new assertion for every token: renewed on expiry with a later iat and another jti",
    () =>
      Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const first = yield* tokens.get
        yield* TestClock.adjust("10 minutes") // the token has expired
        const second = yield* tokens.get
        assert.isFalse(Token.sameAccessToken(first, second))
        assert.strictEqual((yield* callApi(second)).status, 200)
        assert.strictEqual((yield* callApi(first)).status, 401)

        const assertions = yield* sentAssertions
        assert.strictEqual(assertions.length, 2)
        const [a, b] = assertions.map((jwt) => Jose.decodeJwt(jwt))
        assert.notStrictEqual(a!.jti, b!.jti)
        assert.strictEqual(a!.iat, startSeconds)
        assert.strictEqual(b!.iat, startSeconds + 600)
        assert.strictEqual(b!.exp, startSeconds + 600 + 3600)
        // the server saw both, and refused neither
        const stats = yield* AuthServer.stats
        assert.deepStrictEqual(stats.tokenRequestsBy, { [EMAIL]: { issued: 2 } }) // by the assertion's iss
      }).pipe(Effect.provide(tokensFor((server) => dtOptions(server.tokenUrl))))
  )

  itServer(
    "ES256 with a PKCS#8 PEM, RS256 with a CryptoKey, and a JWK: each opens the API",
    () =>
      Effect.gen(function*() {
        const ec = yield* Effect.promise(() => Jose.generateKeyPair("ES256", { extractable: true }))
        const rsa = yield* Effect.promise(() => Jose.generateKeyPair("RS256", { extractable: true }))
        const ecPem = yield* Effect.promise(() => Jose.exportPKCS8(ec.privateKey))
        const ecSpki = yield* Effect.promise(() => Jose.exportSPKI(ec.publicKey))
        const rsaJwk = yield* Effect.promise(() => Jose.exportJWK(rsa.privateKey))
        yield* AuthServer.registerServiceAccount({ keyId: "ec-1", email: "ec@example.com", publicKey: ecSpki })
        yield* AuthServer.registerServiceAccount({ keyId: "rsa-1", email: "rsa@example.com", publicKey: rsa.publicKey })

        const cases: ReadonlyArray<readonly [string, (tokenUrl: string) => Options]> = [
          [
            "ES256",
            (tokenUrl) => ({ tokenUrl, keyId: "ec-1", issuer: "ec@example.com", privateKey: Redacted.make(ecPem) })
          ],
          [
            "RS256",
            (tokenUrl) => ({ tokenUrl, keyId: "rsa-1", issuer: "rsa@example.com", privateKey: rsa.privateKey })
          ],
          [
            "RS256",
            (tokenUrl) => ({ tokenUrl, keyId: "rsa-1", issuer: "rsa@example.com", privateKey: Redacted.make(rsaJwk) })
          ]
        ]
        for (const [alg, options] of cases) {
          const token = yield* requestOnce((server) => options(server.tokenUrl))
          const answer = yield* callApi(token)
          assert.strictEqual(answer.status, 200)
          const assertion = (yield* sentAssertions).at(-1)!
          assert.strictEqual(Jose.decodeProtectedHeader(assertion).alg, alg)
        }
        const [ecAssertion, rsaAssertion] = yield* sentAssertions
        const ecClaims = yield* Effect.promise(() =>
          Jose.jwtVerify(ecAssertion!, ec.publicKey, { currentDate: new globalThis.Date(START) })
        )
        assert.strictEqual(ecClaims.payload.iss, "ec@example.com")
        assert.strictEqual(ecClaims.protectedHeader.kid, "ec-1")
        yield* Effect.promise(() =>
          Jose.jwtVerify(rsaAssertion!, rsa.publicKey, { currentDate: new globalThis.Date(START) })
        )
      })
  )
})

// -----------------------------------------------------------------------------
// refusals
// -----------------------------------------------------------------------------

describe("Grant.jwtBearer: what the server refuses is a typed HttpError (invalid_grant, with what was wrong)", () => {
  itServer("a wrong secret", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        requestOnce((server) => ({ ...dtOptions(server.tokenUrl), secret: Redacted.make("not the secret") }))
      )
      assertRefusal(error, "invalid_grant", /signature does not verify/)
      assert.notInclude(inspect(error, { depth: 10 }), "not the secret")
    }))

  itServer("an unknown key id, and none at all", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.flip(
        requestOnce((server) => ({ ...dtOptions(server.tokenUrl), keyId: "no-such-key" }))
      )
      assertRefusal(unknown, "invalid_grant", /unknown key id no-such-key/)
      const none = yield* Effect.flip(
        requestOnce((server) => ({ ...dtOptions(server.tokenUrl), keyId: undefined }))
      )
      assertRefusal(none, "invalid_grant", /no kid/)
    }))

  itServer("an expired assertion (the client's clock is two hours slow)", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const error = yield* Effect.flip(
        requestOnce((server) => dtOptions(server.tokenUrl), shifted(clock, -2 * 3600_000))
      )
      assertRefusal(error, "invalid_grant", /assertion expired 3600 s ago/)
    }))

  itServer("an assertion from the future (the client's clock is five minutes fast)", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const error = yield* Effect.flip(requestOnce((server) => dtOptions(server.tokenUrl), shifted(clock, 300_000)))
      assertRefusal(error, "invalid_grant", /iat is in the future/)
    }))

  itServer("a reused jti", () =>
    Effect.gen(function*() {
      yield* requestOnce((server) => dtOptions(server.tokenUrl))
      const [used] = yield* sentAssertions
      yield* Effect.flatMap(Wire, (w) => Ref.set(w.replay, Option.some(used!)))
      const error = yield* Effect.flip(requestOnce((server) => dtOptions(server.tokenUrl)))
      assertRefusal(error, "invalid_grant", /used before \(jti seen\)/)
    }))

  itServer("a lifetime over 1 hour, another issuer, another audience, no signature", () =>
    Effect.gen(function*() {
      const long = yield* Effect.flip(
        requestOnce((server) => ({ ...dtOptions(server.tokenUrl), lifetime: "61 minutes" }))
      )
      assertRefusal(long, "invalid_grant", /lives 3660 s \(exp - iat\), more than 3600 s/)
      const issuer = yield* Effect.flip(
        requestOnce((server) => ({ ...dtOptions(server.tokenUrl), issuer: "someone@else.com" }))
      )
      assertRefusal(issuer, "invalid_grant", /iss "someone@else.com" is not robot@/)
      const audience = yield* Effect.flip(
        requestOnce((server) => ({ ...dtOptions(server.tokenUrl), audience: "https://elsewhere.example.com" }))
      )
      assertRefusal(audience, "invalid_grant", /aud "https:\/\/elsewhere.example.com" does not name this server/)
      // the issuer is an audience too
      yield* requestOnce((server) => ({ ...dtOptions(server.tokenUrl), audience: server.issuer }))

      const unsigned = new Jose.UnsecuredJWT({ iss: EMAIL }).setAudience("x").encode()
      yield* Effect.flatMap(Wire, (w) => Ref.set(w.replay, Option.some(unsigned)))
      const none = yield* Effect.flip(requestOnce((server) => dtOptions(server.tokenUrl)))
      assertRefusal(none, "invalid_grant", /no kid|alg none/)
    }))

  itServer("a refusal is not retried: the token service fails at once", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        TokenService.get.pipe(
          Effect.provide(
            Layer.unwrapEffect(
              Effect.map(AuthServer.AuthServer, (server) =>
                TokenService.layer().pipe(
                  Layer.provide(Grant.jwtBearer({ ...dtOptions(server.tokenUrl), keyId: "revoked-key" })),
                  Layer.provide([RefreshPolicy.fixed("1 minute"), RetryPolicy.layerDefault, TokenStore.layerMemory])
                ))
            )
          )
        )
      )
      assertRefusal(error as TokenError.HttpError, "invalid_grant", /unknown key id/)
      assert.strictEqual((yield* AuthServer.stats).tokenRequests, 1)
    }))
})

// -----------------------------------------------------------------------------
// keys that cannot sign
// -----------------------------------------------------------------------------

describe("Grant.jwtBearer: a key that cannot sign fails the layer with a KeyError", () => {
  const badKey = (privateKey: Grant.JwtBearerOptions["privateKey"], alg?: "ES256" | "RS256") =>
    Effect.gen(function*() {
      const layer = Grant.jwtBearer({
        tokenUrl: "https://identity.example.com/oauth2/token",
        keyId: KEY_ID,
        issuer: EMAIL,
        privateKey: privateKey!,
        alg
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const exit = yield* Effect.exit(Effect.provide(Grant.Grant, layer))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
      const error = Cause.failureOption(exit.cause) // a failure, not a defect
      assert.isTrue(Option.isSome(error))
      return Option.getOrThrow(error) as TokenError.KeyError
    })

  it.effect("a PEM that is not a key, a public key, an RSA key for ES256, an encrypted key", () =>
    Effect.gen(function*() {
      const rsa = yield* Effect.promise(() => Jose.generateKeyPair("RS256", { extractable: true }))
      const rsaPem = yield* Effect.promise(() => Jose.exportPKCS8(rsa.privateKey))
      const spki = yield* Effect.promise(() => Jose.exportSPKI(rsa.publicKey))
      const garbage = "-----BEGIN PRIVATE KEY-----\nTUlJQ0lqQU5CZ2txaGtpRzl3\n-----END PRIVATE KEY-----\n"

      const cases = [
        [yield* badKey(Redacted.make(garbage)), /could not be read/, garbage],
        [yield* badKey(Redacted.make("hunter2")), /not a PEM private key/, "hunter2"],
        [yield* badKey(Redacted.make(spki)), /public key or certificate/, spki],
        [yield* badKey(rsa.publicKey), /public CryptoKey/, ""],
        [yield* badKey(Redacted.make(rsaPem), "ES256"), /refused/, rsaPem],
        [yield* badKey(Redacted.make(rsaPem.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))), /encrypted/, rsaPem]
      ] as const
      for (const [error, reason, key] of cases) {
        assert.strictEqual(error._tag, "KeyError")
        assert.strictEqual(error.purpose, "jwt-bearer")
        assert.match(error.message, reason)
        const body = key.split("\n")[1] ?? ""
        for (const text of [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
          if (body !== "") assert.notInclude(text, body)
        }
      }
    }))

  it.effect("the algorithm is inferred from the key when not given", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      const client = yield* HttpClient.HttpClient
      for (const alg of ["RS256", "ES256", "ES384", "EdDSA"] as const) {
        const pair = yield* Effect.promise(() => Jose.generateKeyPair(alg, { extractable: true }))
        const pem = yield* Effect.promise(() => Jose.exportPKCS8(pair.privateKey))
        const grant = yield* Grant.makeJwtBearer(
          { tokenUrl: endpoint.url, issuer: "me", privateKey: Redacted.make(pem) },
          client
        )
        yield* grant.request(Option.none())
        const requests = yield* endpoint.requests
        const assertion = requests.at(-1)!.form.get("assertion")!
        assert.strictEqual(Jose.decodeProtectedHeader(assertion).alg, alg)
        yield* Effect.promise(() =>
          Jose.jwtVerify(assertion, pair.publicKey, { currentDate: new globalThis.Date(START) })
        )
      }
    }).pipe(Effect.provide(Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici))))
})

// -----------------------------------------------------------------------------
// configuration, keys, redaction
// -----------------------------------------------------------------------------

describe("Grant.jwtBearerConfig", () => {
  const dtEnv = (tokenUrl: string) =>
    ConfigProvider.fromMap(
      new Map([
        ["DT_SERVICE_ACCOUNT_KEY_ID", KEY_ID],
        ["DT_SERVICE_ACCOUNT_EMAIL", EMAIL],
        ["DT_SERVICE_ACCOUNT_SECRET", SECRET],
        ["DT_TOKEN_URL", tokenUrl]
      ])
    )

  const dtConfig = Config.all({
    tokenUrl: Config.string("DT_TOKEN_URL"),
    keyId: Config.string("DT_SERVICE_ACCOUNT_KEY_ID"),
    issuer: Config.string("DT_SERVICE_ACCOUNT_EMAIL"),
    secret: Config.redacted("DT_SERVICE_ACCOUNT_SECRET")
  })

  itServer("reads Disruptive Technologies' variables", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const grant = yield* Effect.provide(Grant.Grant, Grant.jwtBearerConfig(dtConfig)).pipe(
        Effect.withConfigProvider(dtEnv(server.tokenUrl))
      )
      const token = yield* grant.request(Option.none())
      assert.strictEqual((yield* callApi(token)).status, 200)
    }))

  it.effect("the default names, nested; SECRET or PRIVATE_KEY, not both, not neither", () =>
    Effect.gen(function*() {
      const read = (entries: ReadonlyArray<readonly [string, string]>) =>
        Effect.either(
          Effect.withConfigProvider(
            Config.nested(Grant.jwtBearerOptionsConfig, "DT"),
            ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })
          )
        )
      const base = [["DT_TOKEN_URL", "https://identity.example.com/oauth2/token"], ["DT_ISSUER", EMAIL]] as const
      const withSecret = yield* read([...base, ["DT_KEY_ID", KEY_ID], ["DT_SECRET", SECRET]])
      assert.isTrue(withSecret._tag === "Right")
      if (withSecret._tag === "Right") {
        assert.strictEqual(withSecret.right.keyId, KEY_ID)
        assert.strictEqual(Redacted.value(withSecret.right.secret!), SECRET)
        assert.notInclude(inspect(withSecret.right, { depth: 10 }), SECRET)
      }
      const withKey = yield* read([...base, ["DT_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----"], ["DT_ALG", "ES256"]])
      assert.isTrue(withKey._tag === "Right" && withKey.right.alg === "ES256")
      const both = yield* read([...base, ["DT_SECRET", SECRET], ["DT_PRIVATE_KEY", "x"]])
      assert.isTrue(both._tag === "Left" && String(both.left).includes("not both"))
      const neither = yield* read(base)
      assert.isTrue(neither._tag === "Left" && String(neither.left).includes("SECRET or PRIVATE_KEY"))
      const hmacWithKey = yield* read([...base, ["DT_PRIVATE_KEY", "x"], ["DT_ALG", "HS256"]])
      assert.isTrue(hmacWithKey._tag === "Left")
      for (const result of [both, neither, hmacWithKey]) {
        if (result._tag === "Left") assert.notInclude(String(result.left), SECRET)
      }
    }))
})

describe("Grant.jwtBearer: keys and redaction", () => {
  it.effect("the cache key tells issuers, subjects, audiences, scopes and token URLs apart; never the secret", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const base = {
        tokenUrl: "https://identity.example.com/oauth2/token",
        keyId: KEY_ID,
        issuer: EMAIL,
        secret: Redacted.make(SECRET)
      }
      const variants: ReadonlyArray<Options> = [
        base,
        { ...base, issuer: "other@example.com" },
        { ...base, subject: "user-1" },
        { ...base, subject: "user-2" },
        { ...base, audience: "https://identity.example.com" },
        { ...base, scope: "read" },
        { ...base, tokenUrl: "https://identity.example.org/oauth2/token" },
        { ...base, issuer: `${EMAIL};sub=user-1` }
      ]
      const keys = yield* Effect.forEach(
        variants,
        (options) => Effect.map(Grant.makeJwtBearer(options, client), (g) => g.key)
      )
      assert.strictEqual(new Set(keys).size, variants.length)
      // a rotated key (another key id, another secret) speaks for the same account: same tokens
      const rotated = yield* Grant.makeJwtBearer({ ...base, keyId: "new-key", secret: Redacted.make("new") }, client)
      assert.strictEqual(rotated.key, keys[0])
      for (const key of keys) assert.notInclude(key, SECRET)
      assert.notInclude(keys[0]!, KEY_ID)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  itServer("no secret, assertion or token in logs, errors or inspect output", () =>
    Effect.gen(function*() {
      const [exit, logs] = yield* captureLogs(
        Effect.gen(function*() {
          const tokens = yield* TokenService.TokenService
          const token = yield* tokens.get
          yield* TestClock.adjust("10 minutes")
          yield* tokens.get
          return token
        }).pipe(
          Effect.provide(tokensFor((server) => dtOptions(server.tokenUrl))),
          Effect.zipLeft(
            Effect.exit(
              TokenService.get.pipe(
                Effect.provide(tokensFor((server) => ({ ...dtOptions(server.tokenUrl), secret: Redacted.make("bad") })))
              )
            )
          ),
          Effect.exit
        )
      )
      assert.isTrue(Exit.isSuccess(exit))
      const assertions = yield* sentAssertions
      assert.strictEqual(assertions.length, 3)
      const issued = (yield* AuthServer.tokens).map((t) => Redacted.value(t.accessToken))
      const forbidden = [SECRET, ...assertions, ...assertions.map((a) => a.split(".")[2]!), ...issued]
      const texts = [...logs, inspect(exit, { depth: 10 })]
      const failed = yield* Effect.flip(
        requestOnce((server) => ({ ...dtOptions(server.tokenUrl), secret: Redacted.make("bad") }))
      )
      texts.push(failed.message, String(failed), JSON.stringify(failed), inspect(failed, { depth: 10 }))
      const grant = yield* Effect.flatMap(HttpClient.HttpClient, (client) =>
        Grant.makeJwtBearer(dtOptions("https://identity.example.com/oauth2/token"), client))
      texts.push(inspect(grant, { depth: 10 }), inspect(dtOptions("x"), { depth: 10 }), JSON.stringify(dtOptions("x")))
      assert.isAbove(logs.length, 0)
      for (const text of texts) {
        for (const secret of forbidden) {
          assert.notInclude(text, secret)
        }
      }
    }))
})

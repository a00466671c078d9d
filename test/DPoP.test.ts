/**
 * DPoP (RFC 9449) over real HTTP on 127.0.0.1, against a server that verifies every proof with jose
 * (test/support/dpopServer.ts): proofs at the token endpoint and the API (signature, htm, htu, iat,
 * jti unique, ath, the key the token is bound to), nonce retries exactly once from each, a server that
 * keeps asking, the Bearer answer, refresh tokens bound to the key, and the key's typed errors.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Option, Redacted, TestClock } from "effect"
import * as Jose from "jose"
import * as crypto from "node:crypto"
import { inspect } from "node:util"
import { DPoP, Grant, Token, TokenError, TokenHttpClient, TokenManager, TokenService } from "tokenlayer"
import * as DpopServer from "./support/dpopServer.js"
import { captureLogs } from "./support/logs.js"

const setup = (server: DpopServer.Server, options: DPoP.Options = {}) =>
  Effect.gen(function*() {
    const dpop = yield* DPoP.make(options)
    const Tokens = TokenService.layer().pipe(
      Layer.provide(Grant.clientCredentials({
        tokenUrl: server.tokenUrl,
        clientId: "c",
        clientSecret: Redacted.make("s")
      })),
      Layer.provideMerge(Layer.succeed(DPoP.DPoP, dpop)),
      Layer.provideMerge(NodeHttpClient.layerUndici)
    )
    const context = yield* Layer.build(Layer.merge(Tokens, TokenHttpClient.layer.pipe(Layer.provide(Tokens))))
    const tokens = yield* Effect.provide(TokenService.TokenService, context)
    // the authorized client (TokenHttpClient.layer read the DPoP service from its context)
    const api = yield* Effect.provide(HttpClient.HttpClient, context)
    return { dpop, tokens, api }
  })

const startServer = (options: Omit<DpopServer.Options, "now"> = {}) =>
  Effect.flatMap(Effect.clock, (clock) => DpopServer.start({ now: () => clock.unsafeCurrentTimeMillis(), ...options }))

const claims = (jwt: string) => Jose.decodeJwt(jwt)

describe("DPoP", () => {
  it.scoped("token and API requests carry proofs that verify; the token is sent as DPoP with ath", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { api, dpop, tokens } = yield* setup(server)
      const token = yield* tokens.get
      assert.strictEqual(token.tokenType, "DPoP")
      const first = yield* api.get(`${server.apiUrl}?page=2#frag`)
      const second = yield* api.post(server.apiUrl)
      assert.deepStrictEqual([first.status, second.status], [200, 200])
      assert.strictEqual(server.proofs.length, 3)
      assert.isTrue(server.proofs.every((p) => p.ok))
      const [tokenProof, getProof, postProof] = server.proofs.map((p) => claims(p.jwt))
      assert.strictEqual(tokenProof!.htm, "POST")
      assert.strictEqual(tokenProof!.htu, server.tokenUrl)
      assert.isUndefined(tokenProof!.ath)
      assert.strictEqual(getProof!.htm, "GET")
      assert.strictEqual(getProof!.htu, server.apiUrl) // no query, no fragment
      assert.strictEqual(postProof!.htm, "POST")
      const ath = crypto.createHash("sha256").update(Redacted.value(token.accessToken)).digest("base64url")
      assert.strictEqual(getProof!.ath, ath)
      assert.strictEqual(getProof!.iat, 0) // the TestClock
      const jtis = new Set(server.proofs.map((p) => claims(p.jwt).jti))
      assert.strictEqual(jtis.size, 3)
      const header = Jose.decodeProtectedHeader(server.proofs[0]!.jwt)
      assert.strictEqual(header.typ, "dpop+jwt")
      assert.strictEqual(header.alg, "ES256")
      assert.deepStrictEqual(Object.keys(header.jwk!).sort(), ["crv", "kty", "x", "y"])
      assert.strictEqual(yield* Effect.promise(() => Jose.calculateJwkThumbprint(header.jwk!)), dpop.thumbprint)
      assert.strictEqual(server.tokens.get(Redacted.value(token.accessToken)), dpop.thumbprint)
    }))

  for (const alg of ["ES384", "RS256", "PS256", "EdDSA"] as const) {
    it.scoped(`a generated ${alg} key signs proofs the server accepts`, () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const { api } = yield* setup(server, { alg })
        const response = yield* api.get(server.apiUrl)
        assert.strictEqual(response.status, 200)
        assert.strictEqual(Jose.decodeProtectedHeader(server.proofs[0]!.jwt).alg, alg)
        assert.isTrue(server.proofs.every((p) => p.ok))
      }))
  }

  it.scoped("a token endpoint that asks for a nonce gets the request once more with it, exactly once", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ tokenNonce: "on" })
      const { tokens } = yield* setup(server)
      yield* tokens.get
      assert.deepStrictEqual([server.counts.token, server.counts.tokenNonceAsked], [2, 1])
      // the nonce is kept: the next token request is sent with it at once
      yield* TestClock.adjust("2 seconds")
      yield* tokens.refresh
      assert.deepStrictEqual([server.counts.token, server.counts.tokenNonceAsked], [3, 1])
    }))

  it.scoped("an API that asks for a nonce gets the request once more with it, exactly once", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ apiNonce: "on" })
      const { api, tokens } = yield* setup(server)
      yield* tokens.get
      server.rotateNonce()
      const response = yield* api.get(server.apiUrl)
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual([server.counts.api, server.counts.apiNonceAsked], [2, 1])
      yield* api.get(server.apiUrl)
      assert.deepStrictEqual([server.counts.api, server.counts.apiNonceAsked], [3, 1])
      assert.strictEqual(claims(server.proofs.at(-1)!.jwt).nonce !== undefined, true)
    }))

  it.scoped("a token endpoint that always asks for a new nonce: a typed error after one retry", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ tokenNonce: "always" })
      const { tokens } = yield* setup(server)
      const error = yield* Effect.flip(tokens.get)
      assert.instanceOf(error, TokenError.HttpError)
      assert.isTrue(DPoP.isNonceError(error))
      assert.include(error.message, "again")
      assert.strictEqual(server.counts.token, 2)
    }))

  it.scoped("an API that always asks for a new nonce: a typed error after one retry", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ apiNonce: "always" })
      const { api } = yield* setup(server)
      const error = yield* Effect.flip(api.get(server.apiUrl))
      const cause = TokenHttpClient.tokenError(error as never)
      assert.isTrue(cause !== undefined && DPoP.isNonceError(cause))
      assert.strictEqual(server.counts.api, 2)
    }))

  it.scoped("a Bearer answer to a DPoP request is used with a warning, or refused with requireBinding", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ bearer: true })
      const [token, logs] = yield* captureLogs(Effect.flatMap(setup(server), ({ tokens }) => tokens.get))
      assert.strictEqual(token.tokenType, "Bearer")
      assert.isTrue(logs.some((line) => line.includes("answered token_type Bearer")))
      const strict = yield* setup(server, { requireBinding: true })
      const error = yield* Effect.flip(strict.tokens.get)
      assert.include(error.message, "requireBinding")
    }))

  it.scoped("a refresh token issued to a DPoP client is refreshed with a proof of the same key", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const first = yield* setup(server)
      const issued = yield* first.tokens.get
      const refreshWith = (dpop: DPoP.Service) =>
        Effect.gen(function*() {
          const context = yield* Layer.build(
            TokenService.layer().pipe(
              Layer.provide(Grant.refreshToken({
                tokenUrl: server.tokenUrl,
                clientId: "c",
                refreshToken: issued.refreshToken!
              })),
              Layer.provide(Layer.succeed(DPoP.DPoP, dpop)),
              Layer.provide(NodeHttpClient.layerUndici)
            )
          )
          return yield* Effect.either(Effect.flatMap(Effect.provide(TokenService.TokenService, context), (t) => t.get))
        })
      const same = yield* refreshWith(first.dpop)
      assert.isTrue(same._tag === "Right" && same.right.tokenType === "DPoP")
      assert.strictEqual(server.counts.refresh, 1)
      assert.isTrue(claims(server.proofs.at(-1)!.jwt).htu === server.tokenUrl)
      const other = yield* refreshWith(yield* DPoP.make())
      assert.isTrue(other._tag === "Left" && other.left.error === "invalid_grant")
    }))

  it.live("TokenManager.fetch sends DPoP tokens with proofs and retries an API nonce challenge once", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer({ apiNonce: "on" })
      const manager = TokenManager.make(
        TokenService.layer().pipe(
          Layer.provide(Grant.clientCredentials({
            tokenUrl: server.tokenUrl,
            clientId: "c",
            clientSecret: Redacted.make("s")
          })),
          Layer.provideMerge(DPoP.layer()),
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => manager.dispose()))
      yield* Effect.promise(() => manager.getToken())
      server.rotateNonce()
      const response = yield* Effect.promise(() => manager.fetch(server.apiUrl))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual([server.counts.api, server.counts.apiNonceAsked], [2, 1])
      assert.isTrue(server.proofs.filter((p) => p.where === "api").at(-1)!.ok)
      // no header without a proof
      const rejected = yield* Effect.promise(() =>
        manager.authorizationHeader().then(() => "", (e: Error) => e.message)
      )
      assert.include(rejected, "proof")
    })))

  it.effect("a DPoP token is never turned into a header without a proof", () =>
    Effect.sync(() => {
      const token = Token.make({
        accessToken: Redacted.make("t0k"),
        tokenType: "dpop",
        issuedAt: DateTime.unsafeMake(0)
      })
      assert.strictEqual(token.tokenType, "DPoP")
      assert.throws(() => Token.authorizationHeader(token), /proof/)
    }))
})

describe("DPoP keys", () => {
  const ec = (namedCurve: string) => crypto.generateKeyPairSync("ec", { namedCurve })
  it.effect("a given key in every form: PEM, JWK, JWK text, CryptoKey, KeyObject", () =>
    Effect.gen(function*() {
      const { privateKey } = ec("prime256v1")
      const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString()
      const jwk = privateKey.export({ format: "jwk" })
      const cryptoKey = yield* Effect.promise(() => Jose.importPKCS8(pem, "ES256", { extractable: false }))
      const services = [
        yield* DPoP.make({ key: Redacted.make(pem) }),
        yield* DPoP.make({ key: Redacted.make(jwk) }),
        yield* DPoP.make({ key: Redacted.make(JSON.stringify(jwk)) }),
        yield* DPoP.make({ key: cryptoKey }),
        yield* DPoP.make({ key: privateKey })
      ]
      assert.strictEqual(new Set(services.map((s) => s.thumbprint)).size, 1)
      assert.isTrue(services.every((s) => s.alg === "ES256"))
      const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
      assert.strictEqual((yield* DPoP.make({ key: rsa })).alg, "RS256")
      assert.strictEqual((yield* DPoP.make({ key: rsa, alg: "PS256" })).alg, "PS256")
    }))

  it.effect("a malformed key, or one the algorithm does not fit: KeyError", () =>
    Effect.gen(function*() {
      const fails = (options: DPoP.Options) => Effect.flip(DPoP.make(options))
      const { privateKey, publicKey } = ec("secp384r1")
      const cases: ReadonlyArray<readonly [DPoP.Options, RegExp]> = [
        [
          { key: Redacted.make("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----") },
          /could not be read/
        ],
        [{ key: Redacted.make("hello") }, /not a PEM/],
        [{ key: Redacted.make(publicKey.export({ format: "jwk" })) }, /public key/],
        [{ key: publicKey }, /public KeyObject/],
        [{ key: privateKey, alg: "ES256" }, /curve/],
        [{ key: privateKey, alg: "RS256" }, /RSA key/],
        [{ key: crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey }, /2048/],
        [{ alg: "HS256" as never }, /not a DPoP algorithm/]
      ]
      for (const [options, reason] of cases) {
        const error = yield* fails(options)
        assert.instanceOf(error, TokenError.KeyError)
        assert.strictEqual(error.purpose, "dpop")
        assert.match(error.reason, reason)
      }
    }))

  it.effect("the service never shows the private key", () =>
    Effect.gen(function*() {
      const { privateKey } = ec("prime256v1")
      const jwk = privateKey.export({ format: "jwk" })
      const dpop = yield* DPoP.make({ key: Redacted.make(jwk) })
      for (const text of [inspect(dpop, { depth: 10 }), JSON.stringify(dpop), String(Option.some(dpop))]) {
        assert.notInclude(text, jwk.d!)
      }
      assert.notProperty(dpop.publicJwk, "d")
      const proof = yield* dpop.proof({ method: "GET", url: "https://api.example/x" })
      assert.notInclude(Buffer.from(proof.split(".")[0]!, "base64url").toString(), jwk.d!)
    }))
})

/**
 * RFC 8693 token exchange and RFC 7523 assertions from token sources, over real HTTP against the
 * embedded AuthServer on 127.0.0.1: a subject token from a file (rotated on disk), a variable, an
 * effect and another service (a chain), the exchanged token capped by the subject's expiry, an expired
 * subject refused before anything is sent, a client assertion and a JWT bearer assertion made by someone
 * else. The clock is `TestClock` (it starts at the epoch, so JWT `exp`s are small numbers).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, TestClock } from "effect"
import * as Jose from "jose"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { inspect } from "node:util"
import { ClientAuth, Grant, TokenService, TokenSource } from "tokenlayer"
import * as JwtBearer from "tokenlayer/Grant/JwtBearer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus } from "./support/authServer.js"

const K8S = "https://kubernetes.default.svc"
const K8S_KEY = "kubernetes-signing-key-of-the-test-cluster"
const GATEWAY_SECRET = "gateway-s3cret"

const Server = AuthServer.layer({
  clients: [
    { id: "user-app", secret: "user-s3cret", tokenLifetime: "10 minutes" },
    { id: "gateway", secret: GATEWAY_SECRET, tokenLifetime: "1 hour" },
    { id: "federated", method: "client_secret_jwt", secret: "federated-shared-key-of-32-bytes!!" }
  ],
  tokenExchange: {
    audiences: ["billing"],
    trustedIssuers: [{ issuer: K8S, secret: K8S_KEY, audiences: ["sts"] }]
  },
  serviceAccounts: [{ keyId: "k1", email: "robot@example.com", secret: "robot-key-of-the-service-account" }]
})
const Live = Layer.merge(Server, NodeHttpClient.layerUndici)

/** A projected service account token as the cluster signs it: `exp` in seconds since the epoch. */
const k8sToken = (sub: string, exp: number) =>
  Effect.promise(() =>
    new Jose.SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setIssuer(K8S).setAudience("sts")
      .setIssuedAt(0).setExpirationTime(exp).sign(new TextEncoder().encode(K8S_KEY))
  )

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "tokenlayer-exchange-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** Writes a file the way the kubelet does: a new file, then a rename over the old one. */
const writeAtomically = (file: string, text: string) =>
  Effect.sync(() => {
    fs.writeFileSync(`${file}.tmp`, text, { mode: 0o600 })
    fs.renameSync(`${file}.tmp`, file)
  })

const exchangeService = (tokenUrl: string, subject: TokenSource.TokenSource) =>
  TokenService.layer().pipe(
    Layer.provide(Grant.tokenExchange({
      tokenUrl,
      clientId: "gateway",
      clientSecret: Redacted.make(GATEWAY_SECRET),
      subject,
      audience: "billing"
    })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const lastExchange = Effect.map(AuthServer.tokens, (tokens) => tokens.at(-1)!.exchange)

describe("Grant.tokenExchange with token sources", () => {
  it.scoped("a projected token file: exchanged, capped by its exp, issued_token_type kept; a rotated file is picked up", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const dir = yield* tempDir
      const file = path.join(dir, "token")
      yield* writeAtomically(file, `${yield* k8sToken("system:serviceaccount:ci:deploy", 600)}\n`)
      yield* Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const token = yield* tokens.get
        // the gateway's tokens live 1 hour; the subject expires at 600 s: so does the exchanged token
        assert.strictEqual(token.expiresIn, 600)
        assert.strictEqual(token.issuedTokenType, TokenSource.TokenType.accessToken)
        assert.strictEqual(yield* apiStatus(token), 200)
        assert.deepStrictEqual(yield* lastExchange, {
          subject: "system:serviceaccount:ci:deploy",
          subjectTokenType: TokenSource.TokenType.jwt,
          audience: ["billing"],
          resource: [],
          issuedTokenType: TokenSource.TokenType.accessToken
        })
        // the kubelet rotates the token; when the exchanged one is due, the new file is read
        yield* writeAtomically(file, yield* k8sToken("system:serviceaccount:ci:rotated", 3600))
        yield* TestClock.adjust("6 minutes")
        const renewed = yield* tokens.get
        assert.isFalse(Redacted.value(renewed.accessToken) === Redacted.value(token.accessToken))
        assert.strictEqual((yield* lastExchange)?.subject, "system:serviceaccount:ci:rotated")
      }).pipe(Effect.provide(exchangeService(server.tokenUrl, TokenSource.file(file))))
      assert.deepStrictEqual((yield* AuthServer.stats).tokenRequestsBy["gateway"], { issued: 2 })
    }).pipe(Effect.provide(Live)))

  it.scoped("an expired subject token: a typed error naming the source, never its contents; nothing sent", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const dir = yield* tempDir
      const file = path.join(dir, "token")
      const subject = yield* k8sToken("system:serviceaccount:ci:deploy", 60)
      yield* writeAtomically(file, subject)
      yield* TestClock.adjust("2 minutes")
      const error = yield* Effect.flip(
        Effect.provide(TokenService.get, exchangeService(server.tokenUrl, TokenSource.file(file)))
      )
      assert.strictEqual(error._tag, "HttpError")
      assert.strictEqual(error.source, `file ${file}`)
      assert.isFalse(error.isTransient)
      assert.include(error.message, "expired at 1970-01-01T00:01:00")
      for (const text of [error.message, inspect(error, { depth: 10 }), JSON.stringify(error)]) {
        assert.notInclude(text, subject)
      }
      assert.strictEqual((yield* AuthServer.stats).tokenRequests, 0)
    }).pipe(Effect.provide(Live)))

  it.scoped("a missing file, a world-writable file, an oversized file: typed errors naming the path", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "token")
      const reason = (source: TokenSource.TokenSource) =>
        Effect.map(Effect.flip(source.get), (e) => e._tag === "TokenSourceError" ? [e.reason, e.source] : [e._tag])
      assert.deepStrictEqual(yield* reason(TokenSource.file(file)), ["Missing", `file ${file}`])
      fs.writeFileSync(file, "a-token", { mode: 0o600 })
      fs.chmodSync(file, 0o666)
      assert.deepStrictEqual(yield* reason(TokenSource.file(file)), ["Unsafe", `file ${file}`])
      fs.chmodSync(file, 0o600)
      fs.writeFileSync(file, "x".repeat(100))
      assert.deepStrictEqual(yield* reason(TokenSource.file(file, { maxBytes: 99 })), ["TooLarge", `file ${file}`])
      fs.writeFileSync(file, "two words")
      assert.deepStrictEqual(yield* reason(TokenSource.file(file)), ["Invalid", `file ${file}`])
      // a Kubernetes projected volume: token -> ..data/token -> ..2026_01_01/token, links followed
      fs.mkdirSync(path.join(dir, "..2026_01_01"))
      fs.writeFileSync(path.join(dir, "..2026_01_01", "token"), "projected-token\n", { mode: 0o644 })
      fs.symlinkSync("..2026_01_01", path.join(dir, "..data"))
      fs.symlinkSync(path.join("..data", "token"), path.join(dir, "projected"))
      const got = yield* TokenSource.file(path.join(dir, "projected")).get
      assert.strictEqual(Redacted.value(got.token), "projected-token")
      assert.isUndefined(got.expiresAt)
      assert.deepStrictEqual(yield* reason(TokenSource.file(dir)), ["Unsafe", `file ${dir}`])
    }))

  it.scoped("an environment variable and an effect of your own as the subject", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const variable = "TOKENLAYER_TEST_SUBJECT_TOKEN"
      yield* Effect.acquireRelease(
        Effect.flatMap(k8sToken("system:serviceaccount:ci:env", 900), (t) =>
          Effect.sync(() => (process.env[variable] = t))),
        () =>
          Effect.sync(() => delete process.env[variable])
      )
      const fromEnv = yield* Effect.provide(
        TokenService.get,
        exchangeService(server.tokenUrl, TokenSource.env(variable))
      )
      assert.strictEqual(fromEnv.expiresIn, 900)
      assert.strictEqual((yield* lastExchange)?.subject, "system:serviceaccount:ci:env")

      let calls = 0
      const metadata = TokenSource.make({
        name: "metadata server",
        token: Effect.flatMap(Effect.sync(() => ++calls), () => Effect.map(k8sToken("workload", 300), Redacted.make))
      })
      const fromEffect = yield* Effect.provide(TokenService.get, exchangeService(server.tokenUrl, metadata))
      assert.strictEqual(fromEffect.expiresIn, 300)
      assert.strictEqual(calls, 1)
      assert.strictEqual((yield* lastExchange)?.subject, "workload")

      const unset = yield* Effect.flip(
        Effect.provide(TokenService.get, exchangeService(server.tokenUrl, TokenSource.env("TOKENLAYER_TEST_UNSET")))
      )
      assert.strictEqual(unset.source, "env TOKENLAYER_TEST_UNSET")
    }).pipe(Effect.provide(Live)))

  it.scoped("a chain: the outer token is capped by the inner one, and renewing it renews the inner one first", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const Inner = TokenService.layer().pipe(
        Layer.provide(Grant.clientCredentials({
          tokenUrl: server.tokenUrl,
          clientId: "user-app",
          clientSecret: Redacted.make("user-s3cret")
        })),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const Outer = Layer.unwrapEffect(
        Effect.map(
          TokenSource.fromTokenService(TokenService.TokenService),
          (subject) => exchangeService(server.tokenUrl, subject)
        )
      ).pipe(Layer.provide(Inner))
      yield* Effect.gen(function*() {
        const outer = yield* TokenService.TokenService
        const first = yield* outer.get
        assert.strictEqual(first.expiresIn, 600)
        yield* TestClock.adjust("6 minutes")
        const second = yield* outer.get
        assert.strictEqual(second.expiresIn, 600)
        assert.strictEqual(yield* apiStatus(second), 200)
      }).pipe(Effect.provide(Outer))
      const order = (yield* AuthServer.tokens).map((t) => t.clientId)
      assert.deepStrictEqual(order, ["user-app", "gateway", "user-app", "gateway"])
    }).pipe(Effect.provide(Live)))
})

describe("assertions from a token source (RFC 7523)", () => {
  it.scoped("ClientAuth.clientAssertion: a ready-made client assertion, no secret in the program", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const dir = yield* tempDir
      const file = path.join(dir, "azure-identity-token")
      const assertion = (jti: string) =>
        Effect.promise(() =>
          new Jose.SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer("federated").setSubject("federated")
            .setAudience(server.tokenUrl).setIssuedAt(0).setExpirationTime(50).setJti(jti)
            .sign(new TextEncoder().encode("federated-shared-key-of-32-bytes!!"))
        )
      yield* writeAtomically(file, yield* assertion("one"))
      const Tokens = TokenService.layer().pipe(
        Layer.provide(Grant.clientCredentials({
          tokenUrl: server.tokenUrl,
          clientId: "federated",
          clientAuth: ClientAuth.clientAssertion({ assertion: TokenSource.file(file) })
        })),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const token = yield* Effect.provide(TokenService.get, Tokens)
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.clientId, "federated")
      // past the assertion's exp: refused here, nothing sent
      yield* TestClock.adjust("1 minute")
      const before = (yield* AuthServer.stats).tokenRequests
      const error = yield* Effect.flip(Effect.provide(TokenService.get, Tokens))
      assert.strictEqual(error.source, `file ${file}`)
      assert.strictEqual((yield* AuthServer.stats).tokenRequests, before)
    }).pipe(Effect.provide(Live)))

  it.scoped("JwtBearer.layerFromSource: the grant's assertion from a source", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const assertion = Effect.promise(() =>
        new Jose.SignJWT({}).setProtectedHeader({ alg: "HS256", kid: "k1" }).setIssuer("robot@example.com")
          .setAudience(server.tokenUrl).setIssuedAt(0).setExpirationTime(600).setJti("j1")
          .sign(new TextEncoder().encode("robot-key-of-the-service-account"))
      )
      const source = TokenSource.make({ name: "identity provider", token: assertion })
      const token = yield* Effect.provide(
        TokenService.get,
        TokenService.layer().pipe(
          Layer.provide(JwtBearer.layerFromSource({ tokenUrl: server.tokenUrl, assertion: source })),
          Layer.provide(NodeHttpClient.layerUndici),
          Layer.orDie
        )
      )
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.clientId, "robot@example.com")
    }).pipe(Effect.provide(Live)))
})

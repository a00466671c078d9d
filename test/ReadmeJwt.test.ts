// The README's JWT examples (Disruptive Technologies' service accounts, client_secret_jwt and
// private_key_jwt), kept here so that they compile and pass: each example's code is in a block below,
// and the tests run it against the embedded AuthServer.
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, TestClock } from "effect"
import * as Jose from "jose"
import { AuthServer } from "tokenlayer/testing"

// -----------------------------------------------------------------------------
// README: "Service accounts with the JWT bearer grant (Disruptive Technologies)"
// -----------------------------------------------------------------------------

import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Config, Console, DateTime, Duration, Effect, Layer, Option } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"

// a service account's key id, email and secret, under the names of Disruptive Technologies' guide
const DisruptiveGrant = Grant.jwtBearerConfig(Config.all({
  tokenUrl: Config.string("DT_TOKEN_URL").pipe(
    Config.withDefault("https://identity.disruptive-technologies.com/oauth2/token")
  ),
  keyId: Config.string("DT_SERVICE_ACCOUNT_KEY_ID"),
  issuer: Config.string("DT_SERVICE_ACCOUNT_EMAIL"),
  secret: Config.redacted("DT_SERVICE_ACCOUNT_SECRET")
}))

// 1-hour tokens, renewed 1 minute before they expire, as the guide does
const TokensLive = TokenService.layer().pipe(
  Layer.provide(DisruptiveGrant),
  Layer.provide(RefreshPolicy.fixed("1 minute")),
  Layer.provide(NodeHttpClient.layerUndici)
)

// an HttpClient that sends the token with every request (and retries once after a 401)
const ApiLive = TokenHttpClient.layer.pipe(Layer.provideMerge(TokensLive), Layer.provide(NodeHttpClient.layerUndici))

const program = Effect.gen(function*() {
  const apiUrl = yield* Config.string("DT_API_URL").pipe(Config.withDefault("https://api.d21s.com/v2/projects"))
  const response = yield* HttpClient.get(apiUrl)
  const token = yield* TokenService.get
  const left = Option.getOrThrow(Token.remaining(token, yield* DateTime.now))
  yield* Console.log(`GET ${apiUrl}: ${response.status}; token expires in ${Duration.toSeconds(left)}s.`)
  return response.status
}).pipe(Effect.scoped)

// NodeRuntime.runMain(program.pipe(Effect.provide(ApiLive)))

// -----------------------------------------------------------------------------
// README: the same grant without Config
// -----------------------------------------------------------------------------

import { Redacted } from "effect"

const DisruptiveGrantFromValues = Grant.jwtBearer({
  tokenUrl: "https://identity.disruptive-technologies.com/oauth2/token",
  keyId: "bq0v2lh5lvsg00c4g0a0",
  issuer: "robot@my-project.serviceaccount.d21s.com",
  secret: Redacted.make(process.env.DT_SERVICE_ACCOUNT_SECRET ?? "")
  // or a private key: privateKey: Redacted.make(pem), its alg from the key (RSA: RS256, EC P-256: ES256, ...)
})

// -----------------------------------------------------------------------------
// README: "JWT client authentication: client_secret_jwt and private_key_jwt"
// -----------------------------------------------------------------------------

import { ClientAuth } from "tokenlayer"

const policies = [RefreshPolicy.fixed("1 minute"), RetryPolicy.layerDefault, TokenStore.layerMemory] as const

// client_secret_jwt: the secret signs a new 60-second assertion for every token request; it never
// goes on the wire itself
const secretJwtTokens = (tokenUrl: string, secret: Redacted.Redacted<string>) =>
  TokenService.layer().pipe(
    Layer.provide(Grant.clientCredentials({
      tokenUrl,
      clientId: "reports-service",
      clientAuth: ClientAuth.clientSecretJwt(secret)
    })),
    Layer.provide(policies),
    Layer.provide(NodeHttpClient.layerUndici)
  )

// private_key_jwt: reading the key can fail, so the method is an Effect, and the layer fails with a
// KeyError (which never shows the key) when the key cannot sign
const privateKeyJwtTokens = (tokenUrl: string, privateKeyPem: Redacted.Redacted<string>) =>
  Layer.unwrapEffect(
    Effect.map(
      ClientAuth.privateKeyJwt({ privateKey: privateKeyPem, alg: "ES256", keyId: "2026-01" }),
      (clientAuth) =>
        TokenService.layer().pipe(
          Layer.provide(Grant.clientCredentials({ tokenUrl, clientId: "billing-service", clientAuth })),
          Layer.provide(policies)
        )
    )
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

// -----------------------------------------------------------------------------
// the tests
// -----------------------------------------------------------------------------

const START = DateTime.unsafeMake("2026-01-01T00:00:00Z").epochMillis

const Server = Layer.merge(AuthServer.layer({ tokenLifetime: "1 hour" }), NodeHttpClient.layerUndici)

describe("README: JWT examples against AuthServer", () => {
  it.effect("the Disruptive Technologies flow, through the guide's variables", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const server = yield* AuthServer.AuthServer
      const secret = "dt-secret-for-the-readme"
      yield* AuthServer.registerServiceAccount({ keyId: "k-1", email: "robot@example.com", secret })
      const env = ConfigProvider.fromMap(
        new Map([
          ["DT_TOKEN_URL", server.tokenUrl],
          ["DT_API_URL", server.apiUrl("projects")],
          ["DT_SERVICE_ACCOUNT_KEY_ID", "k-1"],
          ["DT_SERVICE_ACCOUNT_EMAIL", "robot@example.com"],
          ["DT_SERVICE_ACCOUNT_SECRET", secret]
        ])
      )
      const status = yield* program.pipe(Effect.provide(ApiLive), Effect.withConfigProvider(env))
      assert.strictEqual(status, 200)
      const [issued] = yield* AuthServer.tokens
      assert.strictEqual(issued!.clientId, "robot@example.com")
      // the layer built from values is a Grant layer too
      const grant = yield* Effect.provide(
        Grant.Grant,
        DisruptiveGrantFromValues.pipe(Layer.provide(NodeHttpClient.layerUndici))
      )
      assert.include(grant.key, "robot@my-project.serviceaccount.d21s.com")
    }).pipe(Effect.provide(Server)))

  it.effect("client_secret_jwt and private_key_jwt token services, and a bad key", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const server = yield* AuthServer.AuthServer
      const pair = yield* Effect.promise(() => Jose.generateKeyPair("ES256", { extractable: true }))
      const pem = yield* Effect.promise(() => Jose.exportPKCS8(pair.privateKey))
      yield* AuthServer.register({ id: "reports-service", method: "client_secret_jwt", secret: "s3cret" })
      yield* AuthServer.register({ id: "billing-service", method: "private_key_jwt", publicKey: pair.publicKey })

      const callApi = (token: Token.Token) =>
        HttpClient.get(server.apiUrl("reports"), { headers: { authorization: Token.authorizationHeader(token) } })
          .pipe(Effect.flatMap((r) => r.json), Effect.scoped, Effect.orDie) as Effect.Effect<
            { readonly client_id: string },
            never,
            HttpClient.HttpClient
          >

      const a = yield* TokenService.get.pipe(Effect.provide(secretJwtTokens(server.tokenUrl, Redacted.make("s3cret"))))
      assert.strictEqual((yield* callApi(a)).client_id, "reports-service")
      const b = yield* TokenService.get.pipe(Effect.provide(privateKeyJwtTokens(server.tokenUrl, Redacted.make(pem))))
      assert.strictEqual((yield* callApi(b)).client_id, "billing-service")
      const error = yield* Effect.flip(
        TokenService.get.pipe(Effect.provide(privateKeyJwtTokens(server.tokenUrl, Redacted.make("oops"))))
      )
      assert.strictEqual(error._tag, "KeyError")
    }).pipe(Effect.provide(Server)))
})

/**
 * The grant modules (tokenlayer/Grant/*): the key functions give the built grant's key without its
 * secrets; options that cannot work (a URL that is not http(s), an empty secret) fail when the grant is
 * built, with a ConfigError naming the option, before anything is sent. Over real HTTP on 127.0.0.1.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigError, ConfigProvider, Effect, Exit, Layer, Option, Redacted } from "effect"
import { inspect } from "node:util"
import { ClientAuth, Discovery, Grant, TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus } from "./support/authServer.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

// the modules as `tokenlayer` re-exports them (also importable as tokenlayer/Grant/ClientCredentials, ...)
const { ClientCredentials, Custom, DeviceCode, JwtBearer, RefreshToken } = Grant

const Recording = Layer.merge(TokenEndpoint.layer, NodeHttpClient.layerUndici)
const secret = Redacted.make("s3cret-value")
const noPrompt = () => Effect.void

/** The key of the grant a layer builds. */
const keyOf = <E>(layer: Layer.Layer<Grant.Grant, E, HttpClient.HttpClient>) =>
  Effect.map(Effect.provide(Grant.Grant, layer), (grant) => grant.key)

/** Nothing reached the recording endpoint. */
const nothingSent = Effect.gen(function*() {
  const endpoint = yield* TokenEndpoint.TokenEndpoint
  assert.strictEqual((yield* endpoint.requests).length, 0, "nothing was sent")
})

const invalidData = (error: unknown, path: string) => {
  assert.isTrue(ConfigError.isConfigError(error), "a ConfigError")
  const e = error as ConfigError.ConfigError
  assert.strictEqual(e._op, "InvalidData")
  assert.deepStrictEqual((e as ConfigError.InvalidData).path, [path])
}

describe("key functions: the built grant's key, without its secrets", () => {
  it.effect("client credentials, refresh token, device code, JWT bearer, custom", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const issuer = yield* Discovery.make("https://auth.example.com/realms/x")
      const urls = ["https://auth.example.com/token", "https://u:p@auth.example.com/token?tenant=a#f"]
      for (const tokenUrl of urls) {
        const cc = { tokenUrl, clientId: "app", scope: ["b", "a"], audience: "api", resource: ["r2", "r1"] }
        assert.strictEqual(
          Grant.clientCredentialsKey(cc),
          yield* keyOf(Grant.clientCredentials({ ...cc, clientSecret: secret }))
        )
        assert.strictEqual(
          ClientCredentials.key(cc),
          yield* keyOf(ClientCredentials.layer({ ...cc, clientAuth: ClientAuth.post(secret) }))
        )
        assert.strictEqual(
          Grant.refreshTokenKey({ tokenUrl, clientId: "cli", scope: "openid offline_access" }),
          Grant.makeRefreshToken(
            { tokenUrl, clientId: "cli", scope: "openid offline_access", refreshToken: secret },
            client
          )
            .key
        )
        const device = { tokenUrl, deviceAuthorizationUrl: `${tokenUrl}/device`, clientId: "cli", audience: "a" }
        assert.strictEqual(
          Grant.deviceCodeKey(device),
          yield* keyOf(DeviceCode.layer({ ...device, prompt: noPrompt }))
        )
        const jwt = { tokenUrl, issuer: "robot@x", subject: "s", audience: ["a", "b"], scope: "read" }
        assert.strictEqual(Grant.jwtBearerKey(jwt), yield* keyOf(Grant.jwtBearer({ ...jwt, secret })))
        assert.strictEqual(
          JwtBearer.key({ ...jwt, clientId: "c" }),
          yield* keyOf(JwtBearer.layer({ ...jwt, secret, clientId: "c", clientAuth: ClientAuth.basic(secret) }))
        )
        const custom = { grantType: "urn:x", tokenUrl, clientId: "c", params: { audience: "billing", token: secret } }
        assert.strictEqual(Grant.customKey(custom), yield* keyOf(Custom.layer(custom)))
      }
      for (const from of ["https://auth.example.com/realms/x", issuer] as const) {
        assert.strictEqual(
          RefreshToken.key({ issuer: from, clientId: "cli" }),
          yield* keyOf(RefreshToken.layer({ issuer: from, clientId: "cli", refreshToken: secret }))
        )
        assert.strictEqual(
          DeviceCode.key({ issuer: from, clientId: "cli", scope: "openid" }),
          yield* keyOf(Grant.deviceCode({ issuer: from, clientId: "cli", scope: "openid", prompt: noPrompt }))
        )
        assert.strictEqual(
          ClientCredentials.key({ issuer: from, clientId: "app" }),
          yield* keyOf(ClientCredentials.layer({ issuer: from, clientId: "app", clientSecret: secret }))
        )
      }
      // the key names what it must, and no secret
      const key = Grant.clientCredentialsKey({ tokenUrl: urls[1]!, clientId: "app" })
      assert.match(
        key,
        /^grant=client_credentials;url=https:\/\/auth\.example\.com\/token;url_hash=[0-9a-f]{16};client=app$/
      )
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})

describe("the modules' layers against AuthServer", () => {
  it.effect("ClientCredentials.layer and RefreshToken.layer (via a shared Discovery) give tokens the API takes", () =>
    Effect.gen(function*() {
      const s = yield* AuthServer.AuthServer
      const token = yield* TokenService.get.pipe(
        Effect.provide(TokenService.layer()),
        Effect.provide(ClientCredentials.layer({ tokenUrl: s.tokenUrl, clientId: "app", clientSecret: secret }))
      )
      assert.strictEqual(yield* apiStatus(token), 200)
      const issuer = yield* Discovery.make(s.issuer)
      const refresh = yield* AuthServer.issueRefreshToken("cli")
      const renewed = yield* Effect.flatMap(
        Effect.provide(Grant.Grant, RefreshToken.layer({ issuer, clientId: "cli", refreshToken: refresh })),
        (grant) => grant.request(Option.none())
      )
      assert.strictEqual(yield* apiStatus(renewed), 200)
      assert.strictEqual((yield* AuthServer.stats).metadataRequests, 1)
    }).pipe(
      Effect.provide(Layer.merge(
        AuthServer.layer({ clients: [{ id: "app", secret: "s3cret-value" }, { id: "cli", method: "none" }] }),
        NodeHttpClient.layerUndici
      ))
    ))
})

describe("options that cannot work fail when the grant is built", () => {
  it.effect("a token URL that is not an http(s) URL: a ConfigError naming tokenUrl, nothing sent", () =>
    Effect.gen(function*() {
      for (const tokenUrl of ["not a url", "ftp://auth.example.com/token", ""]) {
        const error = yield* Effect.flip(
          Effect.provide(Grant.Grant, ClientCredentials.layer({ tokenUrl, clientId: "app", clientSecret: secret }))
        )
        invalidData(error, "tokenUrl")
        assert.match(String(error), /Expected an http\(s\) URL/)
      }
      const device = yield* Effect.flip(Effect.provide(
        Grant.Grant,
        DeviceCode.layer({
          tokenUrl: "https://auth.example.com/token",
          deviceAuthorizationUrl: "auth.example.com/device",
          clientId: "cli",
          prompt: noPrompt
        })
      ))
      invalidData(device, "deviceAuthorizationUrl")
      const issuer = yield* Effect.flip(
        Effect.provide(
          Grant.Grant,
          RefreshToken.layer({ issuer: "https://a.example?x=1", clientId: "c", refreshToken: secret })
        )
      )
      invalidData(issuer, "issuer")
      const jwt = yield* Effect.flip(
        Effect.provide(Grant.Grant, JwtBearer.layer({ tokenUrl: "mailto:x@y", issuer: "robot", secret }))
      )
      invalidData(jwt, "tokenUrl")

      // the layers under their first names keep their types: they die with the same ConfigError
      const exit = yield* Effect.exit(
        Effect.provide(
          Grant.Grant,
          Grant.clientCredentials({ tokenUrl: "nope", clientId: "app", clientSecret: secret })
        )
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      if (Exit.isFailure(exit)) invalidData(Option.getOrThrow(Cause.dieOption(exit.cause)), "tokenUrl")
      yield* nothingSent
    }).pipe(Effect.provide(Recording)))

  it.effect("the URL's secret parts are never shown in the error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(
        Grant.Grant,
        ClientCredentials.layer({
          tokenUrl: "ftp://user:pw-s3cret@host/t?k=s3cret",
          clientId: "app",
          clientSecret: secret
        })
      ))
      assert.notInclude(String(error), "s3cret")
      assert.notInclude(inspect(error, { depth: 10 }), "s3cret")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.effect("an empty secret: the first request fails, naming the option, and nothing is sent", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond(TokenEndpoint.tokenReply())
      const empty = Redacted.make(process.env.TOKENLAYER_TEST_UNSET_VARIABLE ?? "")
      /** The failure of the first request of the grant a layer builds. */
      const firstRequest = <E>(layer: Layer.Layer<Grant.Grant, E, HttpClient.HttpClient>) =>
        Effect.flatMap(Effect.provide(Grant.Grant, layer), (grant) => Effect.flip(grant.request(Option.none())))
      const check = (error: { readonly message: string; readonly isTransient: boolean }, option: string) => {
        assert.include(error.message, `Invalid data at ${option}`)
        assert.include(error.message, "not an empty string")
        assert.include(error.message, "nothing was sent")
        assert.isFalse(error.isTransient)
      }
      check(
        yield* firstRequest(Grant.clientCredentials({ tokenUrl: endpoint.url, clientId: "app", clientSecret: empty })),
        "clientSecret"
      )
      for (const clientAuth of [ClientAuth.post(empty), ClientAuth.clientSecretJwt(empty), ClientAuth.basic(empty)]) {
        check(
          yield* firstRequest(ClientCredentials.layer({ tokenUrl: endpoint.url, clientId: "app", clientAuth })),
          "clientAuth"
        )
      }
      check(
        yield* firstRequest(RefreshToken.layer({ tokenUrl: endpoint.url, clientId: "c", refreshToken: empty })),
        "refreshToken"
      )
      check(yield* firstRequest(JwtBearer.layer({ tokenUrl: endpoint.url, issuer: "robot", secret: empty })), "secret")
      check(
        yield* firstRequest(
          Custom.layer({ grantType: "urn:x", tokenUrl: endpoint.url, params: { subject_token: empty } })
        ),
        "params.subject_token"
      )
      // through the token service: not retried (the default retry policy would take 7 s)
      const tokens = yield* TokenService.make().pipe(
        Effect.provide(Grant.clientCredentials({ tokenUrl: endpoint.url, clientId: "app", clientSecret: empty }))
      )
      check(yield* Effect.flip(tokens.get), "clientSecret")
      yield* nothingSent
    }).pipe(Effect.scoped, Effect.provide(Recording)))

  it.effect("through Config: TOKEN_URL that is not http(s), CLIENT_SECRET set to nothing", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.flip(Effect.provide(Grant.Grant, ClientCredentials.layerConfig())).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
        )
      const ftp = yield* read({ TOKEN_URL: "ftp://auth.example.com/token", CLIENT_ID: "app", CLIENT_SECRET: "x" })
      invalidData(ftp, "tokenUrl")
      const empty = yield* read({ TOKEN_URL: "https://auth.example.com/token", CLIENT_ID: "app", CLIENT_SECRET: "" })
      assert.isTrue(ConfigError.isConfigError(empty))
      assert.match(String(empty), /CLIENT_SECRET/)
      assert.match(String(empty), /not an empty string/)
      yield* nothingSent
    }).pipe(Effect.provide(Recording)))

  it.effect("a grant built as a plain value with a bad URL fails each request at once, not retried, nothing sent", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const badUrl = Grant.makeClientCredentials({ tokenUrl: "htp:/x", clientId: "app", clientSecret: secret }, client)
      const tokens = yield* TokenService.make().pipe(Effect.provideService(Grant.Grant, badUrl))
      const failure = yield* Effect.flip(tokens.get) // the default retry policy does not retry it
      assert.match(failure.message, /tokenUrl/)
      assert.isFalse(failure.isTransient)
      yield* nothingSent
    }).pipe(Effect.scoped, Effect.provide(Recording)))
})

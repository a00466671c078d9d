/**
 * The Disruptive Technologies flow (../shared/seeds/002, 003): a service account's key id, email and
 * secret make an HS256 JWT (header `kid`, claims `iss` = the email, `aud` = the token URL, `iat`,
 * `exp` = `iat` + 1 hour), exchanged for an access token with the JWT bearer grant (RFC 7523), renewed
 * 1 minute before it expires, and the remaining lifetime printed at every API call, as the guide's
 * expected output shows ("Token expires in 3538s.").
 *
 * Without credentials it runs against the embedded AuthServer on the real clock: a service account with
 * 10-second tokens renewed 3 seconds early, an API call a second for 12 seconds, then it exits.
 *
 *   npx tsx --conditions=source scratchpad/disruptive.ts
 *
 * With a real service account it calls Disruptive Technologies' API (3 calls, 5 seconds apart):
 *
 *   DT_SERVICE_ACCOUNT_KEY_ID=... DT_SERVICE_ACCOUNT_EMAIL=... DT_SERVICE_ACCOUNT_SECRET=... \
 *     npx tsx --conditions=source scratchpad/disruptive.ts
 *
 * Optional: DT_API_URL (default https://api.d21s.com/v2/projects), DT_TOKEN_URL (default the one below).
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import type { ConfigError } from "effect"
import { Config, Console, DateTime, Duration, Effect, Layer, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"
import type { TokenError } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

const DT_TOKEN_URL = "https://identity.disruptive-technologies.com/oauth2/token"
const DT_API_URL = "https://api.d21s.com/v2/projects"

/** The token service over a grant, and an `HttpClient` that sends its token with every request. */
const live = (
  grant: Layer.Layer<Grant.Grant, TokenError.KeyError | ConfigError.ConfigError, HttpClient.HttpClient>,
  refreshBuffer: Duration.DurationInput
) =>
  TokenHttpClient.layer.pipe(
    Layer.provideMerge(
      TokenService.layer().pipe(
        Layer.provide(grant),
        Layer.provide([RefreshPolicy.fixed(refreshBuffer), RetryPolicy.layerDefault, TokenStore.layerMemory])
      )
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** Calls the API `calls` times, `every` apart, printing the token's remaining life at each call. */
const callApi = (apiUrl: string, calls: number, every: Duration.DurationInput) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    let previous: Token.Token | undefined = undefined
    for (let call = 0; call < calls; call++) {
      if (call > 0) yield* Effect.sleep(every)
      const token = yield* TokenService.get
      if (previous === undefined || !Token.sameAccessToken(previous, token)) yield* Console.log("Refreshing...")
      previous = token
      const response = yield* http.get(apiUrl)
      const left = Token.remaining(token, yield* DateTime.now).pipe(
        Option.map((d) => Math.floor(Duration.toSeconds(d))),
        Option.getOrElse(() => 0)
      )
      yield* Console.log(`Token expires in ${left}s. (GET ${new URL(apiUrl).pathname}: ${response.status})`)
    }
  }).pipe(Effect.scoped)

/** Against the embedded AuthServer: a service account registered with a fresh secret. */
const local = Effect.gen(function*() {
  const server = yield* AuthServer.AuthServer
  const keyId = "bq0v2lh5lvsg00c4g0a0"
  const email = "demo@my-project.serviceaccount.d21s.com"
  const secret = crypto.randomBytes(32).toString("base64url")
  yield* server.registerServiceAccount({ keyId, email, secret, tokenLifetime: "10 seconds" })
  yield* Console.log(`AuthServer at ${server.url}, service account ${email} (key ${keyId})`)
  const grant = Grant.jwtBearer({ tokenUrl: server.tokenUrl, keyId, issuer: email, secret: Redacted.make(secret) })
  yield* callApi(server.apiUrl("projects"), 12, "1 second").pipe(Effect.provide(live(grant, "3 seconds")))
  const stats = yield* server.stats
  yield* Console.log(`token requests: ${stats.tokenRequests}, API calls: ${stats.apiRequests}`)
}).pipe(Effect.provide(AuthServer.layer()))

/** Against Disruptive Technologies, with the guide's environment variables. */
const remote = Effect.gen(function*() {
  const apiUrl = yield* Config.string("DT_API_URL").pipe(Config.withDefault(DT_API_URL))
  const grant = Grant.jwtBearerConfig(Config.all({
    tokenUrl: Config.string("DT_TOKEN_URL").pipe(Config.withDefault(DT_TOKEN_URL)),
    keyId: Config.string("DT_SERVICE_ACCOUNT_KEY_ID"),
    issuer: Config.string("DT_SERVICE_ACCOUNT_EMAIL"),
    secret: Config.redacted("DT_SERVICE_ACCOUNT_SECRET")
  }))
  yield* callApi(apiUrl, 3, "5 seconds").pipe(Effect.provide(live(grant, "1 minute")))
})

const program = Effect.gen(function*() {
  const credentials = yield* Config.option(Config.string("DT_SERVICE_ACCOUNT_KEY_ID"))
  yield* Option.isSome(credentials) ? remote : local
})

NodeRuntime.runMain(program)

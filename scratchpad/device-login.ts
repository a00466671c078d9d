/**
 * The device flow (../shared/seeds/004): a command-line login that the user approves on another device
 * (RFC 8628), kept alive with the refresh token, and re-authenticated with the device flow when the
 * refresh token dies.
 *
 *   npx tsx --conditions=source scratchpad/device-login.ts
 *
 * runs against the embedded AuthServer on 127.0.0.1, on the real clock: 8-second tokens, a 1-second
 * polling interval, and a simulated user who approves each code on the server's /device page 2 seconds
 * after it is shown. It exits by itself after about 20 seconds. Against a real service:
 *
 *   DEVICE_ISSUER=https://auth.example.com DEVICE_CLIENT_ID=my-cli DEVICE_SCOPE="openid offline_access" \
 *     npx tsx --conditions=source scratchpad/device-login.ts
 *
 * (or DEVICE_TOKEN_URL and DEVICE_DEVICE_AUTHORIZATION_URL instead of DEVICE_ISSUER; DEVICE_CLIENT_SECRET
 * for a confidential client, DEVICE_AUDIENCE for Auth0): approve the code in a browser; the program signs
 * in, renews the token once with the refresh token, and exits.
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Clock, Config, Console, Duration, Effect, Layer, Option } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

const describeToken = (token: Token.Token): string =>
  [
    token.expiresIn === undefined ? "no expires_in" : `expires in ${token.expiresIn} s`,
    token.refreshToken === undefined ? "no refresh token" : "with a refresh token",
    ...(token.scope === undefined ? [] : [`scope "${token.scope}"`])
  ].join(", ")

/** A token service over a device grant, its tokens in memory. */
const deviceLogin = (options: Grant.DeviceCodeOptions, refreshPolicy: Layer.Layer<RefreshPolicy.RefreshPolicy>) =>
  Effect.flatMap(HttpClient.HttpClient, (http) =>
    TokenService.make().pipe(
      Effect.provideService(Grant.Grant, Grant.makeDeviceCode(options, http)),
      Effect.provide(Layer.mergeAll(refreshPolicy, RetryPolicy.layerDefault, TokenStore.layerMemory))
    ))

// -----------------------------------------------------------------------------
// against the embedded AuthServer
// -----------------------------------------------------------------------------

const LocalServer = AuthServer.layer({
  clients: [{ id: "device-login-example", method: "none" }],
  tokenLifetime: "8 seconds",
  deviceFlow: { interval: "1 second", lifetime: "2 minutes" }
})

const local = Effect.gen(function*() {
  const server = yield* AuthServer.AuthServer
  const http = yield* HttpClient.HttpClient
  const started = yield* Clock.currentTimeMillis
  const say = (line: string) =>
    Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Console.log(`[${((now - started) / 1000).toFixed(1).padStart(4)} s] ${line}`)
    )

  // the user, on their phone: opens the verification page and approves each code 2 s after it appears
  const simulatedUser = Effect.forever(
    Effect.gen(function*() {
      for (const code of yield* server.pendingUserCodes) {
        yield* Effect.sleep("2 seconds")
        yield* say(`(simulated user) approving ${code} on ${server.verificationUrl}`)
        yield* http.execute(
          HttpClientRequest.post(server.verificationUrl).pipe(
            HttpClientRequest.bodyUrlParams({ user_code: code, action: "approve" })
          )
        ).pipe(Effect.scoped, Effect.orDie)
      }
      yield* Effect.sleep("200 millis")
    })
  )
  yield* Effect.forkScoped(simulatedUser)

  const tokens = yield* deviceLogin({
    issuer: server.issuer, // the discovery document names the device authorization and token endpoints
    clientId: "device-login-example", // a public client: no secret
    prompt: (info) =>
      say(
        `To sign in, open ${info.verificationUri} and enter the code ${info.userCode}` +
          ` (or open ${info.verificationUriComplete}); it expires in ${Duration.format(info.expiresIn)}`
      )
  }, RefreshPolicy.fixed("3 seconds"))

  const callApi = (token: Token.Token) =>
    http.get(server.apiUrl("me"), { headers: { authorization: Token.authorizationHeader(token) } }).pipe(
      Effect.map((response) => response.status),
      Effect.scoped
    )

  yield* say(`signing in at ${server.issuer} with the device flow`)
  const first = yield* tokens.get
  yield* say(`token #1 from the device flow: ${describeToken(first)}; GET /api/me -> ${yield* callApi(first)}`)

  yield* Effect.sleep("6 seconds") // due 3 s before it expires: renewed with the refresh token
  const second = yield* tokens.get
  yield* say(
    `token #2 from the refresh token, no prompt: ${describeToken(second)}; GET /api/me -> ${yield* callApi(second)}`
  )

  // an administrator ends the login: the refresh token is dead, and the next renewal asks the user again
  yield* server.revoke(second.refreshToken!)
  yield* say("the login was revoked on the server: the next renewal runs the device flow again")
  yield* Effect.sleep("6 seconds")
  const third = yield* tokens.get
  yield* say(`token #3 from a new device flow: ${describeToken(third)}; GET /api/me -> ${yield* callApi(third)}`)

  const stats = yield* server.stats
  const byGrant: Record<string, number> = {}
  for (const token of yield* server.tokens) byGrant[token.grantType] = (byGrant[token.grantType] ?? 0) + 1
  yield* Console.log(
    `summary: ${stats.deviceAuthorizationRequests} device authorizations, token endpoint answers ${
      JSON.stringify(stats.tokenRequestsBy["device-login-example"])
    }, tokens by grant ${JSON.stringify(byGrant)}`
  )
}).pipe(Effect.scoped, Effect.provide(Layer.merge(LocalServer, NodeHttpClient.layerUndici)))

// -----------------------------------------------------------------------------
// against a real service
// -----------------------------------------------------------------------------

const real = (settings: Grant.DeviceCodeSettings) =>
  Effect.gen(function*() {
    const tokens = yield* deviceLogin({ ...settings, prompt: Grant.consolePrompt }, RefreshPolicy.fraction(0.1))
    const first = yield* tokens.get
    yield* Console.log(`signed in: ${describeToken(first)}`)
    if (first.refreshToken === undefined) {
      yield* Console.log("no refresh token: ask for offline_access (DEVICE_SCOPE) to renew without the user")
      return
    }
    const second = yield* tokens.refresh
    yield* Console.log(`renewed with the refresh token: ${describeToken(second)}`)
  }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))

const program = Effect.gen(function*() {
  const configured = yield* Config.option(Config.string("DEVICE_CLIENT_ID"))
  if (Option.isNone(configured)) return yield* local
  return yield* real(yield* Config.nested(Grant.deviceCodeOptionsConfig, "DEVICE"))
})

NodeRuntime.runMain(program)

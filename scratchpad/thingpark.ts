/**
 * The ThingPark flow (../shared/seeds/001): client_credentials against a Keycloak token endpoint with
 * client_id and client_secret in the form body, renewed 10 seconds before expiry, every request
 * carrying the Bearer token.
 *
 *   THINGPARK_HOSTNAME=... THINGPARK_CLIENT_ID=... THINGPARK_CLIENT_SECRET=... \
 *     npx tsx --conditions=source scratchpad/thingpark.ts
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Config, Console, Effect, Layer } from "effect"
import { ClientAuth, Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"

const ThingParkConfig = Config.all({
  hostname: Config.string("THINGPARK_HOSTNAME"),
  clientId: Config.string("THINGPARK_CLIENT_ID"),
  clientSecret: Config.redacted("THINGPARK_CLIENT_SECRET")
})

const GrantLive = Layer.unwrapEffect(
  Effect.map(ThingParkConfig, ({ clientId, clientSecret, hostname }) =>
    Grant.clientCredentials({
      tokenUrl: `https://${hostname}/users-auth/protocol/openid-connect/token`,
      clientId,
      clientAuth: ClientAuth.post(clientSecret) // credentials in the form body
    }))
)

const TokenLive = TokenService.layer().pipe(
  Layer.provide(GrantLive),
  Layer.provide([RefreshPolicy.fixed("10 seconds"), RetryPolicy.layerDefault, TokenStore.layerMemory]),
  Layer.provide(NodeHttpClient.layerUndici)
)

const program = Effect.gen(function*() {
  const { hostname } = yield* ThingParkConfig
  const tokens = yield* TokenService.TokenService
  // an HttpClient that adds the current token to every request, like the seed's axios interceptor
  const http = (yield* HttpClient.HttpClient).pipe(
    HttpClient.mapRequestEffect((request) =>
      Effect.map(
        tokens.get,
        (token) => HttpClientRequest.setHeader(request, "authorization", Token.authorizationHeader(token))
      )
    )
  )
  const devices = yield* http.get(`https://${hostname}/thingpark/wireless/rest/subscriptions/mine/devices`, {
    acceptJson: true
  }).pipe(Effect.flatMap(HttpClientResponse.filterStatusOk), Effect.flatMap((response) => response.json))
  yield* Console.log(devices)
})

NodeRuntime.runMain(program.pipe(Effect.provide(Layer.merge(TokenLive, NodeHttpClient.layerUndici))))

/**
 * The ICEYE flow (../shared/seeds/000): client_credentials with HTTP Basic client authentication,
 * 1-hour tokens renewed 5 minutes before expiry, token requests retried on network faults, one token
 * request at a time however many fibers ask, and on a 401 a new token and one retry.
 *
 *   ICEYE_TOKEN_URL=... ICEYE_CLIENT_ID=... ICEYE_CLIENT_SECRET=... npx tsx --conditions=source scratchpad/iceye.ts
 *
 * Optional: ICEYE_API_URL (default https://platform.iceye.com/api/company/v1/contracts).
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Config, Console, Effect, Layer } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"

// reads ICEYE_TOKEN_URL, ICEYE_CLIENT_ID, ICEYE_CLIENT_SECRET (Basic authentication is the default)
const TokenLive = TokenService.layer().pipe(
  Layer.provide(Grant.clientCredentialsConfig(Config.nested(Grant.clientCredentialsOptionsConfig, "ICEYE"))),
  Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerMemory]),
  Layer.provide(NodeHttpClient.layerUndici)
)

/** GET with the current token; on a 401, drop exactly that token and try once more with a new one. */
const authorizedGet = (url: string) =>
  Effect.gen(function*() {
    const tokens = yield* TokenService.TokenService
    const http = yield* HttpClient.HttpClient
    const send = (token: Token.Token) =>
      http.execute(
        HttpClientRequest.get(url).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.setHeader("authorization", Token.authorizationHeader(token))
        )
      )
    const token = yield* tokens.get
    const response = yield* send(token)
    if (response.status !== 401) return response
    yield* tokens.invalidate(token)
    return yield* send(yield* tokens.get)
  })

const program = Effect.gen(function*() {
  const apiUrl = yield* Config.string("ICEYE_API_URL").pipe(
    Config.withDefault("https://platform.iceye.com/api/company/v1/contracts")
  )
  const contracts = yield* authorizedGet(apiUrl).pipe(
    Effect.flatMap(HttpClientResponse.filterStatusOk),
    Effect.flatMap((response) => response.json)
  )
  yield* Console.log(contracts)
})

NodeRuntime.runMain(program.pipe(Effect.provide(Layer.merge(TokenLive, NodeHttpClient.layerUndici))))

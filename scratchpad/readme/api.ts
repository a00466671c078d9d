// The README's TokenHttpClient example (type-checked with the library; scratchpad/iceye.ts runs one).
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer } from "effect"
import { Grant, TokenHttpClient, TokenService } from "tokenlayer"

// reads ICEYE_TOKEN_URL, ICEYE_CLIENT_ID, ICEYE_CLIENT_SECRET (HTTP Basic client authentication);
// renewed 5 minutes before expiry, transient failures retried, kept in memory: the defaults
const TokenLive = TokenService.layer().pipe(
  Layer.provide(Grant.clientCredentialsConfig(Config.nested(Grant.clientCredentialsOptionsConfig, "ICEYE")))
)

// the program's HttpClient adds the token to every request and retries once after a 401;
// the grant asks for tokens with the plain client underneath
const ApiClientLive = TokenHttpClient.layer.pipe(
  Layer.provide(TokenLive),
  Layer.provide(NodeHttpClient.layerUndici)
)

const program = Effect.gen(function*() {
  const http = yield* HttpClient.HttpClient
  const response = yield* http.get("https://platform.iceye.com/api/company/v1/contracts")
  yield* Console.log(yield* response.json)
})

NodeRuntime.runMain(program.pipe(Effect.provide(ApiClientLive)))

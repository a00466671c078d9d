// The README's file store example (type-checked with the library).
// contracts.ts: lists contracts. Run it as often as you like: it asks the token endpoint once per
// token lifetime, not once per run.
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Grant, RefreshPolicy, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"

// TOKEN_URL, CLIENT_ID and CLIENT_SECRET from the environment
const TokenLive = TokenService.layer().pipe(
  Layer.provide(Grant.clientCredentialsConfig()),
  // tokens in $XDG_STATE_HOME/tokenlayer, by default ~/.local/state/tokenlayer
  Layer.provide([RefreshPolicy.fixed("1 minute"), TokenStore.layerFile()]),
  Layer.provide(NodeHttpClient.layerUndici)
)

const program = Effect.gen(function*() {
  const api = yield* TokenHttpClient.authorize(yield* HttpClient.HttpClient)
  const response = yield* api.get("https://api.example.com/contracts")
  yield* Console.log(yield* response.text)
})

NodeRuntime.runMain(program.pipe(Effect.provide([TokenLive, NodeHttpClient.layerUndici])))

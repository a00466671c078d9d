// The README's "From Effect.runPromise" example.
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { Grant, Token, TokenService } from "tokenlayer"

const TokenLive = TokenService.layer().pipe(
  Layer.provide(Grant.clientCredentials({
    tokenUrl: "https://auth.example.com/oauth2/token",
    clientId: "my-client",
    clientSecret: Redacted.make(process.env.CLIENT_SECRET ?? "")
  })),
  Layer.provide(NodeHttpClient.layerUndici)
)

// one runtime for the program's life: the service, its cache and its connections live in it
const runtime = ManagedRuntime.make(TokenLive)
const tokens = await runtime.runPromise(TokenService.TokenService)
const header = Token.authorizationHeader(await Effect.runPromise(tokens.get)) // "Bearer ..."
console.log(header.slice(0, 7))
await runtime.dispose()

import { NodeHttpClient } from "@effect/platform-node"
import { Console, DateTime, Effect, Layer, Redacted } from "effect"
import { Grant, TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

// a real OAuth 2.0 server on 127.0.0.1, so this runs without an account anywhere
const Server = AuthServer.layer({ clients: [{ id: "my-app", secret: "s3cret", tokenLifetime: "1 hour" }] })

// the token service needs a grant and an HttpClient; renewal, retries and the store have defaults
const Tokens = Layer.unwrapEffect(
  Effect.map(AuthServer.AuthServer, (server) =>
    TokenService.layer().pipe(Layer.provide(Grant.clientCredentials({
      tokenUrl: server.tokenUrl,
      clientId: "my-app",
      clientSecret: Redacted.make("s3cret")
    }))))
)

const program = Effect.gen(function*() {
  const first = yield* TokenService.get // one token request
  const second = yield* TokenService.get // the same token, from memory, until 5 minutes before expiry
  const expires = first.expiresAt ? DateTime.formatIso(first.expiresAt) : "never"
  yield* Console.log(`${first.tokenType} token, expires ${expires}, reused: ${first === second}`)
  yield* Console.log(`token requests: ${(yield* AuthServer.stats).tokenRequests}`)
})

Effect.runPromise(
  program.pipe(Effect.provide(Tokens.pipe(Layer.provideMerge(Server))), Effect.provide(NodeHttpClient.layerUndici))
)

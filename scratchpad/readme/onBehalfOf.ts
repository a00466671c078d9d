// The README's on-behalf-of example: a service's own token (client credentials) is the subject of an
// exchange for a downstream API's token; renewing the downstream token renews the service's first
// (test/ReadmeExchange.test.ts runs it against AuthServer).
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { Grant, TokenService, TokenSource } from "tokenlayer"

const tokenUrl = process.env.TOKEN_URL ?? "https://auth.example.com/oauth2/token"

const OwnTokens = TokenService.layer().pipe(
  Layer.provide(Grant.clientCredentials({
    tokenUrl,
    clientId: "orders",
    clientSecret: Redacted.make(process.env.ORDERS_SECRET ?? "")
  }))
)

export const DownstreamTokens = Layer.unwrapEffect(
  Effect.map(TokenSource.fromTokenService(TokenService.TokenService), (subject) =>
    TokenService.layer().pipe(
      Layer.provide(Grant.tokenExchange({
        tokenUrl,
        clientId: "orders",
        clientSecret: Redacted.make(process.env.ORDERS_SECRET ?? ""),
        subject, // the exchanged token expires no later than this one
        audience: "billing"
      }))
    ))
).pipe(Layer.provide(OwnTokens), Layer.provide(NodeHttpClient.layerUndici))

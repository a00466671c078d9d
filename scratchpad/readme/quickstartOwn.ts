// The quick start's second step: the same service against your own authorization server.
import { Layer, Redacted } from "effect"
import { Grant, TokenService } from "tokenlayer"

const Tokens = TokenService.layer().pipe(Layer.provide(Grant.clientCredentials({
  tokenUrl: "https://auth.example.com/oauth2/token",
  clientId: "my-client",
  clientSecret: Redacted.make(process.env.CLIENT_SECRET ?? "")
})))

export { Tokens }

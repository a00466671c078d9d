// What the README's fragments build on (type-checked with the library).
import { NodeHttpClient } from "@effect/platform-node"
import { Layer, Redacted } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenStore } from "tokenlayer"

export const BillingDeps = Layer.mergeAll(
  Grant.clientCredentials({
    tokenUrl: "https://billing.example.com/oauth/token",
    clientId: "billing",
    clientSecret: Redacted.make(process.env.BILLING_SECRET ?? "")
  }),
  RefreshPolicy.fixed("1 minute"),
  RetryPolicy.layerDefault,
  TokenStore.layerMemory
).pipe(Layer.provide(NodeHttpClient.layerUndici))

export const TokenLive = TokenService.layer().pipe(Layer.provide(BillingDeps))

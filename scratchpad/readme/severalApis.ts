// The README's "Several APIs at once" example.
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer, Redacted } from "effect"
import { Grant, TokenHttpClient, TokenService } from "tokenlayer"

// one Tag per API, each a token service of its own
class BillingTokens extends Context.Tag("app/BillingTokens")<BillingTokens, TokenService.Service>() {}
class ShippingTokens extends Context.Tag("app/ShippingTokens")<ShippingTokens, TokenService.Service>() {}

const BillingTokensLive = Layer.scoped(BillingTokens, TokenService.make()).pipe(
  Layer.provide(Grant.clientCredentials({
    tokenUrl: "https://billing.example.com/oauth/token",
    clientId: "billing",
    clientSecret: Redacted.make(process.env.BILLING_SECRET ?? "")
  }))
)
const ShippingTokensLive = Layer.scoped(ShippingTokens, TokenService.make()).pipe(
  Layer.provide(Grant.clientCredentials({
    tokenUrl: "https://shipping.example.com/token",
    clientId: "shipping",
    clientSecret: Redacted.make(process.env.SHIPPING_SECRET ?? "")
  }))
)

const program = Effect.gen(function*() {
  const http = yield* HttpClient.HttpClient
  const billing = TokenHttpClient.authorize(http, yield* BillingTokens)
  const shipping = TokenHttpClient.authorize(http, yield* ShippingTokens)
  const invoices = yield* billing.get("https://billing.example.com/api/invoices")
  const parcels = yield* shipping.get("https://shipping.example.com/api/parcels")
  console.log(invoices.status, parcels.status)
})

program.pipe(
  Effect.provide(Layer.mergeAll(BillingTokensLive, ShippingTokensLive)),
  Effect.provide(NodeHttpClient.layerUndici),
  NodeRuntime.runMain
)

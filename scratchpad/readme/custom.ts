// The README's Grant.custom example: a grant tokenlayer does not ship (type-checked with the library;
// test/CustomGrant.test.ts runs one against a token exchange endpoint).
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Redacted } from "effect"
import { Grant, TokenHttpClient, TokenService } from "tokenlayer"

// RFC 8693 token exchange: the workload's own token traded for one for the billing API
const BillingTokens = TokenService.layer().pipe(
  Layer.provide(Grant.custom({
    grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
    tokenUrl: "https://auth.example.com/oauth2/token",
    clientId: "gateway",
    clientSecret: Redacted.make(process.env.GATEWAY_SECRET ?? ""),
    params: {
      subject_token: Redacted.make(process.env.WORKLOAD_TOKEN ?? ""), // sent, never logged
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      audience: "billing"
    },
    key: { audience: "billing" } // what tells these tokens apart; never a secret
  })),
  Layer.provide(NodeHttpClient.layerUndici)
)

const program = Effect.gen(function*() {
  const api = yield* TokenHttpClient.authorize(yield* HttpClient.HttpClient)
  const response = yield* api.get("https://billing.example.com/invoices")
  yield* Console.log(response.status)
})

NodeRuntime.runMain(program.pipe(Effect.provide([BillingTokens, NodeHttpClient.layerUndici])))

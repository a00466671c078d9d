// The README's "Several APIs at once" fragment.
/* eslint-disable @effect/dprint -- the fragment below stays as the README shows it */
import { BillingDeps } from "./tokenLive.js"
import { Context, Layer } from "effect"
import { TokenService } from "tokenlayer"

class BillingTokens extends Context.Tag("app/BillingTokens")<BillingTokens, TokenService.Service>() {}
const BillingTokensLive = Layer.scoped(BillingTokens, TokenService.make()).pipe(Layer.provide(BillingDeps))

export { BillingTokens, BillingTokensLive }

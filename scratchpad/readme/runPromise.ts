// The README's "From Effect.runPromise" fragment.
/* eslint-disable @effect/dprint -- the fragment below stays as the README shows it */
import { TokenLive } from "./tokenLive.js"
import { Effect, ManagedRuntime } from "effect"
import { Token, TokenService } from "tokenlayer"

const runtime = ManagedRuntime.make(TokenLive)
const tokens = await runtime.runPromise(TokenService.TokenService)
const header = Token.authorizationHeader(await Effect.runPromise(tokens.get)) // "Bearer ..."
// ...
await runtime.dispose()

export { header }

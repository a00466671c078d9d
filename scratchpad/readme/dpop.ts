// The README's DPoP example (run by test/ReadmeDPoP.test.ts against a DPoP server on 127.0.0.1).
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import type { Redacted } from "effect"
import { Effect, Layer } from "effect"
import { DPoP, Grant, TokenHttpClient, TokenService } from "tokenlayer"

export const ApiLive = (tokenUrl: string, clientSecret: Redacted.Redacted<string>) => {
  // one key pair (ES256), made when the layer starts; give `key` to use your own
  const Tokens = TokenService.layer().pipe(
    Layer.provide(Grant.clientCredentials({ tokenUrl, clientId: "my-client", clientSecret })),
    // the grant's token requests carry DPoP proofs; provideMerge hands the same key to the API client
    Layer.provideMerge(DPoP.layer({ requireBinding: true })),
    Layer.provideMerge(NodeHttpClient.layerUndici)
  )
  // every request: Authorization: DPoP <token>, and a new proof with the token's hash (ath)
  return TokenHttpClient.layer.pipe(Layer.provide(Tokens))
}

export const contracts = (url: string) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const response = yield* http.get(url)
    return yield* response.json
  })
